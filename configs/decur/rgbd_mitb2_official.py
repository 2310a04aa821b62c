# rgbd_mitb2.py with the official DeCUR code's training objective, for comparing
# with or continuing from the released checkpoints (see README, "Official
# semantics"): one projector shared by both modalities, the loss weighted
# (L_M1 + L_M2 + (L_com + L_uni) / 2) / 3, the cross-modal term on the first
# views only. Its bugs are not reproduced: correlations are still divided by
# the global batch, and every BatchNorm sees the global batch.
_base_ = './rgbd_mitb2.py'
model = dict(
    share_projector=True,
    loss=dict(loss_weights='official', cross_views='first'))

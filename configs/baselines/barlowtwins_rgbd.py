# Cross-modal Barlow Twins on SUN-RGBD RGB + HHA (DeCUR's "Barlow Twins" row):
# configs/decur/rgbd_rn50.py with the Barlow Twins loss between the modalities'
# first views, i.e. DeCUR without decoupling and without the intra-modal terms.
# Same data, encoders, projectors, schedule and lambda.
_base_ = '../decur/rgbd_rn50.py'
model = dict(
    type='BarlowTwins',
    loss=dict(
        _delete_=True, type='BarlowTwinsLoss', lambd=_base_.model.loss.lambd))

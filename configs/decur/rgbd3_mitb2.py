# DeCUR on SUN-RGBD with three modalities, RGB + HHA + raw depth (CMX
# release, train.txt), MiT-B2 encoders (the depth one with in_channels=1,
# from the data preprocessor): everything else as rgbd_mitb2.py (4 GPUs x 32,
# 200 epochs, AdamW, Kc = 75 % of 8192). The loss takes every modality pair.
#   tools/dist_train.sh configs/decur/rgbd3_mitb2.py 4
_base_ = [
    '../_base_/models/decur_mitb2.py',
    '../_base_/datasets/sunrgbd_pretrain_rgb_hha_depth.py',
    '../_base_/schedules/adamw_coslr_200e.py',
    '../_base_/default_runtime.py',
]
# As rgbd_mitb2.py: the official SUN-RGBD runs use AdamW's weight decay 1e-4.
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))

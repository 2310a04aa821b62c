# DeCUR on SUN-RGBD (RGB + HHA) with MiT-B2 encoders: 4 GPUs x 32, 200 epochs,
# AdamW, Kc = 75 % of 8192 = 6144 common dimensions.
#   tools/dist_train.sh configs/decur/rgbd_mitb2.py 4
_base_ = [
    '../_base_/models/decur_mitb2.py',
    '../_base_/datasets/sunrgbd_pretrain.py',
    '../_base_/schedules/adamw_coslr_200e.py',
    '../_base_/default_runtime.py',
]
# The official SUN-RGBD runs use AdamW's weight decay 1e-4.
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))

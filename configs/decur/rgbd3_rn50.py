# DeCUR on SUN-RGBD with three modalities, RGB + HHA + raw depth (CMX
# release, train.txt), ResNet-50 encoders (the depth one with in_channels=1,
# from the data preprocessor): everything else as rgbd_rn50.py (4 GPUs x 32,
# 200 epochs, LARS). The loss takes every modality pair. Transfer it with
# configs/fcn/fcn_rn50_{sunrgbd,nyudv2}_rgb_hha_depth.py.
#   tools/dist_train.sh configs/decur/rgbd3_rn50.py 4
_base_ = [
    '../_base_/models/decur_resnet50.py',
    '../_base_/datasets/sunrgbd_pretrain_rgb_hha_depth.py',
    '../_base_/schedules/lars_coslr_200e.py',
    '../_base_/default_runtime.py',
]

# DeCUR on SUN-RGBD (RGB + HHA) with ResNet-50 encoders (for FCN transfer):
# 4 GPUs x 32, 200 epochs, Barlow Twins' LARS protocol.
_base_ = [
    '../_base_/models/decur_resnet50.py',
    '../_base_/datasets/sunrgbd_pretrain.py',
    '../_base_/schedules/lars_coslr_200e.py',
    '../_base_/default_runtime.py',
]

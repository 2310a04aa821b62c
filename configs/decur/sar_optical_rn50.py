# DeCUR on SSL4EO-S12, SAR (S1 VV, VH) + optical (S2 L1C, 13 bands), ResNet-50
# encoders: Kc = 87.5 % of 8192 = 7168, 100 epochs, 4 GPUs x 64 = 256,
# Barlow Twins' LARS protocol (what the released weights used).
#   tools/dist_train.sh configs/decur/sar_optical_rn50.py 4
_base_ = [
    '../_base_/models/decur_resnet50.py',
    '../_base_/datasets/ssl4eo_s12.py',
    '../_base_/schedules/lars_coslr_100e.py',
    '../_base_/default_runtime.py',
]
model = dict(loss=dict(common_ratio=0.875))

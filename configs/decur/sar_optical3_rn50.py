# DeCUR on SSL4EO-S12 with three modalities, SAR (S1 VV, VH) + optical L1C
# (13 bands) + optical L2A (12 bands): one ResNet-50 and one projector per
# modality (in_channels 2, 13, 12 from the data preprocessor); the loss
# takes every modality pair and every modality's intra-modal term. Schedule
# and batch as sar_optical_rn50.py; Kc = 87.5 % is its SAR-optical ratio,
# not tuned for three modalities.
# The S2 L2A statistics must be computed first (no official ones exist):
#   python tools/misc/compute_band_stats.py configs/decur/sar_optical3_rn50.py
#   tools/dist_train.sh configs/decur/sar_optical3_rn50.py 4
_base_ = [
    '../_base_/models/decur_resnet50.py',
    '../_base_/datasets/ssl4eo_s12_3mod.py',
    '../_base_/schedules/lars_coslr_100e.py',
    '../_base_/default_runtime.py',
]
model = dict(loss=dict(common_ratio=0.875))

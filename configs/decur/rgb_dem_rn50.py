# DeCUR on GeoNRW 250 px patches (tools/dataset_converters/geonrw_tiles.py),
# RGB + DEM (1 band), ResNet-50 encoders: Kc = 75 % of 8192 = 6144,
# 100 epochs, 4 GPUs x 64 = 256, Barlow Twins' LARS protocol.
_base_ = [
    '../_base_/models/decur_resnet50.py',
    '../_base_/datasets/geonrw_pretrain.py',
    '../_base_/schedules/lars_coslr_100e.py',
    '../_base_/default_runtime.py',
]

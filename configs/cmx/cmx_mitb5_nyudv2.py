# CMX-B5 on NYUDv2 (the paper: 56.9 -> 57.3 mIoU with DeCUR): MiT-B5 RGB and X
# streams with per-stage rectification and fusion, CMX's recipe (AdamW 6e-5,
# 10 warm-up epochs, poly 0.9, batch 8, CMX's scale/crop/flip).
# Transfer DeCUR weights: convert the pretraining checkpoint for this config,
#   python tools/model_converters/decur_to_downstream.py PRETRAIN.pth \
#       configs/cmx/cmx_mitb5_nyudv2.py decur_init.pth
# then train with --cfg-options load_from=decur_init.pth.
_base_ = [
    '../_base_/models/cmx_mitb2.py',
    '../_base_/datasets/nyudv2_seg.py',
    '../_base_/schedules/cmx_adamw_poly_500e.py',
    '../_base_/seg_runtime.py',
]
model = dict(
    backbone=dict(arch='b5'),
    decode_head=dict(num_classes=_base_.num_classes),
    test_cfg=dict(mode='slide', crop_size=(480, 640), stride=(320, 427)))

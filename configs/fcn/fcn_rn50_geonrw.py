# The paper's multimodal FCN on GeoNRW: ResNet-50 RGB and DEM encoders,
# features of stages 2-4 concatenated, fine-tuned on 100 % of the labels.
# Transfer DeCUR weights: convert the pretraining checkpoint for this config,
#   python tools/model_converters/decur_to_downstream.py PRETRAIN.pth \
#       configs/fcn/fcn_rn50_geonrw.py decur_init.pth
# then train with --cfg-options load_from=decur_init.pth.
_base_ = [
    '../_base_/models/fcn_rn50_multimodal.py',
    '../_base_/datasets/geonrw_seg.py',
    '../_base_/schedules/seg_adamw_30e.py',
    '../_base_/seg_runtime.py',
]
model = dict(
    decode_head=dict(num_classes=_base_.num_classes))

# The paper's multimodal FCN on NYUDv2: ResNet-50 RGB and HHA encoders,
# features of stages 2-4 concatenated, fine-tuned on 100 % of the labels.
# Transfer DeCUR weights: convert the pretraining checkpoint for this config,
#   python tools/model_converters/decur_to_downstream.py PRETRAIN.pth \
#       configs/fcn/fcn_rn50_nyudv2.py decur_init.pth
# then train with --cfg-options load_from=decur_init.pth.
_base_ = [
    '../_base_/models/fcn_rn50_multimodal.py',
    '../_base_/datasets/nyudv2_seg.py',
    '../_base_/schedules/seg_adamw_30e.py',
    '../_base_/seg_runtime.py',
]
model = dict(
    decode_head=dict(num_classes=_base_.num_classes),
    test_cfg=dict(mode='slide', crop_size=(480, 640), stride=(320, 427)))

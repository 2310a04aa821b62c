# DeCUR SAR-optical transfer on BigEarthNet-MM: late fusion of the SAR (S1)
# and optical (S2) ResNet-50 encoders, fine-tuned end to end on 100 % of the
# training labels. Encoders from the DeCUR SSL4EO-S12 checkpoint
# (configs/decur/sar_optical_rn50.py; another one with
# --cfg-options model.init_cfg.checkpoint=PATH).
#   tools/dist_train.sh configs/bigearthnet/late_fusion_rn50_finetune.py 4
#   python tools/test.py configs/bigearthnet/late_fusion_rn50_finetune.py \
#       work_dirs/late_fusion_rn50_finetune/best_*.pth --out mAP.json
_base_ = [
    '../_base_/models/late_fusion_rn50.py',
    '../_base_/datasets/bigearthnet.py',
    '../_base_/schedules/sgd_step_100e.py',
    '../_base_/default_runtime.py',
]
# The best checkpoint by micro mAP on the val split; report the test split.
default_hooks = dict(
    checkpoint=dict(save_best='val-split/mAP_micro', rule='greater'))

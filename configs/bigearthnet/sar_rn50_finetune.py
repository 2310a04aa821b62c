# SAR only: the S1 (VV, VH) ResNet-50 encoder of the DeCUR checkpoint -> one
# linear layer, fine-tuned on 100 % of the labels. The S2 files are not read.
_base_ = './late_fusion_rn50_finetune.py'
model = dict(modalities=['s1'])
load_sar = dict(_base_.load, modalities=dict(s1=_base_.load_s1))
train_pipeline = [load_sar] + _base_.train_pipeline[1:]
test_pipeline = [load_sar] + _base_.test_pipeline[1:]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

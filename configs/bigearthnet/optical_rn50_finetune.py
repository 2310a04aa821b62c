# Optical only: the S2 (13 bands, zero B10) ResNet-50 encoder of the DeCUR
# checkpoint (its 's2c' encoder) -> one linear layer, fine-tuned on 100 % of
# the labels. The S1 files are not read.
_base_ = './late_fusion_rn50_finetune.py'
model = dict(modalities=['s2'])
load_optical = dict(_base_.load, modalities=dict(s2=_base_.load_s2))
train_pipeline = [load_optical] + _base_.train_pipeline[1:]
test_pipeline = [load_optical] + _base_.test_pipeline[1:]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))

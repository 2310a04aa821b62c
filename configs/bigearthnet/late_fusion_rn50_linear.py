# late_fusion_rn50_finetune.py as linear probing: the pretrained encoders and
# their BatchNorm statistics stay fixed, only the linear layer trains.
_base_ = './late_fusion_rn50_finetune.py'
model = dict(frozen=True)

# optical_rn50_finetune.py as linear probing.
_base_ = './optical_rn50_finetune.py'
model = dict(frozen=True)

# sar_rn50_finetune.py as linear probing, at the official S1 learning rate
# 0.5.
_base_ = './sar_rn50_finetune.py'
model = dict(frozen=True)
optim_wrapper = dict(optimizer=dict(lr=0.5))

# sar_rn50_finetune.py on a deterministic 1 % of the training labels.
_base_ = './sar_rn50_finetune.py'
train_dataloader = dict(dataset=dict(label_fraction=0.01, subset_seed=0))

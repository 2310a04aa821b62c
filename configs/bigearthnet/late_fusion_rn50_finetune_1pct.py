# late_fusion_rn50_finetune.py on a deterministic 1 % of the training labels
# (nested in larger fractions with the same subset_seed).
_base_ = './late_fusion_rn50_finetune.py'
train_dataloader = dict(dataset=dict(label_fraction=0.01, subset_seed=0))

# optical_rn50_linear.py on a deterministic 1 % of the training labels.
_base_ = './optical_rn50_linear.py'
train_dataloader = dict(dataset=dict(label_fraction=0.01, subset_seed=0))

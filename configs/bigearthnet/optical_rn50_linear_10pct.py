# optical_rn50_linear.py on a deterministic 10 % of the training labels.
_base_ = './optical_rn50_linear.py'
train_dataloader = dict(dataset=dict(label_fraction=0.1, subset_seed=0))

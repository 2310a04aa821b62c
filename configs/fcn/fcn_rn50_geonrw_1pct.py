# fcn_rn50_geonrw.py on a deterministic 1 % of the training
# labels (nested in larger fractions with the same subset_seed).
_base_ = './fcn_rn50_geonrw.py'
train_dataloader = dict(dataset=dict(label_fraction=0.01, subset_seed=0))

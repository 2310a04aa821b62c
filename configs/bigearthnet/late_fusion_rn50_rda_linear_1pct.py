# late_fusion_rn50_rda_linear.py on a deterministic 1 % of the training
# labels.
_base_ = './late_fusion_rn50_rda_linear.py'
train_dataloader = dict(dataset=dict(label_fraction=0.01, subset_seed=0))

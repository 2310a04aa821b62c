# cmx_mitb2_geonrw.py on a deterministic 1 % of the training labels.
_base_ = './cmx_mitb2_geonrw.py'
train_dataloader = dict(dataset=dict(label_fraction=0.01, subset_seed=0))

# cmx_mitb2_sunrgbd.py on a deterministic 1 % of the training labels.
_base_ = './cmx_mitb2_sunrgbd.py'
train_dataloader = dict(dataset=dict(label_fraction=0.01, subset_seed=0))

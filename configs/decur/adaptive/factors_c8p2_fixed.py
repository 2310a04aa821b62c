# DeCUR on the synthetic factor dataset with the true, fixed split: per
# modality one common factor with 8 levels and one private factor with 2;
# the common fraction is (8 - 1) / (8 * 2 - 1) = 7/15 = 0.467 by construction
# (see SyntheticFactorDataset). A small ResNet-18 (8-channel stem) and
# 128-d embeddings: a CPU run of a few minutes. The reference for the
# adaptive run `factors_c8p2_adaptive.py`.
_base_ = [
    '../../_base_/models/decur_resnet18_demo.py',
    '../../_base_/datasets/synthetic_factors.py',
    '../../_base_/schedules/demo_adamw_20e.py',
    '../../_base_/demo_runtime.py',
]
factors = dict(
    num_common_factors=1,
    num_private_factors=1,
    levels=dict(common=8, private=2),
    amplitude=40.)
train_dataloader = dict(dataset=factors)
val_dataloader = dict(dataset=factors)
model = dict(
    backbone=dict(base_channels=8, stem_channels=8),
    projector=dict(hid_channels=128, out_channels=128),
    loss=dict(common_ratio=7 / 15))

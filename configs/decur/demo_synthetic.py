# The embedded demo: DeCUR on the built-in synthetic two-modality dataset,
# on CPU in a few minutes (README's main command). A small ResNet-18 per
# modality, 512-d embeddings with 75 % common dimensions.
_base_ = [
    '../_base_/models/decur_resnet50.py',
    '../_base_/datasets/synthetic.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(depth=18, base_channels=16, stem_channels=16),
    projector=dict(hid_channels=512, out_channels=512))

max_epochs = 20
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=2,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=2,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=max_epochs)
default_hooks = dict(
    logger=dict(interval=8), checkpoint=dict(interval=5, max_keep_ckpts=2))

# The official BigEarthNet transfer schedule: SGD, momentum 0.9, no weight
# decay, 100 epochs, learning rate x 0.1 at epochs 60 and 80, evaluated every
# 10 epochs. Base learning rate 0.1 (the official MM-RDA and ViT S2 scripts;
# the S1 scripts used 0.5). Fused SGD where available (see
# adamw_coslr_100e.py).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='FusedOptimWrapperConstructor',
    optimizer=dict(
        type='SGD', lr=0.1, momentum=0.9, weight_decay=0., fused=True))
max_epochs = 100
param_scheduler = [
    dict(
        type='MultiStepLR',
        by_epoch=True,
        milestones=[60, 80],
        gamma=0.1,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=10)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# The official DeCUR FCN transfer (GeoNRW): AdamW lr 1e-4, weight decay 0.01,
# 30 epochs at a constant learning rate, evaluated every 5 epochs. Fused
# AdamW where available (see adamw_coslr_100e.py).
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='FusedOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.01, fused=True),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0))
param_scheduler = []
max_epochs = 30
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# adamw_coslr_100e.py over 200 epochs.
_base_ = './adamw_coslr_100e.py'
max_epochs = 200
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        eta_min=0.,
        by_epoch=True,
        begin=0,
        end=max_epochs,
        convert_to_iter_based=True),
]
train_cfg = dict(max_epochs=max_epochs)

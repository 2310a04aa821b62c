# fpn_rn50_nyudv2.py shrunk to run in seconds on CPU on the tiny dataset of
# tools/misc/make_tiny_dataset.py (see the README).
_base_ = ['./fpn_rn50_nyudv2.py']
model = dict(
    backbone=dict(encoders=dict(depth=18, base_channels=8, stem_channels=8)),
    decode_head=dict(channels=16),
    test_cfg=dict(crop_size=(32, 32), stride=(16, 16)))
data_root = 'data/tiny_nyudv2'
crop = (32, 32)
data_preprocessor = dict(size=crop)
train_pipeline = _base_.train_pipeline[:3] + [
    dict(_base_.train_pipeline[3], size=crop)
] + _base_.train_pipeline[4:]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))

# GeoNRW RGB + DEM semantic segmentation (10 classes; released 0 =
# unlabeled -> 255 = ignore). Trains on the 250 px patches of
# tools/dataset_converters/geonrw_tiles.py (40 train cities) and evaluates on
# the patches of the 3 test cities (or, with `tiles_test_dataloader`, on the
# full 1000 x 1000 released tiles with sliding windows).
#
# Inherits GeoNRW pretraining for what must agree between pretraining and
# transfer: dataset type, patch root and split, reader (RGB in RGB order, ONE
# float DEM band), the per-sample DEM scaling (1st-99th percentile ->
# [0, 255]; the official transfer code used min-max instead), the
# normalisation (RGB ImageNet, DEM 127.5 / 64), the 224 crop, batch 64 per
# GPU and 8 workers. Training augmentation is the official downstream one:
# RandomResizedCrop 224, scale (0.2, 1), then horizontal flip, with one draw
# shared by RGB, DEM and label (images bilinear, label nearest; the official
# code resampled everything nearest). Unlike the official code, the test set
# is NOT augmented.
_base_ = './geonrw_pretrain.py'

num_classes = 10
test_data_root = 'data/geonrw'

data_preprocessor = dict(
    type='MultiModalSegDataPreProcessor',
    size=(_base_.crop_size, _base_.crop_size),
    pad_val=0,
    seg_pad_val=255)  # modalities (mean/std): from geonrw_pretrain.py

load_images = _base_.train_pipeline[0]  # LoadModalities, rgb + dem
load_label = dict(
    type='LoadSegLabel', reduce='geonrw', num_classes=num_classes)
dem_scale = _base_.dem_view[0]  # PercentileScale('dem', 1, 99)
pack = dict(type='PackMultiModalSegInputs')
train_pipeline = [
    load_images,
    load_label,
    dem_scale,
    dict(type='RandomResizedCropND', size=_base_.crop_size, scale=(0.2, 1.0)),
    dict(type='RandomFlipND', prob=0.5, direction='horizontal'),
    pack,
]
test_pipeline = [load_images, load_label, dem_scale, pack]

train_dataloader = dict(
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(with_label=True, pipeline=train_pipeline))
# Evaluation on the 250 px patches of the 3 test cities: the DEM is then
# scaled per patch exactly as in training. `tiles_test_dataloader` evaluates
# the released 1000 px tiles instead (sliding windows; the DEM scaled per
# tile): `--cfg-options test_dataloader=...` or a config that sets it.
val_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=_base_.dataset_type,
        data_root=_base_.data_root,
        split='test',
        layout='patches',
        with_label=True,
        test_mode=True,
        pipeline=test_pipeline))
tiles_test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='pseudo_collate'),
    dataset=dict(
        type=_base_.dataset_type,
        data_root=test_data_root,
        split='test',
        layout='tiles',
        with_label=True,
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

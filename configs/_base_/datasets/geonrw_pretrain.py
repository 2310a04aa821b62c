# GeoNRW RGB + DEM for pretraining, on the 250 px patches of
# tools/dataset_converters/geonrw_tiles.py (16 per tile; the 40 train cities,
# 7298 tiles = 116,768 patches; the test cities are left out). RGB is read in
# RGB order and normalised with ImageNet statistics in that order (the
# official code fed BGR). The DEM is ONE band (ResNet in_channels=1; DeCUR
# repeated it 3 times only for torchvision's conv1), scaled per sample to its
# 1st-99th percentile -> [0, 255] as the first step of its view, the same
# scaling transfer uses; its mean/std assume a roughly uniform spread over
# [0, 255]. Crops are drawn independently per modality and view, as in DeCUR.
dataset_type = 'GeoNRWDataset'
data_root = 'data/geonrw_patches'
crop_size = 224

data_preprocessor = dict(
    type='MultiModalDataPreprocessor',
    modalities=dict(
        rgb=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
        dem=dict(mean=[127.5], std=[64.0]),
    ))

rgb_view = [
    dict(type='RandomResizedCropND', size=crop_size, scale=(0.2, 1.0)),
    dict(type='ColorJitterND', brightness=0.4, contrast=0.4, prob=0.8),
    dict(type='RandomGrayscaleND', prob=0.2),
    dict(type='GaussianBlurND', sigma=(0.1, 2.0), prob=0.5),
    dict(type='SolarizeND', prob=0.2),
    dict(type='RandomFlipND', prob=0.5, direction='horizontal'),
    dict(type='RandomFlipND', prob=0.5, direction='vertical'),
]
dem_view = [
    dict(type='PercentileScale', modalities='dem', low=1, high=99),
    dict(type='RandomResizedCropND', size=crop_size, scale=(0.2, 1.0)),
    dict(type='RandomFlipND', prob=0.5, direction='horizontal'),
    dict(type='RandomFlipND', prob=0.5, direction='vertical'),
]
train_pipeline = [
    dict(
        type='LoadModalities',
        modalities=dict(
            rgb=dict(color_order='rgb', channels=3),
            dem=dict(dtype='float', channels=1))),
    dict(
        type='MultiModalMultiView',
        num_views=2,
        transforms=dict(rgb=rgb_view, dem=dem_view)),
    dict(type='PackMultiModalInputs'),
]

train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        layout='patches',
        with_label=False,
        pipeline=train_pipeline))

# SSL4EO-S12 Sentinel-1 GRD (VV, VH) + Sentinel-2 L1C (13 bands) for DeCUR
# pretraining, released folder layout (data/ssl4eo-s12/{s1,s2c}/<patch>/...).
# Every view of every modality draws its own season (paper: "one random
# season is selected for each image and modality") and its own augmentations
# (no co-registration across modalities). Bands are scaled with DeCUR's
# statistics, (x - (mean - 2 std)) / (4 std) * 255 clipped to uint8, before
# augmenting; the network then sees x / 255 (no further normalisation, as
# officially).
dataset_type = 'SSL4EOS12Dataset'
data_root = 'data/ssl4eo-s12'
modalities = ('s1', 's2c')
crop_size = 224

s1_stats = dict(mean=[-12.548, -20.192], std=[5.257, 5.912])
s2c_stats = dict(
    mean=[
        1605.58, 1390.78, 1314.87, 1363.52, 1549.44, 2091.75, 2371.72, 2299.90,
        2560.30, 830.07, 22.10, 2177.07, 1524.07
    ],
    std=[
        786.79, 850.35, 875.06, 1138.85, 1122.18, 1161.59, 1274.39, 1248.43,
        1345.53, 577.32, 51.15, 1336.10, 1136.54
    ])

data_preprocessor = dict(
    type='MultiModalDataPreprocessor',
    modalities=dict(
        s1=dict(mean=[0.] * 2, std=[255.] * 2),
        s2c=dict(mean=[0.] * 13, std=[255.] * 13),
    ))

# One StatsScale for both: it scales whichever modality the view holds.
stats_scale = dict(
    type='StatsScale', stats=dict(s1=s1_stats, s2c=s2c_stats), num_std=2)
s1_view = [
    stats_scale,
    dict(type='RandomResizedCropND', size=crop_size, scale=(0.2, 1.0)),
    dict(type='RandomGrayscaleND', prob=0.2),
    dict(type='GaussianBlurND', sigma=(0.1, 2.0), prob=0.5),
    dict(type='RandomFlipND', prob=0.5, direction='horizontal'),
    dict(type='RandomFlipND', prob=0.5, direction='vertical'),
]
s2c_view = [
    stats_scale,
    dict(type='RandomResizedCropND', size=crop_size, scale=(0.2, 1.0)),
    dict(type='ColorJitterND', brightness=0.4, contrast=0.4, prob=0.8),
    dict(type='RandomGrayscaleND', prob=0.2),
    dict(type='GaussianBlurND', sigma=(0.1, 2.0), prob=0.5),
    dict(type='SolarizeND', threshold=0.5, prob=0.2),
    dict(type='RandomFlipND', prob=0.5, direction='horizontal'),
    dict(type='RandomFlipND', prob=0.5, direction='vertical'),
]
train_pipeline = [
    dict(
        type='LoadSeasons',
        modalities=modalities,
        num_views=2,
        season='random'),
    dict(
        type='MultiModalMultiView',
        num_views=2,
        transforms=dict(s1=s1_view, s2c=s2c_view)),
    dict(type='PackMultiModalInputs'),
]

train_dataloader = dict(
    batch_size=64,  # x 4 GPUs = 256
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        modalities=modalities,
        pipeline=train_pipeline))

# BigEarthNet-MM v1.0 (Sentinel-1 + Sentinel-2), 19-class multi-label scene
# classification: DeCUR's SAR-optical transfer. Released layout under
# data/bigearthnet (BigEarthNet-v1.0/, BigEarthNet-S1-v1.0/, splits/).
#
# Modalities and band order are those of SSL4EO-S12 pretraining, so that a
# DeCUR checkpoint sees what it was trained on:
# - 's2': 13 bands in SSL4EO-S12's L1C order (B1 ... B9, B10, B11, B12), read
#   at 120 px (20/60 m bands bilinearly upsampled). BigEarthNet is L2A and has
#   no B10: it is a zero band, as in the official transfer. The pretrained
#   encoder is SSL4EO's 's2c' one (model.pretrained_modalities).
# - 's1': VV, VH (SSL4EO-S12 order; the official transfer code fed VH, VV).
# Scaling as in the official transfer: per band (x - (mean - 2 std)) /
# (4 std) * 255 -> uint8 with BigEarthNet statistics (S2: the BigEarthNet
# tools' L2A band statistics; S1: DeCUR's, after clipping each image band to
# its 1st-99th percentiles); the network then sees x / 255, as in
# pretraining. B10 gets mean 2, std 1, which maps its zeros to 0.
# Train: RandomResizedCrop 224 scale (0.8, 1) + horizontal and vertical flips,
# one draw shared by both (co-registered) modalities; test: Resize 256 ->
# CenterCrop 224 (the official val transform).
# Splits: `train_dataloader` = train, `val_dataloader` = the VAL split (what
# the official code reported, metrics prefixed 'val-split'),
# `test_dataloader` = the TEST split (prefix 'test-split', what
# tools/test.py evaluates).
dataset_type = 'BigEarthNetMMDataset'
data_root = 'data/bigearthnet'
crop_size = 224
resize_size = 256

# Band order of BIGEARTHNET_S2_BANDS; B10 maps 0 -> 0. (Tuples for long
# sequences, lists for short ones: MMEngine formats every config dump with
# yapf, which takes ~5x longer on the other choice.)
s2_stats = dict(
    mean=(340.76769064, 429.9430203, 614.21682446, 590.23569706, 950.68368468,
          1792.46290469, 2075.46795189, 2218.94553375, 2266.46036911,
          2246.0605464, 2.0, 1594.42694882, 1009.32729131),
    std=(554.81258967, 572.41639287, 582.87945694, 675.88746967, 729.89827633,
         1096.01480586, 1273.45393088, 1365.45589904, 1356.13789355,
         1302.3292881, 1.0, 1079.19066363, 818.86747235))
s1_stats = dict(mean=(-12.59, -19.22), std=(5.04, 5.42))  # VV, VH

data_preprocessor = dict(
    type='MultiModalDataPreprocessor',
    modalities=dict(
        s1=dict(mean=[0.] * 2, std=[255.] * 2),
        s2=dict(mean=[0.] * 13, std=[255.] * 13),
    ))

load_s1 = dict(size=120, dtype='float')
load_s2 = dict(size=120, interpolation='bilinear', dtype='uint16')
load = dict(type='LoadBands', modalities=dict(s1=load_s1, s2=load_s2))
scale = [
    dict(type='StatsScale', stats=dict(s2=s2_stats), num_std=2),
    dict(
        type='StatsScale',
        stats=dict(s1=s1_stats),
        num_std=2,
        percentile_clip=[1, 99]),
]
pack = dict(
    type='PackMultiModalClsInputs',
    meta_keys=['sample_idx', 's2_name', 's1_name', 'flip', 'flip_direction'])
train_pipeline = [
    load,
    *scale,
    dict(type='RandomResizedCropND', size=crop_size, scale=[0.8, 1.0]),
    dict(type='RandomFlipND', prob=0.5, direction='horizontal'),
    dict(type='RandomFlipND', prob=0.5, direction='vertical'),
    pack,
]
test_pipeline = [
    load,
    *scale,
    dict(type='ResizeND', size=resize_size),
    dict(type='CenterCropND', size=crop_size),
    pack,
]

train_dataloader = dict(
    batch_size=64,  # per GPU, as officially
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        label_fraction=1.0,
        subset_seed=0,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        test_mode=True,
        pipeline=test_pipeline))
test_dataloader = dict(
    val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))

val_evaluator = dict(type='MultiLabelMAP', prefix='val-split')
test_evaluator = dict(type='MultiLabelMAP', prefix='test-split')

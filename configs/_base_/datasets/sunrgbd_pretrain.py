# SUN-RGBD RGB + HHA for pretraining (official layout: sunrgbd_image/*.jpg and
# sunrgbd_hha/<same name>.jpg|png). Both modalities are read in file (RGB)
# channel order and normalised with ImageNet statistics in that order (the
# official code fed BGR with RGB statistics). Crops are drawn independently
# per modality and view, as in DeCUR.
dataset_type = 'SUNRGBDPretrainDataset'
data_root = 'data/sunrgbd'
crop_size = 224

data_preprocessor = dict(
    type='MultiModalDataPreprocessor',
    modalities=dict(
        rgb=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
        hha=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    ))

rgb_view = [
    dict(type='RandomResizedCropND', size=crop_size, scale=(0.5, 1.0)),
    dict(type='ColorJitterND', brightness=0.4, contrast=0.4, prob=0.8),
    dict(type='RandomGrayscaleND', prob=0.2),
    dict(type='GaussianBlurND', sigma=(0.1, 2.0), prob=0.5),
    dict(type='RandomFlipND', prob=0.5, direction='horizontal'),
]
hha_view = [
    dict(type='RandomResizedCropND', size=crop_size, scale=(0.5, 1.0)),
    dict(type='RandomFlipND', prob=0.5, direction='horizontal'),
]
# Raw depth, for the configs with a third modality (RGB + HHA + depth; not
# used here): ONE band, read as stored (uint16 millimetres or uint8), scaled
# per image to the 1st-99th percentile of its measured pixels -> 1..255
# (0 = no measurement, as stored; DepthScale documents a fixed-range
# alternative), in pretraining and transfer alike. Its mean/std assume a
# roughly uniform spread over [0, 255]. Geometric ops only, like HHA.
depth_reader = dict(channels=1)
depth_scale = dict(
    type='DepthScale', modalities='depth', mode='percentile', low=1, high=99)
depth_norm = dict(mean=[127.5], std=[64.0])
depth_view = [depth_scale] + hha_view
train_pipeline = [
    dict(
        type='LoadModalities',
        modalities=dict(
            rgb=dict(color_order='rgb', channels=3),
            hha=dict(color_order='rgb', channels=3))),
    dict(
        type='MultiModalMultiView',
        num_views=2,
        transforms=dict(rgb=rgb_view, hha=hha_view)),
    dict(type='PackMultiModalInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        modality_dirs=dict(rgb='sunrgbd_image', hha='sunrgbd_hha'),
        pipeline=train_pipeline))

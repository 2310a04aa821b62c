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
        rgb_dir='sunrgbd_image',
        depth_dir='sunrgbd_hha',
        pipeline=train_pipeline))

# The built-in synthetic two-modality dataset (no files): 'rgb' (3 bands)
# shows a shape in one of 4 hues, 'depth' (1 band) shows the same shape over
# one of 4 stripe textures. Shape/size/position are common; hue and texture
# are private. Augmentations keep the private factors recoverable (no
# grayscale), so decoupling can be checked against the factor labels.
dataset_type = 'SyntheticMultiModalDataset'
image_size = 32

data_preprocessor = dict(
    type='MultiModalDataPreprocessor',
    modalities=dict(
        rgb=dict(mean=[127.5, 127.5, 127.5], std=[64.0, 64.0, 64.0]),
        depth=dict(mean=[127.5], std=[64.0])))

rgb_view = [
    dict(type='RandomResizedCropND', size=image_size, scale=(0.5, 1.0)),
    dict(type='ColorJitterND', brightness=0.3, contrast=0.3, prob=0.8),
    dict(type='GaussianBlurND', sigma=(0.1, 1.0), prob=0.5),
    dict(type='RandomFlipND', prob=0.5, direction='horizontal'),
]
depth_view = [
    dict(type='RandomResizedCropND', size=image_size, scale=(0.5, 1.0)),
    dict(type='RandomFlipND', prob=0.5, direction='horizontal'),
]
train_pipeline = [
    dict(
        type='MultiModalMultiView',
        num_views=2,
        transforms=dict(rgb=rgb_view, depth=depth_view)),
    dict(type='PackMultiModalInputs'),
]
# Evaluation: one un-augmented view per modality.
test_pipeline = [
    dict(
        type='MultiModalMultiView',
        num_views=1,
        transforms=dict(rgb=[], depth=[])),
    dict(type='PackMultiModalInputs'),
]

train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        num_samples=4096,
        image_size=image_size,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        num_samples=2048,
        image_size=image_size,
        split='val',
        pipeline=test_pipeline))
val_cfg = dict(type='ValLoop')
val_evaluator = dict(type='DecouplingMetric')

# The synthetic factor dataset (no files): modalities 'a' and 'b', 3 bands
# each, rendered from `num_common_factors` shared and `num_private_factors`
# private factors per modality (gratings whose amplitudes are the factors).
# The true common fraction is known by construction (its
# metainfo['true_common_fraction']; see SyntheticFactorDataset): the
# functions of the common factors over all functions of a modality's factors.
dataset_type = 'SyntheticFactorDataset'
image_size = 32
modalities = ('a', 'b')
num_common_factors = 4
num_private_factors = 4

data_preprocessor = dict(
    type='MultiModalDataPreprocessor',
    modalities={m: dict(mean=[127.5] * 3, std=[32.0] * 3)
                for m in modalities})

# Crops and flips keep grating amplitudes; photometric jitter would not.
view = [
    dict(type='RandomResizedCropND', size=image_size, scale=(0.5, 1.0)),
    dict(type='RandomFlipND', prob=0.5, direction='horizontal'),
]
train_pipeline = [
    dict(
        type='MultiModalMultiView',
        num_views=2,
        transforms={m: view
                    for m in modalities}),
    dict(type='PackMultiModalInputs'),
]
test_pipeline = [
    dict(
        type='MultiModalMultiView',
        num_views=1,
        transforms={m: []
                    for m in modalities}),
    dict(type='PackMultiModalInputs'),
]
factor_dataset = dict(
    type=dataset_type,
    modalities=modalities,
    num_common_factors=num_common_factors,
    num_private_factors=num_private_factors,
    image_size=image_size)
train_dataloader = dict(
    batch_size=128,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        factor_dataset,
        num_samples=4096,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        factor_dataset, num_samples=2048, split='val', pipeline=test_pipeline))
val_cfg = dict(type='ValLoop')
val_evaluator = dict(type='DecouplingMetric')

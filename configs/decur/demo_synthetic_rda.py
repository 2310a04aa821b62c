# The embedded demo with DeCUR's residual deformable attention (RDA) after
# layer3 and layer4, sized for the demo's ResNet-18 at 1/4 width (64 and 128
# channels) and 64 px images, so that the deformed sampling points are
# visible (tools/analysis_tools/deform_points.py). CPU, a few minutes.
#   python tools/train.py configs/decur/demo_synthetic_rda.py
_base_ = './demo_synthetic.py'
image_size = 64

# Offset stride 1 at both stages (the paper strides layer3 by 2 at 224 px):
# at 64 px layer3 is a 4x4 map and layer4 a 2x2 one, and a stride of 2 would
# leave too few points to see. rpe_size is the stage map size at image_size.
model = dict(
    backbone=dict(
        rda=dict(
            layer3=dict(
                num_heads=4,
                head_channels=16,
                num_groups=2,
                offset_stride=1,
                offset_kernel_size=3,
                rpe_size=(4, 4)),
            layer4=dict(
                num_heads=8,
                head_channels=16,
                num_groups=2,
                offset_stride=1,
                offset_kernel_size=3,
                rpe_size=(2, 2)))))

max_epochs = 10
# The base pipeline crops to 32 px; the same views at 64 px.
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
train_dataloader = dict(
    dataset=dict(
        num_samples=2048, image_size=image_size, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(num_samples=512, image_size=image_size))
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.1,
        by_epoch=True,
        begin=0,
        end=2,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        by_epoch=True,
        begin=2,
        end=max_epochs,
        convert_to_iter_based=True),
]

# SUN-RGBD with three modalities for pretraining: RGB + HHA + raw depth.
# The official pretraining folders (sunrgbd_pretrain.py) have no raw depth;
# the CMX release does (RGB/<name>.jpg, HHA/<name>.jpg, Depth/<name>.png with
# ONE band), so this reads that layout, restricted to its train.txt (5285
# images: the benchmark's test images stay out of pretraining). RGB and HHA
# are read, augmented and normalised exactly as in sunrgbd_pretrain.py; depth
# uses the pieces defined there (depth_reader, depth_view = DepthScale +
# HHA's geometric ops, depth_norm), which transfer shares. Crops are drawn
# independently per modality and view, as in DeCUR.
_base_ = './sunrgbd_pretrain.py'

data_root = 'data/sunrgbd_cmx'

data_preprocessor = dict(modalities=dict(depth=_base_.depth_norm))

load_images = _base_.train_pipeline[0]
multi_view = _base_.train_pipeline[1]
train_pipeline = [
    dict(
        load_images,
        modalities=dict(load_images.modalities, depth=_base_.depth_reader)),
    dict(
        multi_view,
        transforms=dict(multi_view.transforms, depth=_base_.depth_view)),
    _base_.train_pipeline[2],
]

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        modality_dirs=dict(rgb='RGB', hha='HHA', depth='Depth'),
        split_file='train.txt',
        pipeline=train_pipeline))

# SUN-RGBD RGB + HHA semantic segmentation (37 classes), CMX layout
# (5285 train / 5050 test images of mixed sizes). Everything as NYUDv2
# (nyudv2_seg.py: CMX's scale/crop/flip, uint8 `label - 1`, ImageNet
# normalisation shared with pretraining) except the root, the classes and the
# 480 x 480 crop of CMX-derived SUN-RGBD configs. The pipelines are rebuilt
# from the base's pieces because two of their steps depend on num_classes and
# crop_size (lists are replaced whole by mmengine).
_base_ = './nyudv2_seg.py'

data_root = 'data/sunrgbd_cmx'
classes = 'sunrgbd'
num_classes = 37
crop_size = (480, 480)  # (H, W)

data_preprocessor = dict(size=crop_size)

load_label = dict(_base_.load_label, num_classes=num_classes)
random_crop = dict(_base_.random_crop, size=crop_size)
train_pipeline = [
    _base_.load_images, load_label, _base_.random_scale, random_crop,
    _base_.random_flip, _base_.pack
]
test_pipeline = [_base_.load_images, load_label, _base_.pack]

train_dataloader = dict(
    dataset=dict(
        data_root=data_root, classes=classes, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(data_root=data_root, classes=classes, pipeline=test_pipeline))
test_dataloader = val_dataloader

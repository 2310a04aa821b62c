# fcn_rn50_nyudv2.py with three ResNet-50 encoders: RGB + HHA + raw depth
# (Depth/<name>.png, 1 band, in the NYUDv2 CMX releases that have it). Depth
# is read, scaled and normalised as in pretraining (sunrgbd_pretrain.py:
# depth_reader, depth_scale = per image 1st-99th percentile of the measured
# pixels -> 1..255, 0 = no measurement; depth_norm), scaled BEFORE the shared
# scale/crop/flip, which move all three images and the label together. The
# depth encoder gets in_channels=1 and the head's in_channels follow the three
# encoders (from the data preprocessor). Transfer DeCUR weights of
# configs/decur/rgbd3_rn50.py:
#   python tools/model_converters/decur_to_downstream.py PRETRAIN.pth \
#       configs/fcn/fcn_rn50_nyudv2_rgb_hha_depth.py decur_init.pth
# then train with --cfg-options load_from=decur_init.pth.
_base_ = './fcn_rn50_nyudv2.py'

data_preprocessor = dict(modalities=dict(depth=_base_.depth_norm))
modality_dirs = dict(_base_.modality_dirs, depth='Depth')
load_images = dict(
    _base_.load_images,
    modalities=dict(_base_.load_images.modalities, depth=_base_.depth_reader))
# [load images, load label, depth scaling, (random geometry...,) pack]
train_pipeline = [load_images, _base_.train_pipeline[1], _base_.depth_scale
                  ] + _base_.train_pipeline[2:]
test_pipeline = [load_images, _base_.test_pipeline[1], _base_.depth_scale
                 ] + _base_.test_pipeline[2:]
train_dataloader = dict(
    dataset=dict(modality_dirs=modality_dirs, pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(modality_dirs=modality_dirs, pipeline=test_pipeline))
test_dataloader = val_dataloader

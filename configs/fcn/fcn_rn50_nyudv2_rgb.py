# fcn_rn50_nyudv2.py with the RGB encoder only (the modality-missing setting):
# the HHA files are not even read.
_base_ = './fcn_rn50_nyudv2.py'
model = dict(backbone=dict(modalities=['rgb']))
load_rgb = dict(
    _base_.load_images, modalities=dict(rgb=_base_.load_images.modalities.rgb))
train_pipeline = [load_rgb] + _base_.train_pipeline[1:]
test_pipeline = [load_rgb] + _base_.test_pipeline[1:]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

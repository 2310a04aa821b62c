# Single-modal Barlow Twins on GeoNRW RGB only (DeCUR's "BarlowTwins-RGB"): the
# two views of the RGB patches. configs/decur/rgb_dem_rn50.py with the DEM
# removed from the data path (the DEM files are not read).
_base_ = '../decur/rgb_dem_rn50.py'
rgb_stats = _base_.data_preprocessor.modalities.rgb
data_preprocessor = dict(modalities=dict(_delete_=True, rgb=rgb_stats))
load_images = _base_.train_pipeline[0]
train_pipeline = [
    dict(load_images, modalities=dict(rgb=load_images.modalities.rgb)),
    dict(_base_.train_pipeline[1], transforms=dict(rgb=_base_.rgb_view)),
] + _base_.train_pipeline[2:]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
model = dict(
    type='BarlowTwins',
    loss=dict(
        _delete_=True,
        type='BarlowTwinsLoss',
        pairs='intra',
        lambd=_base_.model.loss.lambd))

# ssl4eo_s12.py with the view augmentations on the model's device. The
# workers read the seasons, scale them to uint8 (StatsScale, which needs the
# full 264 px image) and pack two un-augmented views per modality; the data
# preprocessor then runs the rest of each view pipeline (crop, jitter,
# grayscale, blur, solarize, flips) on whole batches, with the same
# distributions (mmdecur/models/data_preprocessors/batch_augment.py).
# Works unchanged with the LMDB of ssl4eo_s12_lmdb.py (--cfg-options
# train_dataloader.dataset.type=SSL4EOS12LMDBDataset ...data_root=...).
_base_ = './ssl4eo_s12.py'

data_preprocessor = dict(
    batch_augments=dict(
        transforms=dict(s1=_base_.s1_view[1:], s2c=_base_.s2c_view[1:])))

train_pipeline = [
    _base_.train_pipeline[0],  # LoadSeasons
    dict(
        _base_.train_pipeline[1],
        transforms=dict(s1=_base_.s1_view[:1], s2c=_base_.s2c_view[:1])),
    _base_.train_pipeline[-1],
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

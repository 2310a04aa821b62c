# Single-modal Barlow Twins on SSL4EO-S12 SAR only (DeCUR's "BT-SAR"): the two
# views of Sentinel-1 (VV, VH). configs/decur/sar_optical_rn50.py with the
# optical modality removed from the data path: only S1 seasons are listed and
# read, augmented and normalised.
_base_ = '../decur/sar_optical_rn50.py'
modalities = ('s1', )
data_preprocessor = dict(
    modalities=dict(_delete_=True, s1=_base_.data_preprocessor.modalities.s1))
train_pipeline = [
    dict(_base_.train_pipeline[0], modalities=modalities),
    dict(_base_.train_pipeline[1], transforms=dict(s1=_base_.s1_view)),
] + _base_.train_pipeline[2:]
train_dataloader = dict(
    dataset=dict(modalities=modalities, pipeline=train_pipeline))
model = dict(
    type='BarlowTwins',
    loss=dict(
        _delete_=True,
        type='BarlowTwinsLoss',
        pairs='intra',
        lambd=_base_.model.loss.lambd))

# sar_optical_rn50.py with the view augmentations on the GPU: the workers
# read, scale and pack; the data preprocessor crops, jitters, blurs,
# solarizes and flips whole batches with the same distributions (see
# ../_base_/datasets/ssl4eo_s12_gpu_aug.py, whose two overrides are repeated
# here because MMEngine refuses a key set by two bases).
#   tools/dist_train.sh configs/decur/sar_optical_rn50_gpu_aug.py 4
_base_ = './sar_optical_rn50.py'

data_preprocessor = dict(
    batch_augments=dict(
        transforms=dict(s1=_base_.s1_view[1:], s2c=_base_.s2c_view[1:])))
train_dataloader = dict(
    dataset=dict(pipeline=[
        _base_.train_pipeline[0],  # LoadSeasons
        dict(
            _base_.train_pipeline[1],
            transforms=dict(s1=_base_.s1_view[:1], s2c=_base_.s2c_view[:1])),
        _base_.train_pipeline[-1],
    ]))

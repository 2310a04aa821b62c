# demo_synthetic.py with its augmentations on the model's device (batch
# augmentation in the data preprocessor, same distributions; see
# ../_base_/datasets/synthetic_gpu_aug.py, whose two overrides are repeated
# here because MMEngine refuses a key set by two bases).
_base_ = './demo_synthetic.py'

data_preprocessor = dict(
    batch_augments=dict(
        transforms=dict(rgb=_base_.rgb_view, depth=_base_.depth_view)))
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(_base_.train_pipeline[0], transforms=dict(rgb=[], depth=[])),
        _base_.train_pipeline[-1],
    ]))

# synthetic.py with the view augmentations on the model's device: the data
# preprocessor runs the very same view pipelines (rgb_view, depth_view) on
# whole batches after the copy to the device, with the same distributions
# (mmdecur/models/data_preprocessors/batch_augment.py). The workers only
# render the images and pack two un-augmented uint8 views per modality.
_base_ = './synthetic.py'

data_preprocessor = dict(
    batch_augments=dict(
        transforms=dict(rgb=_base_.rgb_view, depth=_base_.depth_view)))

train_pipeline = [
    dict(_base_.train_pipeline[0], transforms=dict(rgb=[], depth=[])),
    _base_.train_pipeline[-1],
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

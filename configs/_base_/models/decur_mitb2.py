# DeCUR with MiT-B2 (mmseg's MixVisionTransformer) encoders: the mean of the
# stage-4 tokens goes through DeCUR's Linear(512 -> 2048) head, then the
# projector.
_base_ = './decur_resnet50.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='MiT',
        arch='b2',
        out_type='pooled',
        pooled_channels=2048,
        drop_path_rate=0.1))

# DeCUR with one ResNet-50 and one projector per modality. The modalities,
# their band counts and normalisation come from the dataset's
# `data_preprocessor`; backbone in_channels and projector in_channels are
# inferred from it and from the backbone.
model = dict(
    type='DeCUR',
    backbone=dict(
        type='ResNet',
        depth=50,
        out_type='pooled',
        # Global batch statistics under DDP, on GPUs and on CPU (gloo).
        norm_cfg=dict(type='GlobalBN')),
    projector=dict(
        type='Projector', hid_channels=8192, out_channels=8192, num_layers=3),
    loss=dict(type='DeCURLoss', common_ratio=0.75, lambd=0.0051),
)

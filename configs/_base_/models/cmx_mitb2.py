# CMX (RGB-X fusion): two MiT-B2 streams (RGB and X, from the dataset's
# data_preprocessor), a feature-rectify and a feature-fusion module per
# stage, CMX's MLP decoder (512 channels). Slide inference is set by the
# dataset configs (crop = training crop, stride 2/3 of it, as CMX).
model = dict(
    type='MultiModalEncoderDecoder',
    backbone=dict(
        type='CMXBackbone',
        arch='b2',
        drop_path_rate=0.1,
        # Global statistics under DDP, as CMX's SyncBN.
        fusion_norm_cfg=dict(type='GlobalBN')),
    decode_head=dict(
        type='CMXMLPHead',
        channels=512,
        dropout_ratio=0.1,
        norm_cfg=dict(type='GlobalBN', eps=1e-3),  # CMX's decoder BN eps
        align_corners=False,
        loss_decode=dict(
            type='mmseg.CrossEntropyLoss', use_sigmoid=False,
            loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

# The paper's multimodal FCN: one ResNet-50 per modality (modalities from the
# dataset's data_preprocessor), the stage-2/3/4 features of all encoders
# concatenated per stage, a 1x1 projection (128/256/512) and a 1x1 classifier
# per stage, logits summed. `decode_head.in_channels` follows the encoders.
model = dict(
    type='MultiModalEncoderDecoder',
    backbone=dict(
        type='MultiModalEncoder',
        encoders=dict(
            type='ResNet',
            depth=50,
            out_indices=(1, 2, 3),
            norm_cfg=dict(type='GlobalBN')),
        frozen=False),
    decode_head=dict(
        type='MultiModalFCNHead',
        stage_channels=(128, 256, 512),
        align_corners=True,
        loss_decode=dict(
            type='mmseg.CrossEntropyLoss', use_sigmoid=False,
            loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

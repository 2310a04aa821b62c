# DeCUR's late-fusion classifier: one ResNet-50 per modality (the modalities
# of the dataset's data_preprocessor, in order; in_channels = their band
# counts), pooled 2048-d features concatenated -> one linear layer, sigmoid
# multi-label outputs. The loss is the official MultiLabelSoftMarginLoss:
# binary cross-entropy with logits averaged over samples AND classes
# (mmpretrain's multi-label head sums over classes, hence the loss weight
# 1 / num_classes). The linear layer starts at N(0, 0.01) with a zero bias, as
# officially.
# `frozen=True` is linear probing (encoders and their BN statistics fixed).
#
# Weights: the DeCUR SSL4EO-S12 checkpoint (modality 1 = SAR 's1', modality
# 2 = optical 's2c') loads through init_cfg; `pretrained_modalities` maps
# BigEarthNet's 's2' to the checkpoint's 's2c' encoder. Train on your own
# pretraining run's checkpoint with
#   --cfg-options model.init_cfg.checkpoint=PATH
num_classes = 19
model = dict(
    type='LateFusionClassifier',
    backbone=dict(type='ResNet', depth=50, out_type='pooled'),
    head=dict(
        type='mmpretrain.MultiLabelLinearClsHead',
        num_classes=num_classes,
        loss=dict(
            type='mmpretrain.CrossEntropyLoss',
            use_sigmoid=True,
            loss_weight=1.0 / num_classes),
        init_cfg=dict(type='Normal', layer='Linear', std=0.01, bias=0.)),
    frozen=False,
    pretrained_modalities=dict(s1='s1', s2='s2c'),
    init_cfg=dict(
        type='Pretrained',
        checkpoint='work_dirs/sar_optical_rn50/epoch_100.pth'))

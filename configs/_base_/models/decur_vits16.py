# DeCUR with ViT-S/16 (timm) encoders; the CLS token (384-d) feeds the
# projector.
_base_ = './decur_resnet50.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='TimmViT',
        arch='vit_small_patch16_224',
        img_size=224,
        out_type='pooled'))

# DeCUR's multimodal ResNet-50 encoders (RGB + HHA) with this project's
# FPNFusionHead on NYUDv2. Everything but the decode head comes from
# mmdecur's FCN config through `_base_`.
_base_ = ['../../../configs/fcn/fcn_rn50_nyudv2.py']
custom_imports = dict(
    imports=['projects.decur_fpn.decur_fpn'], allow_failed_imports=False)
model = dict(
    decode_head=dict(
        _delete_=True,
        type='FPNFusionHead',
        channels=128,
        num_classes=_base_.num_classes,
        norm_cfg=dict(type='GlobalBN'),
        align_corners=False))

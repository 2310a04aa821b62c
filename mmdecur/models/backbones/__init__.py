# Copyright (c) mmdecur contributors. All rights reserved.
from .deform_attn import OFFICIAL_KEY_MAP, DeformableAttention2d
from .mit import MiT
from .resnet import RDA_PAPER_SETTINGS, ResNet
from .vit import TimmViT

__all__ = [
    'DeformableAttention2d', 'OFFICIAL_KEY_MAP', 'ResNet',
    'RDA_PAPER_SETTINGS', 'MiT', 'TimmViT'
]

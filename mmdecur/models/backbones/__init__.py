# Copyright (c) mmdecur contributors. All rights reserved.
from .cmx import CMXBackbone
from .cmx_fusion import FeatureFusionModule, FeatureRectifyModule
from .deform_attn import OFFICIAL_KEY_MAP, DeformableAttention2d
from .mit import MiT
from .multimodal_encoder import MultiModalEncoder
from .resnet import RDA_PAPER_SETTINGS, ResNet
from .vit import TimmViT

__all__ = [
    'DeformableAttention2d', 'OFFICIAL_KEY_MAP', 'ResNet',
    'RDA_PAPER_SETTINGS', 'MiT', 'TimmViT', 'MultiModalEncoder', 'CMXBackbone',
    'FeatureRectifyModule', 'FeatureFusionModule'
]

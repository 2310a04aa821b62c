# Copyright (c) mmdecur contributors. All rights reserved.
from .fpn_fusion_head import FPNFusionHead

__all__ = ['FPNFusionHead']

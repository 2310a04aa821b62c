# Copyright (c) mmdecur contributors. All rights reserved.
from .multimodal import MultiModalDataPreprocessor
from .multimodal_seg import MultiModalSegDataPreProcessor

__all__ = ['MultiModalDataPreprocessor', 'MultiModalSegDataPreProcessor']

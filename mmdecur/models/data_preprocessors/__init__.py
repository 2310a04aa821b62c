# Copyright (c) mmdecur contributors. All rights reserved.
from .multimodal import MultiModalDataPreprocessor

__all__ = ['MultiModalDataPreprocessor']

# Copyright (c) mmdecur contributors. All rights reserved.
from .batch_augment import (BatchAugment, BatchAugmentPipeline,
                            BatchColorJitter, BatchGaussianBlur,
                            BatchRandomFlip, BatchRandomGrayscale,
                            BatchRandomResizedCrop, BatchSolarize)
from .multimodal import MultiModalDataPreprocessor
from .multimodal_seg import MultiModalSegDataPreProcessor

__all__ = [
    'MultiModalDataPreprocessor', 'MultiModalSegDataPreProcessor',
    'BatchAugment', 'BatchAugmentPipeline', 'BatchRandomResizedCrop',
    'BatchRandomFlip', 'BatchColorJitter', 'BatchRandomGrayscale',
    'BatchGaussianBlur', 'BatchSolarize'
]

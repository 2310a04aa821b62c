# Copyright (c) mmdecur contributors. All rights reserved.
from .augment import (ColorJitterND, GaussianBlurND, RandomGrayscaleND,
                      SolarizeND)
from .formatting import PackMultiModalInputs
from .geometric import (CenterCropND, RandomFlipND, RandomResizedCropND,
                        ResizeND)
from .intensity import PercentileScale, StatsScale
from .loading import LoadModalities
from .multiview import MultiModalMultiView, build_pipeline

__all__ = [
    'LoadModalities', 'MultiModalMultiView', 'build_pipeline',
    'RandomResizedCropND', 'RandomFlipND', 'ResizeND', 'CenterCropND',
    'ColorJitterND', 'RandomGrayscaleND', 'GaussianBlurND', 'SolarizeND',
    'PackMultiModalInputs', 'StatsScale', 'PercentileScale'
]

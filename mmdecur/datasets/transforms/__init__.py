# Copyright (c) mmdecur contributors. All rights reserved.
from .augment import (ColorJitterND, GaussianBlurND, RandomGrayscaleND,
                      SolarizeND)
from .formatting import PackMultiModalInputs
from .geometric import (CenterCropND, RandomFlipND, RandomResizedCropND,
                        ResizeND)
from .intensity import PercentileScale, StatsScale
from .loading import LoadBands, LoadModalities, read_bands, read_image
from .multiview import MultiModalMultiView, build_pipeline
from .seasons import *  # noqa: F401,F403
from .seasons import __all__ as _seasons_all

__all__ = [
    'LoadModalities', 'MultiModalMultiView', 'build_pipeline',
    'RandomResizedCropND', 'RandomFlipND', 'ResizeND', 'CenterCropND',
    'ColorJitterND', 'RandomGrayscaleND', 'GaussianBlurND', 'SolarizeND',
    'PackMultiModalInputs', 'StatsScale', 'PercentileScale', 'LoadBands',
    'read_bands', 'read_image'
]
__all__ += _seasons_all

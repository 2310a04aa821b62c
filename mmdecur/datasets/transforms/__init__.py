# Copyright (c) mmdecur contributors. All rights reserved.
from .augment import (ColorJitterND, GaussianBlurND, RandomGrayscaleND,
                      SolarizeND)
from .depth import DepthScale
from .formatting import (PackMultiModalClsInputs, PackMultiModalInputs,
                         PackMultiModalSegInputs)
from .geometric import (CenterCropND, RandomCropND, RandomFlipND,
                        RandomResizedCropND, RandomResizeND, ResizeND)
from .intensity import PercentileScale, StatsScale
from .loading import (LoadBands, LoadModalities, LoadSegLabel,
                      cmx_label_to_train_id, read_bands, read_image)
from .multiview import MultiModalMultiView, build_pipeline
from .seasons import *  # noqa: F401,F403
from .seasons import __all__ as _seasons_all

__all__ = [
    'LoadModalities', 'MultiModalMultiView', 'build_pipeline',
    'RandomResizedCropND', 'RandomFlipND', 'ResizeND', 'CenterCropND',
    'ColorJitterND', 'RandomGrayscaleND', 'GaussianBlurND', 'SolarizeND',
    'PackMultiModalInputs', 'StatsScale', 'PercentileScale', 'DepthScale',
    'LoadBands', 'read_bands', 'read_image', 'LoadSegLabel', 'RandomResizeND',
    'RandomCropND', 'PackMultiModalSegInputs', 'cmx_label_to_train_id',
    'PackMultiModalClsInputs'
]
__all__ += _seasons_all

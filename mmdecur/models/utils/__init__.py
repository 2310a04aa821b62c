# Copyright (c) mmdecur contributors. All rights reserved.
from .distributed import gather_batch, get_world_size, is_distributed
from .global_bn import GlobalBatchNorm
from .shape_check import ShapeCheckedLoadMixin
from .transfer import check_fit, decur_to_downstream, pretrained_modalities

__all__ = [
    'gather_batch', 'get_world_size', 'is_distributed', 'GlobalBatchNorm',
    'check_fit', 'decur_to_downstream', 'pretrained_modalities',
    'ShapeCheckedLoadMixin'
]

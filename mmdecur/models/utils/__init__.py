# Copyright (c) mmdecur contributors. All rights reserved.
from .distributed import gather_batch, get_world_size, is_distributed
from .global_bn import GlobalBatchNorm

__all__ = [
    'gather_batch', 'get_world_size', 'is_distributed', 'GlobalBatchNorm'
]

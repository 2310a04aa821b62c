# Copyright (c) mmdecur contributors. All rights reserved.
from .hooks import *  # noqa: F401,F403
from .model_wrapper import DeviceAgnosticDDP
from .optimizers import LARS, FusedOptimWrapperConstructor, amp_optim_wrapper

__all__ = [
    'DeviceAgnosticDDP', 'LARS', 'FusedOptimWrapperConstructor',
    'amp_optim_wrapper'
]

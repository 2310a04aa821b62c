# Copyright (c) mmdecur contributors. All rights reserved.
from .random_state_hook import RandomStateHook

__all__ = ['RandomStateHook']

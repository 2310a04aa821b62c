# Copyright (c) mmdecur contributors. All rights reserved.
from .hooks import *  # noqa: F401,F403
from .model_wrapper import DeviceAgnosticDDP

__all__ = ['DeviceAgnosticDDP']

# Copyright (c) mmdecur contributors. All rights reserved.
"""Helpers for tests: multi-process (gloo, CPU) runs, tiny configs, loss
recording."""
from .distributed import find_free_port, run_distributed
from .loss_recorder import LossRecorder
from .tiny import DEMO_CONFIG, tiny_demo_options

__all__ = [
    'find_free_port', 'run_distributed', 'DEMO_CONFIG', 'tiny_demo_options',
    'LossRecorder'
]

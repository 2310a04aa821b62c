# Copyright (c) mmdecur contributors. All rights reserved.
"""Helpers for tests: multi-process (gloo, CPU) runs and tiny configs."""
from .distributed import find_free_port, run_distributed
from .tiny import DEMO_CONFIG, tiny_demo_options

__all__ = [
    'find_free_port', 'run_distributed', 'DEMO_CONFIG', 'tiny_demo_options'
]

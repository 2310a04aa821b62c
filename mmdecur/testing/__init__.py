# Copyright (c) mmdecur contributors. All rights reserved.
"""Helpers for tests: multi-process (gloo, CPU) runs."""
from .distributed import find_free_port, run_distributed

__all__ = ['find_free_port', 'run_distributed']

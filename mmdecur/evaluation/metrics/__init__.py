# Copyright (c) mmdecur contributors. All rights reserved.
from .decoupling import DecouplingMetric

__all__ = ['DecouplingMetric']

# Copyright (c) mmdecur contributors. All rights reserved.
from .base import MultiModalSelfSupervisor
from .decur import DeCUR

__all__ = ['MultiModalSelfSupervisor', 'DeCUR']

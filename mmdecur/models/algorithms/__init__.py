# Copyright (c) mmdecur contributors. All rights reserved.
from .barlowtwins import BarlowTwins
from .base import MultiModalSelfSupervisor
from .baseline import BaselineSelfSupervisor
from .clip import CLIP
from .decur import DeCUR
from .simclr import SimCLR
from .vicreg import VICReg

__all__ = [
    'MultiModalSelfSupervisor', 'DeCUR', 'BaselineSelfSupervisor',
    'BarlowTwins', 'SimCLR', 'CLIP', 'VICReg'
]

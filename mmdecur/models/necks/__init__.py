# Copyright (c) mmdecur contributors. All rights reserved.
from .projector import Projector

__all__ = ['Projector']

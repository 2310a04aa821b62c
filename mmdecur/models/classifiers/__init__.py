# Copyright (c) mmdecur contributors. All rights reserved.
from .late_fusion import LateFusionClassifier

__all__ = ['LateFusionClassifier']

# Copyright (c) mmdecur contributors. All rights reserved.
"""mmdecur: DeCUR multimodal self-supervised learning on OpenMMLab."""
from .compat import apply_patches
from .version import __version__

# Before anything imports mmseg or loads a checkpoint (see compat.py).
apply_patches()

__all__ = ['__version__']

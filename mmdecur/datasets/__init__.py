# Copyright (c) mmdecur contributors. All rights reserved.
from . import (base, bigearthnet, errors, geonrw, rgbd, ssl4eo_s12, subsets,
               synthetic, transforms)
from .base import *  # noqa: F401,F403
from .bigearthnet import *  # noqa: F401,F403
from .errors import *  # noqa: F401,F403
from .geonrw import *  # noqa: F401,F403
from .rgbd import *  # noqa: F401,F403
from .ssl4eo_s12 import *  # noqa: F401,F403
from .subsets import *  # noqa: F401,F403
from .synthetic import *  # noqa: F401,F403
from .transforms import *  # noqa: F401,F403

__all__ = (
    base.__all__ + bigearthnet.__all__ + errors.__all__ + geonrw.__all__ +
    rgbd.__all__ + ssl4eo_s12.__all__ + subsets.__all__ + synthetic.__all__ +
    transforms.__all__)

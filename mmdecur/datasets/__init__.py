# Copyright (c) mmdecur contributors. All rights reserved.
from . import bigearthnet, geonrw, ssl4eo_s12, subsets, transforms
from .base import MultiModalDataset  # noqa: F401
from .bigearthnet import *  # noqa: F401,F403
from .errors import (DataFileError, DataProblem, FileContentError,  # noqa
                     MissingFileError, UnreadableFileError)
from .geonrw import *  # noqa: F401,F403
from .rgbd import (NYUDV2_CLASSES, SUNRGBD_CLASSES, RGBXDataset,  # noqa
                   SUNRGBDPretrainDataset)
from .ssl4eo_s12 import *  # noqa: F401,F403
from .subsets import *  # noqa: F401,F403
from .synthetic import SyntheticMultiModalDataset  # noqa: F401
from .transforms import *  # noqa: F401,F403

__all__ = [
    'MultiModalDataset', 'DataFileError', 'DataProblem', 'FileContentError',
    'MissingFileError', 'UnreadableFileError', 'SyntheticMultiModalDataset',
    'SUNRGBDPretrainDataset', 'RGBXDataset', 'NYUDV2_CLASSES',
    'SUNRGBD_CLASSES'
] + (bigearthnet.__all__ + geonrw.__all__ + ssl4eo_s12.__all__ +
     subsets.__all__ + transforms.__all__)

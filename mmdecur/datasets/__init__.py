# Copyright (c) mmdecur contributors. All rights reserved.
from .base import MultiModalDataset
from .bigearthnet import *  # noqa: F401,F403
from .errors import (DataFileError, DataProblem, FileContentError,
                     MissingFileError, UnreadableFileError)
from .geonrw import *  # noqa: F401,F403
from .rgbd import (NYUDV2_CLASSES, SUNRGBD_CLASSES, RGBXDataset,
                   SUNRGBDPretrainDataset)
from .ssl4eo_s12 import *  # noqa: F401,F403
from .subsets import *  # noqa: F401,F403
from .synthetic import SyntheticMultiModalDataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'MultiModalDataset', 'DataFileError', 'DataProblem', 'FileContentError',
    'MissingFileError', 'UnreadableFileError', 'SyntheticMultiModalDataset',
    'SUNRGBDPretrainDataset', 'RGBXDataset', 'NYUDV2_CLASSES',
    'SUNRGBD_CLASSES'
]

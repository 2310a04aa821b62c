# Copyright (c) mmdecur contributors. All rights reserved.
from .rgbd import (NYUDV2_CLASSES, SUNRGBD_CLASSES, RGBXDataset,
                   SUNRGBDPretrainDataset)
from .synthetic import SyntheticMultiModalDataset
from .transforms import *  # noqa: F401,F403

__all__ = [
    'SyntheticMultiModalDataset', 'SUNRGBDPretrainDataset', 'RGBXDataset',
    'NYUDV2_CLASSES', 'SUNRGBD_CLASSES'
]

# Copyright (c) mmdecur contributors. All rights reserved.
from .model import (build_dataloader_from_cfg, init_model, load_config,
                    pin_modality_order)

__all__ = [
    'build_dataloader_from_cfg', 'init_model', 'load_config',
    'pin_modality_order'
]

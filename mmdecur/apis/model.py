# Copyright (c) mmdecur contributors. All rights reserved.
"""Build models and data loaders from configs outside the Runner."""
import copy
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner, load_checkpoint

from mmdecur.registry import MODELS


def load_config(config: Union[str, Config],
                cfg_options: Optional[dict] = None) -> Config:
    """Read a config (path or object), apply overrides, set the scope."""
    cfg = Config.fromfile(config) if isinstance(config,
                                                str) else copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdecur'))
    return cfg


def pin_modality_order(cfg: Config) -> Config:
    """Write the modality order into the config's data preprocessors.

    The order of a data preprocessor's ``modalities`` dict is modality 1,
    2, ... (encoders, fused features, loss pairs), but MMEngine writes a
    config's dicts with sorted keys: a model built from a work dir's copy of
    the config would take the modalities alphabetically, e.g. an FCN's
    features concatenated as (hha, rgb) for a head trained on (rgb, hha).
    This adds ``modality_order`` (a list, which keeps its order) wherever it
    is missing, to the top-level ``data_preprocessor`` and to
    ``model.data_preprocessor``. Call it on the config as written by the
    user, before a Runner writes its copy.

    Args:
        cfg (Config): Modified in place.

    Returns:
        Config: ``cfg``.
    """
    model = cfg.get('model')
    for holder in (cfg, model if isinstance(model, dict) else None):
        preprocessor = holder.get('data_preprocessor') if holder else None
        if (isinstance(preprocessor, dict)
                and isinstance(preprocessor.get('modalities'), dict)
                and preprocessor.get('modality_order') is None):
            preprocessor['modality_order'] = list(preprocessor['modalities'])
    return cfg


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: Union[str, torch.device] = 'cpu',
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build ``cfg.model`` (with the top-level ``data_preprocessor``, as the
    Runner does) and optionally load a checkpoint strictly.

    Args:
        config (str | Config): Config file or object.
        checkpoint (str, optional): Checkpoint to load; every key must match
            (a mismatch raises and names the keys). Defaults to None.
        device (str | torch.device): Defaults to 'cpu'.
        cfg_options (dict, optional): Config overrides. Defaults to None.

    Returns:
        nn.Module: The model in eval mode.
    """
    cfg = load_config(config, cfg_options)
    model_cfg = copy.deepcopy(cfg.model)
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    model.cfg = cfg
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    return model.to(device).eval()


def build_dataloader_from_cfg(config: Union[str, Config],
                              split: str = 'val',
                              **overrides) -> torch.utils.data.DataLoader:
    """Build ``cfg.<split>_dataloader`` with optional overrides (e.g.
    ``batch_size=64, num_workers=0``)."""
    cfg = load_config(config)
    key = f'{split}_dataloader'
    if cfg.get(key) is None:
        raise KeyError(f'the config has no {key}')
    loader_cfg = copy.deepcopy(cfg[key])
    loader_cfg.update(overrides)
    if loader_cfg.get('num_workers', 0) == 0:
        loader_cfg['persistent_workers'] = False
    return Runner.build_dataloader(loader_cfg)

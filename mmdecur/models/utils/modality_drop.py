# Copyright (c) mmdecur contributors. All rights reserved.
"""Modality-missing evaluation: blank out named modalities at test time.

A dropped modality's input is replaced by what the network sees for "no
information": the modality's mean image, which after the data
preprocessor's ``(x - mean) / std`` is **zero** in every band (the
convention of the modality-dropout literature). This holds where the data
preprocessor's ``mean`` is the data's mean (ImageNet statistics for RGB/HHA,
GeoNRW/SUN-RGBD/NYUDv2 here). Where the data are scaled in the pipeline
instead (SSL4EO-S12 / BigEarthNet: ``StatsScale`` maps each band's mean to
0.5 and the preprocessor only divides by 255), give the value explicitly:
``drop_modalities=dict(s1=0.5)``.
"""
from numbers import Number
from typing import Dict, Mapping, Sequence, Tuple, Union

import torch
from torch import Tensor

__all__ = ['parse_drop_modalities', 'blank_modalities']

Fill = Union[float, Tuple[float, ...]]


def parse_drop_modalities(drop, modalities: Sequence[str],
                          owner: str) -> Dict[str, Fill]:
    """Check ``test_cfg.drop_modalities`` against the model's modalities.

    Args:
        drop (str | Sequence[str] | Mapping[str, float | Sequence[float]] |
            None): The modalities to drop, each filled with 0 (the mean
            after normalisation); or modality -> fill value in normalised
            units (one value, or one per band). A single name is one
            modality (``--cfg-options model.test_cfg.drop_modalities=hha``).
        modalities (Sequence[str]): The model's modalities.
        owner (str): Named in errors.

    Returns:
        dict: Modality -> fill value; empty if nothing is dropped.

    Raises:
        KeyError: A modality the model does not have.
        TypeError: A value that is neither names nor a mapping of numbers.
    """
    if drop is None:
        return {}
    if isinstance(drop, str):
        drop = [drop]
    if isinstance(drop, Mapping):
        fills = {}
        for m, value in drop.items():
            if isinstance(value, Number):
                fills[m] = float(value)
            elif isinstance(value, Sequence) and value and all(
                    isinstance(v, Number) for v in value):
                fills[m] = tuple(float(v) for v in value)
            else:
                raise TypeError(
                    f'{owner}: test_cfg.drop_modalities.{m} must be a number '
                    f'or one number per band, got {value!r}')
    elif isinstance(drop, Sequence) and all(isinstance(m, str) for m in drop):
        fills = {m: 0. for m in drop}
    else:
        raise TypeError(f'{owner}: test_cfg.drop_modalities must be modality '
                        f'names or a dict modality -> fill value, got '
                        f'{drop!r}')
    unknown = [m for m in fills if m not in modalities]
    if unknown:
        raise KeyError(f'{owner}: test_cfg.drop_modalities names '
                       f'modality(ies) {unknown} that the model does not have '
                       f'(its modalities: {list(modalities)})')
    return fills


def blank_modalities(inputs: Mapping[str, Tensor],
                     fills: Mapping[str, Fill]) -> Dict[str, Tensor]:
    """``inputs`` with every modality of ``fills`` replaced by its constant
    (per band) image of the same shape; the other tensors are passed through
    as they are.

    Args:
        inputs (Mapping[str, Tensor]): Normalised batches, (B, C, H, W).
        fills (Mapping[str, float | tuple]): From
            :func:`parse_drop_modalities`.

    Returns:
        dict[str, Tensor]: The new inputs.
    """
    out = dict(inputs)
    for m, value in fills.items():
        if m not in out:
            raise KeyError(f'the batch lacks modality {m!r} to drop (got '
                           f'{list(inputs)}); its images set the size of the '
                           'blank input')
        x = out[m]
        if not isinstance(x, Tensor) or x.dim() != 4:
            raise TypeError(f'modality {m!r}: expected a (B, C, H, W) tensor '
                            'to drop')
        if isinstance(value, tuple):
            if len(value) != x.shape[1]:
                raise ValueError(
                    f'test_cfg.drop_modalities.{m}: {len(value)} fill values '
                    f'for {x.shape[1]} bands')
            fill = torch.tensor(value, dtype=x.dtype, device=x.device)
            out[m] = fill.view(1, -1, 1, 1).expand_as(x).clone()
        else:
            out[m] = torch.full_like(x, value)
    return out

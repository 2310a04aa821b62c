# Copyright (c) mmdecur contributors. All rights reserved.
"""Parameter rules shared by the CPU view transforms
(``mmdecur.datasets.transforms``) and their batch versions on the device
(``mmdecur.models.data_preprocessors.batch_augment``), so that both accept,
refuse and fall back exactly alike (models never import datasets)."""
from typing import Optional, Sequence, Tuple, Union

__all__ = [
    'factor_range', 'check_blur_args', 'check_crop_args', 'central_crop_box',
    'check_solarize_threshold'
]


def factor_range(value: Union[float, Sequence[float]],
                 name: str) -> Optional[Tuple[float, float]]:
    """A jitter factor: ``v`` -> ``(max(0, 1 - v), 1 + v)`` (None for 0),
    or an explicit ``(lo, hi)`` with ``0 <= lo <= hi``."""
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f'{name} must be non-negative, got {value}')
        return None if value == 0 else (max(0., 1 - value), 1 + value)
    lo, hi = value
    if not 0 <= lo <= hi:
        raise ValueError(f'{name} range must satisfy 0 <= lo <= hi, got '
                         f'{value!r}')
    return float(lo), float(hi)


def check_blur_args(sigma: Sequence[float],
                    kernel_size: Optional[int]) -> None:
    """Gaussian blur: ``0 < sigma_min <= sigma_max``, odd positive size."""
    if not 0 < sigma[0] <= sigma[1]:
        raise ValueError(f'sigma must satisfy 0 < min <= max, got '
                         f'{sigma!r}')
    if kernel_size is not None and (kernel_size < 1 or kernel_size % 2 == 0):
        raise ValueError(f'kernel_size must be odd and positive, got '
                         f'{kernel_size}')


def check_crop_args(scale: Sequence[float], ratio: Sequence[float]) -> None:
    """Random resized crop: area ``scale`` in (0, 1], aspect ``ratio`` > 0."""
    if not (0 < scale[0] <= scale[1] <= 1):
        raise ValueError(f'scale must satisfy 0 < min <= max <= 1, got '
                         f'{scale!r}')
    if not (0 < ratio[0] <= ratio[1]):
        raise ValueError(f'ratio must satisfy 0 < min <= max, got '
                         f'{ratio!r}')


def central_crop_box(h: int, w: int,
                     ratio: Sequence[float]) -> Tuple[int, int, int, int]:
    """The crop a random resized crop falls back to when no draw fits: the
    central box of the image clamped to the aspect ``ratio`` range.

    Returns:
        tuple[int, int, int, int]: (top, left, crop_h, crop_w).
    """
    in_ratio = w / h
    if in_ratio < ratio[0]:
        crop_w, crop_h = w, int(round(w / ratio[0]))
    elif in_ratio > ratio[1]:
        crop_h, crop_w = h, int(round(h * ratio[1]))
    else:
        crop_h, crop_w = h, w
    return (h - crop_h) // 2, (w - crop_w) // 2, crop_h, crop_w


def check_solarize_threshold(threshold: float) -> float:
    """Solarize threshold: a fraction of the value range, in [0, 1]."""
    if not 0 <= threshold <= 1:
        raise ValueError(f'threshold is a fraction of the value range '
                         f'and must be in [0, 1], got {threshold}')
    return float(threshold)

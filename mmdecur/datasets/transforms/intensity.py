# Copyright (c) mmdecur contributors. All rights reserved.
"""Per-band intensity scaling of raw sensor values to a fixed range.

Remote-sensing bands come as uint16 digital numbers (S2), float dB (S1) or
float metres (DEM). DeCUR maps them to [0, 255] before augmenting, so that
photometric augmentations see a known value range. Each transform acts on
the modalities it is configured for that are present in ``imgs``, so it can
sit in a per-modality view pipeline or before the multi-view step.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmdecur.registry import TRANSFORMS

__all__ = ['StatsScale', 'PercentileScale', 'OUT_RANGES']

OUT_RANGES = dict(uint8=(0., 255.), float32=(0., 1.))


def _finish(unit: np.ndarray, out_dtype: str) -> np.ndarray:
    """[0, 1] float data (NaN allowed) -> the output dtype."""
    unit = np.nan_to_num(unit, nan=0.0, posinf=1.0, neginf=0.0)
    np.clip(unit, 0.0, 1.0, out=unit)
    if out_dtype == 'uint8':
        unit *= 255.0
        return np.rint(unit, out=unit).astype(np.uint8)
    return unit.astype(np.float32, copy=False)


def _full_shape(results: dict, name: str) -> Tuple[int, int]:
    """A modality's loaded (H, W), or its current one if not recorded."""
    ori = results.get('ori_shape')
    if isinstance(ori, dict) and name in ori:
        return tuple(ori[name][:2])
    return results['imgs'][name].shape[:2]


def _check_out_dtype(out_dtype: str) -> str:
    if out_dtype not in OUT_RANGES:
        raise ValueError(f'out_dtype must be one of {list(OUT_RANGES)}, '
                         f'got {out_dtype!r}')
    return out_dtype


@TRANSFORMS.register_module()
class StatsScale(BaseTransform):
    """Map ``[mean - k*std, mean + k*std]`` per band linearly onto [0, 1].

    DeCUR's SSL4EO-S12 normalisation (k = 2)::

        x' = clip((x - (mean - 2 std)) / (4 std), 0, 1)

    then either ``round(255 x')`` as uint8 (``out_dtype='uint8'``, the
    official path) or ``x'`` as float32 (``'float32'``). Non-finite values
    (NaN, ±inf dB of empty SAR pixels) map to 0 (NaN) or the clip bounds.
    Optionally each band is first clipped to its own per-image percentiles
    (the official float S1 path used 1 and 99).

    Data that was already scaled when converted (an SSL4EO-S12 LMDB written
    with ``--prescale``) carries ``results['prescaled'][modality]``, the
    :meth:`spec` it was scaled with: if it equals this transform's and the
    image is still full size, the modality passes unchanged (the conversion
    did exactly this op on the same full image); otherwise a ValueError
    says what differs.

    Args:
        stats (dict): Modality name -> ``dict(mean=[...], std=[...])``, one
            value per band in the data's band order.
        num_std (float): k. Defaults to 2.
        out_dtype (str): ``'uint8'`` or ``'float32'``. Defaults to 'uint8'.
        percentile_clip (tuple, optional): Per-image, per-band
            ``(low, high)`` percentiles applied first. Defaults to None.
    """

    def __init__(self,
                 stats: Dict[str, dict],
                 num_std: float = 2.,
                 out_dtype: str = 'uint8',
                 percentile_clip: Optional[Tuple[float, float]] = None):
        self.stats = {}
        for name, cfg in stats.items():
            mean = np.asarray(cfg['mean'], np.float64)
            std = np.asarray(cfg['std'], np.float64)
            if mean.ndim != 1 or mean.shape != std.shape or (std <= 0).any():
                raise ValueError(
                    f'StatsScale: modality {name!r} needs mean and std with '
                    'one positive std per band')
            self.stats[name] = (mean, std)
        self.num_std = float(num_std)
        self.out_dtype = _check_out_dtype(out_dtype)
        self.percentile_clip = percentile_clip
        self._luts: Dict[tuple, np.ndarray] = {}
        self._specs: Dict[str, dict] = {}

    def spec(self, name: str) -> dict:
        """What this transform does to modality ``name``, JSON-serialisable.

        Args:
            name (str): A configured modality.

        Returns:
            dict: ``type``, ``mean``, ``std``, ``num_std``, ``out_dtype`` and
            ``percentile_clip`` (None or a list).
        """
        if name not in self._specs:
            mean, std = self.stats[name]
            clip = self.percentile_clip
            self._specs[name] = dict(
                type=type(self).__name__,
                mean=mean.tolist(),
                std=std.tolist(),
                num_std=self.num_std,
                out_dtype=self.out_dtype,
                percentile_clip=None
                if clip is None else [float(c) for c in clip])
        return dict(self._specs[name])

    def _lut(self, name: str, dtype: np.dtype) -> np.ndarray:
        """(bands * levels,) table of every output of an integer input."""
        key = (name, dtype.str)
        if key not in self._luts:
            mean, std = self.stats[name]
            levels = np.arange(np.iinfo(dtype).max + 1, dtype=np.float64)
            low = mean - self.num_std * std
            unit = (levels[None] - low[:, None]) / (2 * self.num_std *
                                                    std[:, None])
            self._luts[key] = _finish(unit, self.out_dtype).ravel()
        return self._luts[key]

    def apply(self, name: str, img: np.ndarray, path=None) -> np.ndarray:
        """Scale one HWC image of modality ``name``.

        Args:
            name (str): A configured modality.
            img (np.ndarray): Raw HWC data, one band per mean/std value.
            path (str, optional): Its file, for error messages.

        Returns:
            np.ndarray: Scaled image of ``out_dtype``.
        """
        mean, std = self.stats[name]
        bands = img.shape[-1]
        if bands != mean.size:
            raise ValueError(
                f'StatsScale: {name} image {path} has {bands} bands but '
                f'{mean.size} mean/std values are configured')
        if self.percentile_clip is None and img.dtype in (np.uint8, np.uint16):
            # 8/16-bit data: a per-band lookup table, ~10x faster than the
            # arithmetic on S2's 13 x 264 x 264 digital numbers.
            levels = np.iinfo(img.dtype).max + 1
            offsets = np.arange(bands, dtype=np.int32) * levels
            return self._lut(name, img.dtype)[img + offsets]
        x = img.astype(np.float64)
        if self.percentile_clip is not None:
            lo, hi = np.nanpercentile(
                x, self.percentile_clip, axis=(0, 1), keepdims=True)
            x = np.clip(x, lo, hi)
        x -= mean - self.num_std * std
        x /= 2 * self.num_std * std
        return _finish(x, self.out_dtype)

    def transform(self, results: dict) -> dict:
        imgs = dict(results['imgs'])
        ranges = dict(results.get('value_ranges') or {})
        paths = results.get('img_paths') or {}
        prescaled = results.get('prescaled') or {}
        for name in self.stats:
            if name not in imgs:
                continue
            done = prescaled.get(name)
            if done is None:
                imgs[name] = self.apply(name, imgs[name], paths.get(name))
            elif imgs[name].shape[:2] != _full_shape(results, name):
                raise ValueError(
                    f'StatsScale: the {name} data ({paths.get(name)}) was '
                    'scaled at conversion, on the full image; here it comes '
                    'after a resize or crop, where scaling would give other '
                    'values. Put StatsScale first in the view pipeline, or '
                    'use a raw-value conversion.')
            elif done != self.spec(name):
                raise ValueError(
                    f'StatsScale: the {name} data ({paths.get(name)}) was '
                    f'already scaled when converted, with {done}, but the '
                    f'pipeline asks for {self.spec(name)}. Convert again '
                    'with this config (--prescale), or use a raw-value '
                    'conversion.')
            ranges[name] = OUT_RANGES[self.out_dtype]
        results['imgs'] = imgs
        results['value_ranges'] = ranges
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(modalities={list(self.stats)}, '
                f'num_std={self.num_std}, out_dtype={self.out_dtype!r}, '
                f'percentile_clip={self.percentile_clip})')


@TRANSFORMS.register_module()
class PercentileScale(BaseTransform):
    """Per-image, per-band robust min-max scaling to [0, 1].

    Each band is clipped to its own ``(low, high)`` percentiles and mapped
    linearly onto [0, 1] (a constant band maps to 0): DeCUR's per-tile DEM
    normalisation (1st-99th percentile). mmdecur applies the very same
    transform in pretraining and in transfer (the official code used
    percentiles for one and min-max for the other).

    Args:
        modalities (str | Sequence[str]): Modalities to scale.
        low (float): Lower percentile. Defaults to 1.
        high (float): Upper percentile. Defaults to 99.
        out_dtype (str): ``'uint8'`` or ``'float32'``. Defaults to 'uint8'.
    """

    def __init__(self,
                 modalities: Union[str, Sequence[str]],
                 low: float = 1.,
                 high: float = 99.,
                 out_dtype: str = 'uint8'):
        if not 0 <= low < high <= 100:
            raise ValueError(f'need 0 <= low < high <= 100, got {low}, {high}')
        self.modalities = ((modalities, ) if isinstance(modalities, str) else
                           tuple(modalities))
        self.low, self.high = float(low), float(high)
        self.out_dtype = _check_out_dtype(out_dtype)

    def scale(self, img: np.ndarray) -> np.ndarray:
        x = img.astype(np.float64)
        lo, hi = np.nanpercentile(
            x, (self.low, self.high), axis=(0, 1), keepdims=True)
        span = np.where(hi > lo, hi - lo, 1.0)
        return _finish((np.clip(x, lo, hi) - lo) / span, self.out_dtype)

    def transform(self, results: dict) -> dict:
        imgs = dict(results['imgs'])
        ranges = dict(results.get('value_ranges') or {})
        for name in self.modalities:
            if name in imgs:
                imgs[name] = self.scale(imgs[name])
                ranges[name] = OUT_RANGES[self.out_dtype]
        results['imgs'] = imgs
        results['value_ranges'] = ranges
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(modalities={self.modalities}, '
                f'low={self.low}, high={self.high}, '
                f'out_dtype={self.out_dtype!r})')

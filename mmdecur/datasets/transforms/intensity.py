# Copyright (c) mmdecur contributors. All rights reserved.
"""Per-band intensity scaling of raw sensor values to a fixed range.

Remote-sensing bands come as uint16 digital numbers (S2), float dB (S1) or
float metres (DEM). DeCUR maps them to [0, 255] before augmenting, so that
photometric augmentations see a known value range. Each transform acts on
the modalities it is configured for that are present in ``imgs``, so it can
sit in a per-modality view pipeline or before the multi-view step.
"""
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform

from mmdecur.registry import TRANSFORMS
from ..band_stats import StatisticsError, compute_hint, load_band_stats

__all__ = ['StatsScale', 'PercentileScale', 'OUT_RANGES', 'StatisticsError']

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
    img = results['imgs'][name]
    return (img[0] if isinstance(img, (list, tuple)) else img).shape[:2]


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

    Statistics come inline or from a stats file written by
    ``tools/misc/compute_band_stats.py`` (e.g. S2 L2A, for which DeCUR
    published none); a modality given None, a missing file, or a file
    without that modality is a :class:`StatisticsError` naming the
    modality and saying how to compute them. :meth:`check_bands` (called
    by datasets that know their bands) refuses statistics of another band
    count, naming the file.

    Args:
        stats (dict): Modality name -> ``dict(mean=[...], std=[...])`` (one
            value per band in the data's band order; an optional ``bands``
            list names them), or the path of a stats file holding that
            modality.
        num_std (float): k. Defaults to 2.
        out_dtype (str): ``'uint8'`` or ``'float32'``. Defaults to 'uint8'.
        percentile_clip (tuple, optional): Per-image, per-band
            ``(low, high)`` percentiles applied first. Defaults to None.
    """

    def __init__(self,
                 stats: Dict[str, Union[dict, str, None]],
                 num_std: float = 2.,
                 out_dtype: str = 'uint8',
                 percentile_clip: Optional[Tuple[float, float]] = None):
        self.stats = {}
        #: Modality -> the stats file its statistics came from (None:
        #: inline).
        self.sources: Dict[str, Optional[str]] = {}
        #: Modality -> band names of its statistics, where known.
        self.band_names: Dict[str, Optional[Tuple[str, ...]]] = {}
        for name, cfg in stats.items():
            source = cfg if isinstance(cfg, str) else None
            if cfg is None:
                raise StatisticsError(
                    f'StatsScale: no statistics for modality {name!r}; ' +
                    compute_hint(name), name)
            if source is not None:
                cfg = load_band_stats(source, name)
            if not isinstance(cfg, Mapping) or 'mean' not in cfg or \
                    'std' not in cfg:
                raise StatisticsError(
                    f'StatsScale: statistics of modality {name!r} must be '
                    'dict(mean=[...], std=[...]) or a stats file path, got '
                    f'{cfg!r}', name)
            mean = np.asarray(cfg['mean'], np.float64)
            std = np.asarray(cfg['std'], np.float64)
            where = f' (from {source})' if source else ''
            if mean.ndim != 1 or mean.shape != std.shape or \
                    not np.isfinite(mean).all() or not (std > 0).all():
                raise StatisticsError(
                    f'StatsScale: modality {name!r}{where} needs finite '
                    'means and one positive std per band, got mean '
                    f'{mean.tolist()}, std {std.tolist()}', name, source)
            bands = cfg.get('bands')
            self.stats[name] = (mean, std)
            self.sources[name] = source
            self.band_names[name] = None if bands is None else tuple(
                str(b) for b in bands)
        self.num_std = float(num_std)
        self.out_dtype = _check_out_dtype(out_dtype)
        self.percentile_clip = percentile_clip
        self._luts: Dict[tuple, np.ndarray] = {}
        self._specs: Dict[str, dict] = {}

    def check_bands(self,
                    name: str,
                    num_bands: int,
                    band_names: Optional[Sequence[str]] = None) -> None:
        """Refuse statistics that do not fit a modality's bands.

        Args:
            name (str): A configured modality.
            num_bands (int): Bands of its data.
            band_names (Sequence[str], optional): Their names; compared with
                the statistics' names where both are known.

        Raises:
            StatisticsError: Another band count (or other band names); the
                message names the modality and the stats file.
        """
        mean, _ = self.stats[name]
        source = self.sources.get(name)
        where = f'the statistics file {source}' if source else \
            'the inline statistics'
        if mean.size != num_bands:
            raise StatisticsError(
                f'StatsScale: {where} of modality {name!r} give '
                f'{mean.size} bands, but its data has {num_bands}' +
                (f' ({list(band_names)})' if band_names else ''), name, source)
        known = self.band_names.get(name)
        if band_names is not None and known is not None and \
                tuple(known) != tuple(band_names):
            raise StatisticsError(
                f'StatsScale: {where} of modality {name!r} are for bands '
                f'{list(known)}, but its data has {list(band_names)}', name,
                source)

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
            source = self.sources.get(name)
            raise StatisticsError(
                f'StatsScale: {name} image {path} has {bands} bands but '
                f'{mean.size} mean/std values are configured' +
                (f' (in {source})' if source else ''), name, source)
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

    def _scale(self, results: dict, name: str, img: np.ndarray, path,
               done: Optional[dict]) -> np.ndarray:
        if done is None:
            return self.apply(name, img, path)
        if img.shape[:2] != _full_shape(results, name):
            raise ValueError(
                f'StatsScale: the {name} data ({path}) was scaled at '
                'conversion, on the full image; here it comes after a '
                'resize or crop, where scaling would give other values. Put '
                'StatsScale first in the view pipeline, or use a raw-value '
                'conversion.')
        if done != self.spec(name):
            raise ValueError(
                f'StatsScale: the {name} data ({path}) was already scaled '
                f'when converted, with {done}, but the pipeline asks for '
                f'{self.spec(name)}. Convert again with this config '
                '(--prescale), or use a raw-value conversion.')
        return img

    def transform(self, results: dict) -> dict:
        """Scale the configured modalities present in ``imgs``.

        A modality may hold one image or a list of per-view images (as
        :class:`LoadSeasons` gives before :class:`MultiModalMultiView`):
        each is scaled, an image shared by several views once.
        """
        imgs = dict(results['imgs'])
        ranges = dict(results.get('value_ranges') or {})
        paths = results.get('img_paths') or {}
        prescaled = results.get('prescaled') or {}
        for name in self.stats:
            if name not in imgs:
                continue
            done = prescaled.get(name)
            img, path = imgs[name], paths.get(name)
            if isinstance(img, (list, tuple)):
                view_paths = (
                    path if isinstance(path,
                                       (list, tuple)) else [path] * len(img))
                scaled: Dict[int, np.ndarray] = {}
                for view, view_path in zip(img, view_paths):
                    if id(view) not in scaled:
                        scaled[id(view)] = self._scale(results, name, view,
                                                       view_path, done)
                imgs[name] = [scaled[id(view)] for view in img]
            else:
                imgs[name] = self._scale(results, name, img, path, done)
            ranges[name] = OUT_RANGES[self.out_dtype]
        results['imgs'] = imgs
        results['value_ranges'] = ranges
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(modalities={list(self.stats)}, '
                f'num_std={self.num_std}, out_dtype={self.out_dtype!r}, '
                f'percentile_clip={self.percentile_clip})')


class ModalityScale(BaseTransform):
    """Base of the transforms that scale whole images of some modalities
    with :meth:`scale` into ``OUT_RANGES[self.out_dtype]`` and record that
    range in ``value_ranges``. Subclasses set ``modalities`` and
    ``out_dtype`` and implement ``scale(img) -> img``."""

    modalities: Sequence[str]
    out_dtype: str

    def scale(self, img: np.ndarray) -> np.ndarray:
        raise NotImplementedError

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


@TRANSFORMS.register_module()
class PercentileScale(ModalityScale):
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

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(modalities={self.modalities}, '
                f'low={self.low}, high={self.high}, '
                f'out_dtype={self.out_dtype!r})')

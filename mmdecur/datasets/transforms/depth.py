# Copyright (c) mmdecur contributors. All rights reserved.
"""Raw depth maps (RGB-D datasets) to the value range the pipeline expects."""
from typing import Optional, Sequence, Tuple, Union

import numpy as np

from mmdecur.registry import TRANSFORMS
from .intensity import ModalityScale, _check_out_dtype

__all__ = ['DepthScale']


@TRANSFORMS.register_module()
class DepthScale(ModalityScale):
    """Raw depth maps (uint16 millimetres, uint8, float metres) to one
    known value range (uint8 0..255 or float 0..1).

    Raw depth PNGs differ between releases in unit and encoding (uint16
    millimetres; the SUN-RGBD toolbox's PNGs hold millimetres bit-rotated
    by 3, i.e. 8x millimetres below 8.19 m; uint8 maps already stretched to
    0..255), and pixels without a measurement are stored as 0. Two
    documented scalings:

    - ``mode='percentile'`` (default): per image, clip to the ``low``-th and
      ``high``-th percentile of the MEASURED pixels and map that interval
      linearly onto [0, 1]. Invariant to the unit and to any linear encoding,
      the same recipe as the DEM's :class:`PercentileScale`; relative depth
      only.
    - ``mode='fixed'``: clip to ``depth_range=(near, far)`` in STORED units
      (e.g. ``(0, 10000)`` for millimetres up to 10 m) and map linearly;
      absolute depth is kept and comparable across images, but the range
      must match the release's unit.

    With ``invalid_value`` set (default 0), unmeasured pixels (that value or
    non-finite) are kept apart: they become 0 and measured depth fills the
    remaining levels, ``t -> (1 + 254 t) / 255``, i.e. uint8
    ``round(1 + 254 t)`` (NumPy's rounding: halves to even); 0 is then also
    what padding means downstream. With ``invalid_value=None`` every finite
    pixel is a measurement and ``t -> t`` (uint8 ``round(255 t)``). An image
    without any measurement becomes all 0; a constant one maps to
    ``t = 0``.

    The scaled modality gets ``value_ranges[m] = (0, 255)`` (uint8) or
    ``(0, 1)`` (float32), so photometric ops and the data preprocessor see
    one known range.

    Args:
        modalities (str | Sequence[str]): Modalities to scale. Defaults to
            'depth'.
        mode (str): 'percentile' or 'fixed'. Defaults to 'percentile'.
        low (float): Lower percentile (percentile mode). Defaults to 1.
        high (float): Upper percentile (percentile mode). Defaults to 99.
        depth_range (tuple, optional): ``(near, far)`` in stored units;
            required for, and only for, fixed mode. Defaults to None.
        invalid_value (float, optional): Stored value of "no measurement";
            None for none. Defaults to 0.
        out_dtype (str): ``'uint8'`` or ``'float32'``. Defaults to 'uint8'.
    """

    MODES = ('percentile', 'fixed')

    def __init__(self,
                 modalities: Union[str, Sequence[str]] = 'depth',
                 mode: str = 'percentile',
                 low: float = 1.,
                 high: float = 99.,
                 depth_range: Optional[Tuple[float, float]] = None,
                 invalid_value: Optional[float] = 0,
                 out_dtype: str = 'uint8'):
        if mode not in self.MODES:
            raise ValueError(f'DepthScale: mode must be one of {self.MODES}, '
                             f'got {mode!r}')
        if mode == 'percentile':
            if depth_range is not None:
                raise ValueError('DepthScale: depth_range is for '
                                 "mode='fixed' only")
            if not 0 <= low < high <= 100:
                raise ValueError(f'DepthScale: need 0 <= low < high <= 100, '
                                 f'got {low}, {high}')
        else:
            if depth_range is None or len(depth_range) != 2 or not float(
                    depth_range[0]) < float(depth_range[1]):
                raise ValueError(
                    "DepthScale: mode='fixed' needs depth_range=(near, far) "
                    f'with near < far, got {depth_range!r}')
            depth_range = (float(depth_range[0]), float(depth_range[1]))
        self.modalities = ((modalities, ) if isinstance(modalities, str) else
                           tuple(modalities))
        self.mode = mode
        self.low, self.high = float(low), float(high)
        self.depth_range = depth_range
        self.invalid_value = (None if invalid_value is None else
                              float(invalid_value))
        self.out_dtype = _check_out_dtype(out_dtype)

    def _bounds(self, band: np.ndarray,
                valid: np.ndarray) -> Optional[Tuple[float, float]]:
        if self.mode == 'fixed':
            return self.depth_range
        if not valid.any():
            return None
        lo, hi = np.percentile(band[valid], (self.low, self.high))
        return float(lo), float(hi)

    def scale(self, img: np.ndarray) -> np.ndarray:
        """Scale one HWC depth image (every band on its own).

        Args:
            img (np.ndarray): Raw depth, any numeric dtype.

        Returns:
            np.ndarray: Scaled image of ``out_dtype``, same shape.
        """
        x = img.astype(np.float64)
        valid = np.isfinite(x)
        if self.invalid_value is not None:
            valid &= x != self.invalid_value
        # Levels of measured depth: 1..255 when 0 means "no measurement".
        first = 0 if self.invalid_value is None else 1
        out = np.zeros(x.shape, np.float64)
        for b in range(x.shape[-1]):
            band, ok = x[..., b], valid[..., b]
            bounds = self._bounds(band, ok)
            if bounds is None:
                continue
            lo, hi = bounds
            t = (np.clip(band, lo, hi) - lo) / (hi - lo) if hi > lo else \
                np.zeros_like(band)
            t = np.nan_to_num(t, nan=0.0)
            levels = first + (255 - first) * t
            if self.out_dtype == 'uint8':
                levels = np.rint(levels)
            out[..., b] = np.where(ok, levels, 0.0)
        if self.out_dtype == 'uint8':
            return out.astype(np.uint8)
        return (out / 255.0).astype(np.float32)

    def __repr__(self) -> str:
        detail = (f'depth_range={self.depth_range}' if self.mode == 'fixed'
                  else f'low={self.low}, high={self.high}')
        return (f'{self.__class__.__name__}(modalities={self.modalities}, '
                f"mode='{self.mode}', {detail}, "
                f'invalid_value={self.invalid_value}, '
                f'out_dtype={self.out_dtype!r})')

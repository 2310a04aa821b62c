# Copyright (c) mmdecur contributors. All rights reserved.
"""Photometric augmentations for images of any band count and dtype.

All ops compute in float32 and cast back to the input dtype (rounding for
integer types), and keep results inside the modality's valid value range
``results['value_ranges'][modality]``. Two bugs of the official uint8 code
are deliberately not reproduced: brightness/contrast wrapped around instead
of clipping (200 * 1.4 gave 24), and ``Solarize(0.5)`` compared against an
absolute 0.5, so on uint8 it only inverted zero pixels.

Each modality present (or each one named in ``modalities``) gets its own
random draws: photometric changes need no agreement across modalities.
Randomness comes from numpy's global RNG, which MMEngine seeds per worker.
"""
from typing import Callable, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmdecur.registry import TRANSFORMS
from mmdecur.utils.augment_params import (check_blur_args,
                                          check_solarize_threshold,
                                          factor_range)
from .geometric import CV2_CN_MAX, apply_cv2

__all__ = [
    'ColorJitterND', 'RandomGrayscaleND', 'GaussianBlurND', 'SolarizeND'
]


def value_range(results: dict, modality: str) -> Tuple[float, float]:
    """The valid value range of a modality, with a clear error if unset.

    Args:
        results (dict): Result dict holding ``value_ranges``.
        modality (str): Modality name.

    Returns:
        tuple[float, float]: (lo, hi).

    Raises:
        ValueError: If no range is known for the modality.
    """
    vr = (results.get('value_ranges') or {}).get(modality)
    if vr is None:
        img = results['imgs'][modality]
        path = (results.get('img_paths') or {}).get(modality)
        raise ValueError(
            f'No value range for modality {modality!r} ({img.dtype} data, '
            f'file {path}): set value_range for it in LoadModalities '
            '(float data has no implicit range).')
    lo, hi = float(vr[0]), float(vr[1])
    if not lo < hi:
        raise ValueError(f'Invalid value range {vr!r} for modality '
                         f'{modality!r}: need lo < hi.')
    return lo, hi


def map_values(img: np.ndarray, fn: Callable[[np.ndarray],
                                             np.ndarray]) -> np.ndarray:
    """Apply a pointwise float32 op to an image, cast back to its dtype.

    uint8 images go through a 256-entry lookup table built by ``fn`` on
    every level (``cv2.LUT``, any band count): bit-identical to running
    ``fn`` on the whole image in float32, an order of magnitude faster on
    13-band data.

    Args:
        img (np.ndarray): HWC image.
        fn (callable): Pointwise op on a float32 array (may modify it in
            place); must not depend on the pixel's position.

    Returns:
        np.ndarray: ``fn(img)`` cast to ``img``'s dtype (integers rounded).
    """
    if img.dtype == np.uint8:
        table = to_dtype(fn(np.arange(256, dtype=np.float32)), np.uint8)
        return apply_cv2(
            img, lambda x: cv2.LUT(x, table), max_channels=CV2_CN_MAX)
    return to_dtype(fn(img.astype(np.float32)), img.dtype)


def to_dtype(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Cast float32 working data back to ``dtype``, rounding integers.

    Args:
        x (np.ndarray): Float data.
        dtype (np.dtype): Target dtype.

    Returns:
        np.ndarray: Cast array (clipped to the dtype's limits if integer).
    """
    if x.dtype == dtype:
        return x
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        x = np.clip(np.rint(x), info.min, info.max)
    return x.astype(dtype, copy=False)


class BasePhotometric(BaseTransform):
    """Base of the N-band photometric transforms.

    Subclasses implement :meth:`apply` for one image.

    Args:
        modalities (Sequence[str], optional): Modalities to transform; the
            ones not present in ``results['imgs']`` are skipped, so one
            pipeline can serve per-modality and shared contexts. None means
            every modality present. Defaults to None.
        prob (float): Probability of applying the op, drawn per modality.
            Defaults to 1.0.
    """

    def __init__(self,
                 modalities: Optional[Union[str, Sequence[str]]] = None,
                 prob: float = 1.0) -> None:
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if isinstance(modalities, str):
            modalities = (modalities, )
        self.modalities = None if modalities is None else tuple(modalities)
        self.prob = prob

    def apply(self, img: np.ndarray, results: dict,
              modality: str) -> np.ndarray:
        """Transform one HWC image.

        Args:
            img (np.ndarray): HWC image of ``modality``.
            results (dict): Result dict (for value ranges and paths).
            modality (str): Modality name.

        Returns:
            np.ndarray: Transformed image, same dtype and shape.
        """
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        """Apply the op to each selected modality with probability ``prob``.

        Args:
            results (dict): Result dict.

        Returns:
            dict: The transformed results.
        """
        imgs = dict(results['imgs'])
        names = imgs if self.modalities is None else [
            m for m in self.modalities if m in imgs
        ]
        for name in names:
            if np.random.rand() < self.prob:
                imgs[name] = self.apply(imgs[name], results, name)
        # A new dict: other views may still hold the old one.
        results['imgs'] = imgs
        return results

    def _repr_args(self) -> str:
        return f'modalities={self.modalities}, prob={self.prob}'

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self._repr_args()})'


@TRANSFORMS.register_module()
class ColorJitterND(BasePhotometric):
    """Random brightness then contrast, clipped to the value range.

    brightness: ``x * b`` with ``b ~ U[1-B, 1+B]``; contrast:
    ``x * c + mean * (1 - c)`` with ``c ~ U[1-C, 1+C]`` and ``mean`` the
    scalar mean of the grayscale (band-mean) image. The order is fixed,
    brightness first, as in DeCUR's recipe.

    Args:
        brightness (float | Sequence[float]): B, or an explicit (lo, hi)
            factor range; 0 disables. Defaults to 0.4.
        contrast (float | Sequence[float]): C, or an explicit (lo, hi)
            factor range; 0 disables. Defaults to 0.4.
        modalities (Sequence[str], optional): See :class:`BasePhotometric`.
            Defaults to None.
        prob (float): Probability of jittering (both factors drawn).
            Defaults to 0.8.
    """

    def __init__(self,
                 brightness: Union[float, Sequence[float]] = 0.4,
                 contrast: Union[float, Sequence[float]] = 0.4,
                 modalities: Optional[Union[str, Sequence[str]]] = None,
                 prob: float = 0.8) -> None:
        super().__init__(modalities=modalities, prob=prob)
        self.brightness = factor_range(brightness, 'brightness')
        self.contrast = factor_range(contrast, 'contrast')

    def apply(self, img: np.ndarray, results: dict,
              modality: str) -> np.ndarray:
        lo, hi = value_range(results, modality)
        b = (
            np.float32(np.random.uniform(
                *self.brightness)) if self.brightness is not None else None)
        c = (
            np.float32(np.random.uniform(
                *self.contrast)) if self.contrast is not None else None)
        # The mean of the brightness-scaled image, from the input's exact
        # float64 mean: the same for the float and the lookup-table path.
        mean = None if c is None else np.float32(
            img.mean(dtype=np.float64) * (1. if b is None else b))

        def jitter(x: np.ndarray) -> np.ndarray:
            if b is not None:
                x *= b
            if c is not None:
                x = x * c + mean * (1 - c)
            return np.clip(x, lo, hi, out=x)

        return map_values(img, jitter)

    def _repr_args(self) -> str:
        return (f'brightness={self.brightness}, contrast={self.contrast}, ' +
                super()._repr_args())


@TRANSFORMS.register_module()
class RandomGrayscaleND(BasePhotometric):
    """Replace every band by the mean over bands (band count kept).

    Args:
        modalities (Sequence[str], optional): See :class:`BasePhotometric`.
            Defaults to None.
        prob (float): Probability of converting. Defaults to 0.2.
    """

    def __init__(self,
                 modalities: Optional[Union[str, Sequence[str]]] = None,
                 prob: float = 0.2) -> None:
        super().__init__(modalities=modalities, prob=prob)

    def apply(self, img: np.ndarray, results: dict,
              modality: str) -> np.ndarray:
        h, w, bands = img.shape
        # Band sums as a float64 matrix product (exact for integer data, and
        # ~5x faster than numpy's reduction over a short last axis); the
        # single mean band is rounded once, then copied to every band.
        sums = img.reshape(-1, bands).astype(np.float64) @ np.ones(bands)
        gray = to_dtype((sums / bands).reshape(h, w, 1), img.dtype)
        return np.repeat(gray, bands, axis=2)


@TRANSFORMS.register_module()
class GaussianBlurND(BasePhotometric):
    """Gaussian blur with a random sigma, per band.

    Args:
        sigma (Sequence[float]): Range of sigma (pixels), drawn uniformly.
            Defaults to (0.1, 2.0).
        kernel_size (int, optional): Odd kernel size; None lets OpenCV
            derive it from sigma (about 6 sigma + 1 for uint8 data, 8 sigma
            + 1 for other data).
            Defaults to None.
        modalities (Sequence[str], optional): See :class:`BasePhotometric`.
            Defaults to None.
        prob (float): Probability of blurring. Defaults to 0.5.
    """

    def __init__(self,
                 sigma: Sequence[float] = (0.1, 2.0),
                 kernel_size: Optional[int] = None,
                 modalities: Optional[Union[str, Sequence[str]]] = None,
                 prob: float = 0.5) -> None:
        super().__init__(modalities=modalities, prob=prob)
        check_blur_args(sigma, kernel_size)
        self.sigma = tuple(sigma)
        self.kernel_size = kernel_size

    def apply(self, img: np.ndarray, results: dict,
              modality: str) -> np.ndarray:
        sigma = float(np.random.uniform(*self.sigma))
        k = self.kernel_size or 0
        # uint8 takes OpenCV's bit-exact fixed-point path (no rounding
        # between the separable passes; 8x faster than float32 on 13 bands,
        # and what DeCUR's OpenCV transforms ran); other dtypes go through
        # float32. GaussianBlur filters each channel alone, whatever the
        # count, so no 4-band chunks (and their copies) are needed.
        work = img if img.dtype == np.uint8 else img.astype(np.float32)
        out = apply_cv2(
            work,
            lambda x: cv2.GaussianBlur(x, (k, k), sigmaX=sigma, sigmaY=sigma),
            max_channels=CV2_CN_MAX)
        return to_dtype(out, img.dtype)

    def _repr_args(self) -> str:
        return (f'sigma={self.sigma}, kernel_size={self.kernel_size}, ' +
                super()._repr_args())


@TRANSFORMS.register_module()
class SolarizeND(BasePhotometric):
    """Invert the values at or above a threshold within the value range.

    With ``(lo, hi)`` the modality's value range, values
    ``x >= lo + threshold * (hi - lo)`` become ``hi + lo - x``.

    Args:
        threshold (float): Threshold as a fraction of the value range.
            Defaults to 0.5.
        modalities (Sequence[str], optional): See :class:`BasePhotometric`.
            Defaults to None.
        prob (float): Probability of solarizing. Defaults to 0.2.
    """

    def __init__(self,
                 threshold: float = 0.5,
                 modalities: Optional[Union[str, Sequence[str]]] = None,
                 prob: float = 0.2) -> None:
        super().__init__(modalities=modalities, prob=prob)
        check_solarize_threshold(threshold)
        self.threshold = threshold

    def apply(self, img: np.ndarray, results: dict,
              modality: str) -> np.ndarray:
        lo, hi = value_range(results, modality)
        t = np.float32(lo + self.threshold * (hi - lo))

        def solarize(x: np.ndarray) -> np.ndarray:
            x = np.where(x >= t, np.float32(hi + lo) - x, x)
            return np.clip(x, lo, hi, out=x)

        return map_values(img, solarize)

    def _repr_args(self) -> str:
        return f'threshold={self.threshold}, ' + super()._repr_args()

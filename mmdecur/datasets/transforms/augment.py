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
from typing import Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmdecur.registry import TRANSFORMS
from .geometric import apply_cv2

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


def to_dtype(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Cast float32 working data back to ``dtype``, rounding integers.

    Args:
        x (np.ndarray): Float data.
        dtype (np.dtype): Target dtype.

    Returns:
        np.ndarray: Cast array (clipped to the dtype's limits if integer).
    """
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


def _factor_range(value: Union[float, Sequence[float]],
                  name: str) -> Optional[Tuple[float, float]]:
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f'{name} must be non-negative, got {value}')
        return None if value == 0 else (max(0., 1 - value), 1 + value)
    lo, hi = value
    if not 0 <= lo <= hi:
        raise ValueError(f'{name} range must satisfy 0 <= lo <= hi, got '
                         f'{value!r}')
    return float(lo), float(hi)


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
        self.brightness = _factor_range(brightness, 'brightness')
        self.contrast = _factor_range(contrast, 'contrast')

    def apply(self, img: np.ndarray, results: dict,
              modality: str) -> np.ndarray:
        lo, hi = value_range(results, modality)
        x = img.astype(np.float32)
        if self.brightness is not None:
            x *= np.float32(np.random.uniform(*self.brightness))
        if self.contrast is not None:
            c = np.float32(np.random.uniform(*self.contrast))
            x = x * c + np.float32(x.mean()) * (1 - c)
        return to_dtype(np.clip(x, lo, hi), img.dtype)

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
        gray = img.astype(np.float32).mean(axis=2, keepdims=True)
        return to_dtype(np.repeat(gray, img.shape[2], axis=2), img.dtype)


@TRANSFORMS.register_module()
class GaussianBlurND(BasePhotometric):
    """Gaussian blur with a random sigma, per band.

    Args:
        sigma (Sequence[float]): Range of sigma (pixels), drawn uniformly.
            Defaults to (0.1, 2.0).
        kernel_size (int, optional): Odd kernel size; None lets OpenCV
            derive it from sigma (about 8 sigma + 1 for float data).
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
        if not 0 < sigma[0] <= sigma[1]:
            raise ValueError(f'sigma must satisfy 0 < min <= max, got '
                             f'{sigma!r}')
        if kernel_size is not None and (kernel_size < 1
                                        or kernel_size % 2 == 0):
            raise ValueError(f'kernel_size must be odd and positive, got '
                             f'{kernel_size}')
        self.sigma = tuple(sigma)
        self.kernel_size = kernel_size

    def apply(self, img: np.ndarray, results: dict,
              modality: str) -> np.ndarray:
        sigma = float(np.random.uniform(*self.sigma))
        k = self.kernel_size or 0
        # float32 work: no rounding between the two separable passes.
        out = apply_cv2(
            img.astype(np.float32),
            lambda x: cv2.GaussianBlur(x, (k, k), sigmaX=sigma, sigmaY=sigma))
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
        if not 0 <= threshold <= 1:
            raise ValueError(f'threshold is a fraction of the value range '
                             f'and must be in [0, 1], got {threshold}')
        self.threshold = threshold

    def apply(self, img: np.ndarray, results: dict,
              modality: str) -> np.ndarray:
        lo, hi = value_range(results, modality)
        x = img.astype(np.float32)
        t = np.float32(lo + self.threshold * (hi - lo))
        x = np.where(x >= t, np.float32(hi + lo) - x, x)
        return to_dtype(np.clip(x, lo, hi), img.dtype)

    def _repr_args(self) -> str:
        return f'threshold={self.threshold}, ' + super()._repr_args()

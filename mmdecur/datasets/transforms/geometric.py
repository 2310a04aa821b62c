# Copyright (c) mmdecur contributors. All rights reserved.
"""Geometric transforms shared by every modality (and the label) present.

Each transform makes ONE random draw per call and applies it to every entry
of ``results['imgs']`` and to every segmentation field, so whatever it sees
stays co-registered. Which modalities it sees is decided by the caller: inside
:class:`MultiModalMultiView` a per-modality pipeline sees one modality (the
official DeCUR behaviour: independent crops per modality), a ``shared``
pipeline sees them all.
"""
import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
from mmcv.transforms import BaseTransform

from mmdecur.registry import TRANSFORMS
from mmdecur.utils.augment_params import central_crop_box, check_crop_args

__all__ = [
    'RandomResizedCropND', 'RandomFlipND', 'ResizeND', 'CenterCropND',
    'RandomResizeND', 'RandomCropND', 'apply_cv2', 'resize_image',
    'resize_label', 'pad_to_size', 'CV2_CN_MAX'
]

CV2_INTERP = {
    'nearest': cv2.INTER_NEAREST_EXACT,
    'bilinear': cv2.INTER_LINEAR,
    'bicubic': cv2.INTER_CUBIC,
    'area': cv2.INTER_AREA,
    'lanczos': cv2.INTER_LANCZOS4,
}

# Depths OpenCV's resize/filter kernels accept; anything else goes via float32.
_CV2_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)
# Several OpenCV kernels (INTER_AREA, some filters) only take up to 4
# channels, and none take more than 512, so wider images go in 4-band chunks
# unless the caller knows its kernel handles any count the same way.
_CV2_MAX_CHANNELS = 4
CV2_CN_MAX = 512

SizeType = Union[int, Sequence[int]]


def apply_cv2(img: np.ndarray,
              fn: Callable[[np.ndarray], np.ndarray],
              max_channels: int = _CV2_MAX_CHANNELS) -> np.ndarray:
    """Apply an OpenCV image function to an HWC image of any band count.

    Works around three OpenCV limits: unsupported dtypes (computed in float32
    and cast back, rounding integers), more channels than a kernel supports
    (split into chunks of 4 bands) and the singleton channel OpenCV drops from
    an H×W×1 image (restored).

    Args:
        img (np.ndarray): HWC image.
        fn (callable): Function mapping an OpenCV-compatible array with at
            most ``max_channels`` channels to an array of the same channel
            count.
        max_channels (int): Widest chunk ``fn`` gets. Defaults to 4, which
            every OpenCV kernel accepts; pass ``CV2_CN_MAX`` for kernels
            that process any channel count exactly as band by band (it
            saves the copies of the chunks).

    Returns:
        np.ndarray: HWC result with the input's dtype and band count.
    """
    dtype = img.dtype
    work = img if dtype in _CV2_DTYPES else img.astype(np.float32)
    channels = work.shape[2]
    if channels <= max_channels:
        out = fn(np.ascontiguousarray(work))
        if out.ndim == 2:
            out = out[..., None]
    else:
        chunks = []
        for start in range(0, channels, max_channels):
            chunk = fn(
                np.ascontiguousarray(work[..., start:start + max_channels]))
            chunks.append(chunk[..., None] if chunk.ndim == 2 else chunk)
        out = np.concatenate(chunks, axis=2)
    if out.dtype != dtype:
        if np.issubdtype(dtype, np.integer):
            info = np.iinfo(dtype)
            out = np.clip(np.rint(out), info.min, info.max)
        out = out.astype(dtype)
    return out


def resize_image(img: np.ndarray,
                 size: Tuple[int, int],
                 interpolation: str = 'bilinear') -> np.ndarray:
    """Resize an HWC image of any band count and dtype.

    Args:
        img (np.ndarray): HWC image.
        size (tuple[int, int]): Output (height, width).
        interpolation (str): One of ``CV2_INTERP``. Defaults to 'bilinear'.

    Returns:
        np.ndarray: Resized HWC image, same dtype and band count.
    """
    h, w = size
    if img.shape[:2] == (h, w):
        return img
    flag = CV2_INTERP[interpolation]
    # Nearest, and bilinear on uint8 (fixed-point), give every band the
    # same result whatever the band count; float bilinear on >4 bands takes
    # a less precise OpenCV path, so it stays in 4-band chunks.
    whole = interpolation == 'nearest' or (interpolation == 'bilinear'
                                           and img.dtype == np.uint8)
    return apply_cv2(
        img,
        lambda x: cv2.resize(x, (w, h), interpolation=flag),
        max_channels=CV2_CN_MAX if whole else _CV2_MAX_CHANNELS)


def resize_label(label: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of a label map, any integer dtype.

    Uses OpenCV's ``INTER_NEAREST_EXACT`` (pixel-centre sampling, as its
    bilinear resize uses), the same kernel as ``interpolation='nearest'``
    for images, so labels stay aligned with resized images.

    Args:
        label (np.ndarray): H×W (or H×W×C) label map.
        size (tuple[int, int]): Output (height, width).

    Returns:
        np.ndarray: Resized label map, same dtype and number of dims.
    """
    h, w = size
    if label.shape[:2] == (h, w):
        return label
    out = apply_cv2(
        label if label.ndim == 3 else label[..., None],
        lambda x: cv2.resize(x, (w, h), interpolation=cv2.INTER_NEAREST_EXACT))
    return out if label.ndim == 3 else out[..., 0]


def _to_hw(size: SizeType, name: str = 'size') -> Tuple[int, int]:
    if isinstance(size, int):
        return size, size
    if len(size) != 2:
        raise ValueError(f'{name} must be an int or (height, width), '
                         f'got {size!r}')
    return int(size[0]), int(size[1])


def _check_interpolation(interpolation: str) -> str:
    if interpolation not in CV2_INTERP:
        raise ValueError(f'interpolation must be one of {list(CV2_INTERP)}, '
                         f'got {interpolation!r}')
    return interpolation


def pad_to_size(arr: np.ndarray, size: Tuple[int, int],
                value: float) -> np.ndarray:
    """Pad an HWC image or H×W label symmetrically up to at least ``size``.

    Each dimension smaller than ``size`` gets half the missing rows/columns
    before and the rest (one more for odd amounts) after, filled with
    ``value``; larger dimensions are left alone.

    Args:
        arr (np.ndarray): H×W or H×W×C array.
        size (tuple[int, int]): Minimum (height, width).
        value (float): Fill value.

    Returns:
        np.ndarray: The padded array (``arr`` itself if no padding).
    """
    pad_h, pad_w = max(size[0] - arr.shape[0], 0), max(size[1] - arr.shape[1],
                                                       0)
    if not (pad_h or pad_w):
        return arr
    pads = ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2))
    return np.pad(
        arr, pads + ((0, 0), ) * (arr.ndim - 2), constant_values=value)


def seg_keys(results: dict) -> List[str]:
    """Keys of the segmentation maps in ``results``.

    ``gt_seg_map`` is included even when a loader forgot to list it in
    ``seg_fields``: a label silently left untransformed would be misaligned.

    Args:
        results (dict): Result dict.

    Returns:
        list[str]: Keys present in ``results``.
    """
    keys = [k for k in results.get('seg_fields', []) if k in results]
    if 'gt_seg_map' in results and 'gt_seg_map' not in keys:
        keys.append('gt_seg_map')
    return keys


def common_hw(results: dict) -> Tuple[int, int]:
    """The H×W shared by every image and label in ``results``.

    Args:
        results (dict): Result dict with ``imgs`` and optional seg fields.

    Returns:
        tuple[int, int]: (height, width).

    Raises:
        ValueError: If there is nothing to transform, or the entries differ
            in size (a shared geometric transform needs co-registered data).
    """
    shapes: Dict[str, Tuple[int, int]] = {
        name: img.shape[:2]
        for name, img in results.get('imgs', {}).items()
    }
    for key in seg_keys(results):
        shapes[key] = results[key].shape[:2]
    if not shapes:
        raise ValueError('No images to transform: results["imgs"] is empty.')
    if len(set(shapes.values())) > 1:
        paths = dict(results.get('img_paths') or {})
        if results.get('seg_map_path') is not None:
            paths.setdefault('gt_seg_map', results['seg_map_path'])
        desc = ', '.join(f'{name} {hw[0]}x{hw[1]} ({paths.get(name)})'
                         for name, hw in shapes.items())
        raise ValueError(
            'co-registration required: a shared geometric transform got '
            f'entries of different sizes: {desc}. Resize them to a common '
            'grid first, or transform each modality in its own pipeline.')
    return next(iter(shapes.values()))


def _map_all(results: dict, img_fn: Callable[[np.ndarray], np.ndarray],
             label_fn: Callable[[np.ndarray], np.ndarray]) -> None:
    # A fresh dict, so callers holding the old one (other views) are unchanged.
    results['imgs'] = {
        name: img_fn(img)
        for name, img in results['imgs'].items()
    }
    for key in seg_keys(results):
        results[key] = label_fn(results[key])
    if results['imgs']:
        results['img_shape'] = next(iter(results['imgs'].values())).shape[:2]
    else:
        results['img_shape'] = results[seg_keys(results)[0]].shape[:2]


@TRANSFORMS.register_module()
class RandomResizedCropND(BaseTransform):
    """Random crop of random area and aspect ratio, resized to ``size``.

    The torchvision recipe: up to ``max_attempts`` draws of an area fraction
    in ``scale`` and a log-uniform aspect ratio in ``ratio``; if none fits,
    a central crop clamped to ``ratio``. One draw serves all modalities and
    labels present (nearest interpolation for labels).

    **Required Keys:** ``imgs``. **Modified Keys:** ``imgs``, seg fields.
    **Added Keys:** ``img_shape``.

    Args:
        size (int | Sequence[int]): Output (height, width); an int gives a
            square.
        scale (Sequence[float]): Range of the crop's fraction of the image
            area. Defaults to (0.08, 1.0).
        ratio (Sequence[float]): Range of the crop's aspect ratio (w/h).
            Defaults to (3/4, 4/3).
        interpolation (str): Image interpolation: 'nearest', 'bilinear',
            'bicubic', 'area' or 'lanczos'. Defaults to 'bilinear'.
        max_attempts (int): Draws before the central fallback. Defaults
            to 10.
    """

    def __init__(self,
                 size: SizeType,
                 scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3. / 4., 4. / 3.),
                 interpolation: str = 'bilinear',
                 max_attempts: int = 10) -> None:
        self.size = _to_hw(size)
        check_crop_args(scale, ratio)
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.interpolation = _check_interpolation(interpolation)
        self.max_attempts = max_attempts

    def get_params(self, h: int, w: int) -> Tuple[int, int, int, int]:
        """Draw a crop box.

        Args:
            h (int): Image height.
            w (int): Image width.

        Returns:
            tuple[int, int, int, int]: (top, left, crop_h, crop_w).
        """
        area = h * w
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(self.max_attempts):
            target_area = area * np.random.uniform(*self.scale)
            aspect = math.exp(np.random.uniform(*log_ratio))
            crop_w = int(round(math.sqrt(target_area * aspect)))
            crop_h = int(round(math.sqrt(target_area / aspect)))
            if 0 < crop_w <= w and 0 < crop_h <= h:
                top = np.random.randint(0, h - crop_h + 1)
                left = np.random.randint(0, w - crop_w + 1)
                return top, left, crop_h, crop_w
        return central_crop_box(h, w, self.ratio)

    def transform(self, results: dict) -> dict:
        """Crop and resize every image and label with one random box.

        Args:
            results (dict): Result dict.

        Returns:
            dict: The transformed results.
        """
        h, w = common_hw(results)
        top, left, crop_h, crop_w = self.get_params(h, w)
        box = (slice(top, top + crop_h), slice(left, left + crop_w))
        _map_all(
            results,
            lambda img: resize_image(img[box], self.size, self.interpolation),
            lambda lab: resize_label(lab[box], self.size))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'scale={self.scale}, ratio={self.ratio}, '
                f"interpolation='{self.interpolation}', "
                f'max_attempts={self.max_attempts})')


@TRANSFORMS.register_module()
class RandomFlipND(BaseTransform):
    """Flip every image and label present with probability ``prob``.

    ``flip``/``flip_direction`` record the net flip, so that a horizontal
    and a vertical flip in sequence read as 'diagonal' and two flips of the
    same direction cancel.

    **Required Keys:** ``imgs``. **Modified Keys:** ``imgs``, seg fields.
    **Added Keys:** ``flip``, ``flip_direction``, ``img_shape``.

    Args:
        prob (float): Flip probability. Defaults to 0.5.
        direction (str): 'horizontal', 'vertical' or 'diagonal' (both).
            Defaults to 'horizontal'.
    """

    _AXES = {'horizontal': (1, ), 'vertical': (0, ), 'diagonal': (0, 1)}
    _PARTS = {'horizontal': {'h'}, 'vertical': {'v'}, 'diagonal': {'h', 'v'}}

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal'):
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if direction not in self._AXES:
            raise ValueError(f'direction must be one of {list(self._AXES)}, '
                             f'got {direction!r}')
        self.prob = prob
        self.direction = direction

    def transform(self, results: dict) -> dict:
        """Flip every image and label with one random draw.

        Args:
            results (dict): Result dict.

        Returns:
            dict: The transformed results.
        """
        common_hw(results)
        if np.random.rand() >= self.prob:
            results.setdefault('flip', False)
            results.setdefault('flip_direction', None)
            return results
        axes = self._AXES[self.direction]
        # Flipped arrays are views with negative strides; packing copies them.
        _map_all(results, lambda img: np.flip(img, axes),
                 lambda lab: np.flip(lab, axes))
        before = self._PARTS.get(results.get('flip_direction'), set()) \
            if results.get('flip') else set()
        net = before ^ self._PARTS[self.direction]
        names = {frozenset(v): k for k, v in self._PARTS.items()}
        results['flip'] = bool(net)
        results['flip_direction'] = names.get(frozenset(net))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f"direction='{self.direction}')")


@TRANSFORMS.register_module()
class ResizeND(BaseTransform):
    """Resize every image and label present.

    **Required Keys:** ``imgs``. **Modified Keys:** ``imgs``, seg fields.
    **Added Keys:** ``img_shape``.

    Args:
        size (int | Sequence[int]): (height, width) for an exact size, or an
            int: the shorter edge becomes ``size`` and the aspect ratio is
            kept (torchvision's ``Resize(int)``, as in ``Resize(256)`` before
            ``CenterCrop(224)``).
        interpolation (str): Image interpolation, see
            :class:`RandomResizedCropND`. Defaults to 'bilinear'.
    """

    def __init__(self,
                 size: SizeType,
                 interpolation: str = 'bilinear') -> None:
        if not isinstance(size, int):
            size = _to_hw(size)
        self.size = size
        self.interpolation = _check_interpolation(interpolation)

    def _target_hw(self, h: int, w: int) -> Tuple[int, int]:
        if not isinstance(self.size, int):
            return self.size
        if h <= w:
            return self.size, int(round(w * self.size / h))
        return int(round(h * self.size / w)), self.size

    def transform(self, results: dict) -> dict:
        """Resize every image and label.

        Args:
            results (dict): Result dict.

        Returns:
            dict: The transformed results.
        """
        target = self._target_hw(*common_hw(results))
        _map_all(results,
                 lambda img: resize_image(img, target, self.interpolation),
                 lambda lab: resize_label(lab, target))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f"interpolation='{self.interpolation}')")


@TRANSFORMS.register_module()
class CenterCropND(BaseTransform):
    """Crop the centre of every image and label present.

    An image smaller than ``size`` is padded symmetrically first (images
    with ``pad_val``, labels with ``seg_pad_val``), as torchvision does.

    **Required Keys:** ``imgs``. **Modified Keys:** ``imgs``, seg fields.
    **Added Keys:** ``img_shape``.

    Args:
        size (int | Sequence[int]): Output (height, width); an int gives a
            square.
        pad_val (float): Image padding value. Defaults to 0.
        seg_pad_val (int): Label padding value (the ignore index).
            Defaults to 255.
    """

    def __init__(self,
                 size: SizeType,
                 pad_val: float = 0,
                 seg_pad_val: int = 255) -> None:
        self.size = _to_hw(size)
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def transform(self, results: dict) -> dict:
        """Centre-crop every image and label.

        Args:
            results (dict): Result dict.

        Returns:
            dict: The transformed results.
        """
        h, w = common_hw(results)
        out_h, out_w = self.size
        top = (max(h, out_h) - out_h) // 2
        left = (max(w, out_w) - out_w) // 2
        box = (slice(top, top + out_h), slice(left, left + out_w))

        def crop(arr: np.ndarray, value: float) -> np.ndarray:
            return pad_to_size(arr, self.size, value)[box]

        _map_all(results, lambda img: crop(img, self.pad_val),
                 lambda lab: crop(lab, self.seg_pad_val))
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'pad_val={self.pad_val}, seg_pad_val={self.seg_pad_val})')


@TRANSFORMS.register_module()
class RandomResizeND(BaseTransform):
    """Resize every image and label by one random scale factor.

    The factor is drawn from the list ``scales`` (CMX's multi-scale
    training: (0.5, 0.75, 1, 1.25, 1.5, 1.75)) or uniformly from
    ``ratio_range``, relative to the current size: an H×W input becomes
    ``round(s_h * H)`` × ``round(s_w * W)``. With ``keep_ratio`` one factor
    serves both axes; without, height and width get independent draws
    from the same list/range. Images are resized with ``interpolation``,
    labels with nearest neighbours.

    **Required Keys:** ``imgs``. **Modified Keys:** ``imgs``, seg fields.
    **Added Keys:** ``img_shape``, ``scale_factor`` ((w_scale, h_scale)
    relative to the size before the first resize, as in mmseg).

    Args:
        scales (Sequence[float], optional): Factors to choose from.
        ratio_range (Sequence[float], optional): (min, max) factor range.
            Exactly one of ``scales`` and ``ratio_range`` must be given.
        keep_ratio (bool): One factor for both axes. Defaults to True.
        interpolation (str): Image interpolation, see
            :class:`RandomResizedCropND`. Defaults to 'bilinear'.
    """

    def __init__(self,
                 scales: Optional[Sequence[float]] = None,
                 ratio_range: Optional[Sequence[float]] = None,
                 keep_ratio: bool = True,
                 interpolation: str = 'bilinear') -> None:
        if (scales is None) == (ratio_range is None):
            raise ValueError('give exactly one of scales and ratio_range')
        if scales is not None:
            scales = tuple(float(s) for s in scales)
            if not scales or min(scales) <= 0:
                raise ValueError(f'scales must be positive factors, got '
                                 f'{scales!r}')
        if ratio_range is not None:
            ratio_range = tuple(float(r) for r in ratio_range)
            if len(ratio_range) != 2 or not \
                    0 < ratio_range[0] <= ratio_range[1]:
                raise ValueError(f'ratio_range must be (min, max) with '
                                 f'0 < min <= max, got {ratio_range!r}')
        self.scales = scales
        self.ratio_range = ratio_range
        self.keep_ratio = keep_ratio
        self.interpolation = _check_interpolation(interpolation)

    def _draw(self) -> float:
        if self.scales is not None:
            return self.scales[np.random.randint(len(self.scales))]
        return float(np.random.uniform(*self.ratio_range))

    def get_params(self) -> Tuple[float, float]:
        """Draw the (height, width) scale factors."""
        s_h = self._draw()
        return (s_h, s_h) if self.keep_ratio else (s_h, self._draw())

    def transform(self, results: dict) -> dict:
        """Resize every image and label with one random factor.

        Args:
            results (dict): Result dict.

        Returns:
            dict: The transformed results.
        """
        h, w = common_hw(results)
        s_h, s_w = self.get_params()
        target = (max(1, int(h * s_h + 0.5)), max(1, int(w * s_w + 0.5)))
        _map_all(results,
                 lambda img: resize_image(img, target, self.interpolation),
                 lambda lab: resize_label(lab, target))
        prev_w, prev_h = results.get('scale_factor') or (1.0, 1.0)
        results['scale_factor'] = (prev_w * target[1] / w,
                                   prev_h * target[0] / h)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scales={self.scales}, '
                f'ratio_range={self.ratio_range}, '
                f'keep_ratio={self.keep_ratio}, '
                f"interpolation='{self.interpolation}')")


@TRANSFORMS.register_module()
class RandomCropND(BaseTransform):
    """Random crop of a fixed size, padding inputs that are too small.

    A dimension smaller than ``size`` is first padded symmetrically (CMX's
    crop-and-pad: images with ``pad_val``, labels with ``seg_pad_val``),
    then one random box of ``size`` is cut from every image and label.

    ``cat_max_ratio < 1`` (mmseg's ``RandomCrop``): the box is redrawn, up
    to ``max_attempts`` times, while one category covers at least
    ``cat_max_ratio`` of the crop's labelled pixels (``ignore_index`` not
    counted) or the crop holds fewer than two categories; the last draw is
    kept. It looks at ``gt_seg_map`` and is skipped without one.

    **Required Keys:** ``imgs``. **Modified Keys:** ``imgs``, seg fields.
    **Added Keys:** ``img_shape``.

    Args:
        size (int | Sequence[int]): Crop (height, width); an int gives a
            square.
        cat_max_ratio (float): Largest share one category may take.
            Defaults to 1.0 (no check).
        pad_val (float): Image padding value. Defaults to 0.
        seg_pad_val (int): Label padding value. Defaults to 255.
        ignore_index (int): Label value not counted by ``cat_max_ratio``.
            Defaults to 255.
        max_attempts (int): Redraws for ``cat_max_ratio``. Defaults to 10.
    """

    def __init__(self,
                 size: SizeType,
                 cat_max_ratio: float = 1.0,
                 pad_val: float = 0,
                 seg_pad_val: int = 255,
                 ignore_index: int = 255,
                 max_attempts: int = 10) -> None:
        self.size = _to_hw(size)
        if min(self.size) <= 0:
            raise ValueError(f'size must be positive, got {size!r}')
        if not 0 < cat_max_ratio <= 1:
            raise ValueError(f'cat_max_ratio must be in (0, 1], got '
                             f'{cat_max_ratio}')
        self.cat_max_ratio = cat_max_ratio
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val
        self.ignore_index = ignore_index
        self.max_attempts = max_attempts

    def _box(self, h: int, w: int) -> Tuple[slice, slice]:
        top = np.random.randint(0, h - self.size[0] + 1)
        left = np.random.randint(0, w - self.size[1] + 1)
        return (slice(top, top + self.size[0]), slice(left,
                                                      left + self.size[1]))

    def _balanced(self, label: np.ndarray) -> bool:
        values, counts = np.unique(label, return_counts=True)
        counts = counts[values != self.ignore_index]
        return len(counts) > 1 and \
            counts.max() / counts.sum() < self.cat_max_ratio

    def get_params(self, results: dict) -> Tuple[slice, slice]:
        """Draw the crop box on the padded inputs.

        Args:
            results (dict): Result dict after padding.

        Returns:
            tuple[slice, slice]: Rows and columns of the crop.
        """
        h, w = common_hw(results)
        box = self._box(h, w)
        label = results.get('gt_seg_map')
        if self.cat_max_ratio < 1 and label is not None:
            for _ in range(self.max_attempts):
                if self._balanced(label[box]):
                    break
                box = self._box(h, w)
        return box

    def transform(self, results: dict) -> dict:
        """Pad if needed, then crop every image and label with one box.

        Args:
            results (dict): Result dict.

        Returns:
            dict: The transformed results.
        """
        common_hw(results)
        _map_all(results,
                 lambda img: pad_to_size(img, self.size, self.pad_val),
                 lambda lab: pad_to_size(lab, self.size, self.seg_pad_val))
        box = self.get_params(results)
        _map_all(results, lambda img: img[box], lambda lab: lab[box])
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(size={self.size}, '
                f'cat_max_ratio={self.cat_max_ratio}, '
                f'pad_val={self.pad_val}, seg_pad_val={self.seg_pad_val}, '
                f'ignore_index={self.ignore_index}, '
                f'max_attempts={self.max_attempts})')

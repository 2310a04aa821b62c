# Copyright (c) mmdecur contributors. All rights reserved.
"""Per-modality image reading."""
from typing import Dict, Optional, Sequence, Tuple, Union

import cv2
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform

from mmdecur.registry import TRANSFORMS
from ..errors import FileContentError, MissingFileError, UnreadableFileError
from .jp2 import jp2_grey_flag_to_srgb

__all__ = [
    'LoadModalities', 'LoadBands', 'LoadSegLabel', 'read_image', 'read_bands',
    'cmx_label_to_train_id', 'geonrw_label_to_train_id', 'SEG_IGNORE_INDEX'
]

_READER_KEYS = ('color_order', 'value_range', 'channels', 'imread_flag',
                'dtype')


def read_image(path: str,
               modality: str = 'img',
               imread_flag: int = cv2.IMREAD_UNCHANGED,
               backend_args: Optional[dict] = None) -> np.ndarray:
    """Read an image file with OpenCV into an HWC array.

    Args:
        path (str): File path (any MMEngine file backend).
        modality (str): Modality name, for error messages. Defaults to 'img'.
        imread_flag (int): ``cv2.imdecode`` flag. Defaults to
            ``cv2.IMREAD_UNCHANGED`` (keep band count and dtype).
        backend_args (dict, optional): MMEngine file backend arguments.
            Defaults to None.

    Returns:
        np.ndarray: HWC image (a 1-band image is H×W×1), channels in the
        order OpenCV decodes them (BGR for colour images).

    Raises:
        MissingFileError: If the file does not exist (a FileNotFoundError).
        UnreadableFileError: If it cannot be decoded (an OSError).
    """
    try:
        data = fileio.get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise MissingFileError(f'{modality} image not found: {path}',
                               path) from None
    # GDAL-written 3-band JP2 flagged greyscale would decode as 3 copies of
    # band 1, silently (GeoNRW orthophotos).
    data = jp2_grey_flag_to_srgb(data)
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), imread_flag)
    except cv2.error as e:
        raise UnreadableFileError(
            f'Cannot decode {modality} image {path}: {e}', path) from e
    if img is None:
        raise UnreadableFileError(
            f'Cannot decode {modality} image {path}: the file is corrupt or '
            'not an image format OpenCV reads.', path)
    if img.ndim == 2:
        img = img[..., None]
    return img


def check_dtype(img: np.ndarray, dtype: Optional[str], path: str,
                modality: str) -> None:
    """Raise unless ``img`` has ``dtype`` ('float', 'integer' or a numpy
    dtype name such as 'uint16'); None accepts anything."""
    if dtype is None:
        return
    kinds = dict(float=np.floating, integer=np.integer)
    ok = (
        np.issubdtype(img.dtype, kinds[dtype])
        if dtype in kinds else img.dtype == np.dtype(dtype))
    if not ok:
        raise FileContentError(
            f'{modality} file {path} holds {img.dtype} data, expected '
            f'{dtype}', path, 'dtype')


def read_bands(paths: Sequence[Optional[str]],
               size: Optional[Tuple[int, int]] = None,
               expected_sizes: Optional[Sequence[Optional[Tuple[int,
                                                                int]]]] = None,
               interpolation: int = cv2.INTER_LINEAR,
               modality: str = 'band',
               backend_args: Optional[dict] = None) -> np.ndarray:
    """Read single-band files into one HWC array on a common grid.

    Args:
        paths (Sequence[str | None]): One file per band, in band order; None
            is an all-zero band (e.g. S2's B10, absent from L2A products).
        size (tuple, optional): (H, W) to resample every band to; None keeps
            the first band's size and requires all to match.
        expected_sizes (Sequence[tuple | None], optional): Per band, the
            (H, W) the file must have (e.g. 264/132/44 for SSL4EO's 10/20/60
            m bands); a file of another size raises. Defaults to None.
        interpolation (int): OpenCV interpolation for resampling. Defaults
            to bilinear.
        modality (str): For error messages.
        backend_args (dict, optional): MMEngine file backend arguments.

    Returns:
        np.ndarray: (H, W, len(paths)), dtype of the band files.
    """
    bands, first = [None] * len(paths), None
    for i, path in enumerate(paths):
        if path is None:
            continue
        img = read_image(path, modality, cv2.IMREAD_UNCHANGED, backend_args)
        if img.shape[2] != 1:
            raise FileContentError(
                f'{modality} band file {path} has {img.shape[2]} bands, '
                'expected 1', path, 'bands')
        want = expected_sizes[i] if expected_sizes else None
        if want is not None and tuple(img.shape[:2]) != tuple(want):
            raise FileContentError(
                f'{modality} band file {path} is {img.shape[0]}x'
                f'{img.shape[1]}, expected {want[0]}x{want[1]}', path, 'size')
        if first is None:
            first = (path, img.dtype, img.shape[:2])
        elif img.dtype != first[1]:
            raise FileContentError(
                f'{modality} band file {path} is {img.dtype} but {first[0]} '
                f'is {first[1]}', path, 'dtype')
        bands[i] = img[..., 0]
    if first is None:
        raise ValueError(f'{modality}: no band file to read')
    out_hw = tuple(size) if size is not None else first[2]
    for i, band in enumerate(bands):
        if band is None:
            bands[i] = np.zeros(out_hw, first[1])
        elif band.shape != out_hw:
            if size is None:
                raise FileContentError(
                    f'{modality} band file {paths[i]} is {band.shape}, '
                    f'unlike {first[0]} {first[2]}', paths[i], 'size')
            bands[i] = cv2.resize(
                band, out_hw[::-1], interpolation=interpolation)
    return np.stack(bands, axis=-1)


_INTERPOLATIONS = dict(
    nearest=cv2.INTER_NEAREST,
    bilinear=cv2.INTER_LINEAR,
    bilinear_exact=cv2.INTER_LINEAR_EXACT,
    bicubic=cv2.INTER_CUBIC,
    area=cv2.INTER_AREA)


@TRANSFORMS.register_module()
class LoadBands(BaseTransform):
    """Read modalities stored as one file per band (Sentinel-1/2 tiles).

    **Required Keys:** ``band_paths`` (dict modality -> list of band file
    paths, None for an all-zero band); optional ``band_sizes`` (dict
    modality -> list of expected per-band (H, W)).

    **Added Keys:** ``imgs``, ``value_ranges``, ``ori_shape`` as
    :class:`LoadModalities`.

    Args:
        modalities (dict): Modality -> ``dict(size=None, interpolation=
            'bilinear', value_range=None, dtype=None)``: ``size`` (int or
            (H, W)) resamples every band to one grid; ``dtype`` is checked as
            in :class:`LoadModalities`.
        backend_args (dict, optional): MMEngine file backend arguments.
    """

    def __init__(self,
                 modalities: Dict[str, dict],
                 backend_args: Optional[dict] = None) -> None:
        self.modalities = {}
        for name, cfg in modalities.items():
            cfg = dict(cfg or {})
            unknown = set(cfg) - {
                'size', 'interpolation', 'value_range', 'dtype'
            }
            if unknown:
                raise ValueError(f'LoadBands: unknown option(s) '
                                 f'{sorted(unknown)} for {name!r}')
            size = cfg.get('size')
            if isinstance(size, int):
                size = (size, size)
            interp = cfg.get('interpolation', 'bilinear')
            if interp not in _INTERPOLATIONS:
                raise ValueError(f'interpolation must be one of '
                                 f'{list(_INTERPOLATIONS)}, got {interp!r}')
            self.modalities[name] = dict(
                size=size,
                interpolation=_INTERPOLATIONS[interp],
                value_range=cfg.get('value_range'),
                dtype=cfg.get('dtype'))
        self.backend_args = backend_args

    def transform(self, results: dict) -> dict:
        band_paths = results.get('band_paths') or {}
        band_sizes = results.get('band_sizes') or {}
        imgs = dict(results.get('imgs') or {})
        ranges = dict(results.get('value_ranges') or {})
        ori_shape = dict(results.get('ori_shape') or {})
        for name, cfg in self.modalities.items():
            if name not in band_paths:
                raise KeyError(f'band_paths has no entry for {name!r}')
            img = read_bands(band_paths[name], cfg['size'],
                             band_sizes.get(name), cfg['interpolation'], name,
                             self.backend_args)
            first = next(p for p in band_paths[name] if p is not None)
            check_dtype(img, cfg['dtype'], first, name)
            imgs[name] = img
            vr = cfg['value_range']
            if vr is None and np.issubdtype(img.dtype, np.integer):
                info = np.iinfo(img.dtype)
                vr = (float(info.min), float(info.max))
            ranges[name] = vr
            ori_shape[name] = img.shape[:2]
        results.update(imgs=imgs, value_ranges=ranges, ori_shape=ori_shape)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(modalities={list(self.modalities)})'


@TRANSFORMS.register_module()
class LoadModalities(BaseTransform):
    """Read one image per modality from ``results['img_paths']``.

    Each modality has a reader config with the keys:

    - ``color_order`` ('rgb' | 'bgr' | None): channel order wanted for a
      3- or 4-band colour image. OpenCV decodes colour as BGR(A); 'rgb'
      swaps the first and third band. None keeps the decoded order and is
      meant for non-colour data. Defaults to None.
    - ``value_range`` ((lo, hi) | None): the valid value range of the data,
      used by photometric ops to clip. None means the dtype's limits for
      integer data; float data has no implicit range and photometric ops
      refuse it until one is set. Defaults to None.
    - ``channels`` (int | None): expected band count; a file with another
      count raises. Defaults to None (any).
    - ``imread_flag`` (int): ``cv2.imdecode`` flag. Defaults to
      ``cv2.IMREAD_UNCHANGED`` (band count and dtype as stored).
    - ``dtype`` (str | None): required dtype kind of the stored data, e.g.
      ``'float'`` for a DEM in metres or ``'uint16'``; a file of another
      dtype raises. Defaults to None (any).

    **Required Keys:** ``img_paths`` (dict modality -> path).

    **Added Keys:** ``imgs`` (dict modality -> HWC array, dtype as read),
    ``value_ranges`` (dict modality -> (lo, hi) or None), ``ori_shape``
    (dict modality -> (H, W)). Modalities already in ``imgs`` from an
    earlier step are kept.

    Args:
        modalities (dict | Sequence[str]): Modality name -> reader config
            (see above); a sequence of names uses default configs.
        backend_args (dict, optional): MMEngine file backend arguments.
            Defaults to None.

    Examples:
        >>> load = LoadModalities(dict(rgb=dict(color_order='rgb'),
        ...                            hha=dict(color_order='rgb',
        ...                                     channels=3)))
    """

    def __init__(self,
                 modalities: Union[Dict[str, dict], Sequence[str]],
                 backend_args: Optional[dict] = None) -> None:
        if isinstance(modalities, str):
            modalities = (modalities, )
        if not isinstance(modalities, dict):
            modalities = {name: dict() for name in modalities}
        if not modalities:
            raise ValueError('LoadModalities needs at least one modality.')
        self.modalities = {}
        for name, cfg in modalities.items():
            cfg = dict(cfg or {})
            unknown = set(cfg) - set(_READER_KEYS)
            if unknown:
                raise ValueError(
                    f'Unknown reader option(s) {sorted(unknown)} for '
                    f'modality {name!r}; valid: {list(_READER_KEYS)}.')
            if cfg.get('color_order') not in (None, 'rgb', 'bgr'):
                raise ValueError(
                    f"color_order for modality {name!r} must be 'rgb', "
                    f"'bgr' or None, got {cfg['color_order']!r}")
            vr = cfg.get('value_range')
            if vr is not None:
                if len(vr) != 2 or not float(vr[0]) < float(vr[1]):
                    raise ValueError(f'value_range for modality {name!r} '
                                     f'must be (lo, hi) with lo < hi, got '
                                     f'{vr!r}')
                vr = (float(vr[0]), float(vr[1]))
            self.modalities[name] = dict(
                color_order=cfg.get('color_order'),
                value_range=vr,
                channels=cfg.get('channels'),
                imread_flag=cfg.get('imread_flag', cv2.IMREAD_UNCHANGED),
                dtype=cfg.get('dtype'))
        self.backend_args = backend_args

    def _load(self, name: str, path: Optional[str]) -> np.ndarray:
        cfg = self.modalities[name]
        if path is None:
            raise ValueError(f'No file path for modality {name!r} '
                             '(img_paths holds None).')
        img = read_image(path, name, cfg['imread_flag'], self.backend_args)
        bands = img.shape[2]
        if cfg['channels'] is not None and bands != cfg['channels']:
            raise FileContentError(
                f'{name} image {path} has {bands} band(s), expected '
                f"{cfg['channels']}.", path, 'bands')
        check_dtype(img, cfg['dtype'], path, name)
        if cfg['color_order'] == 'rgb' and bands in (3, 4):
            # Swap B and R; an alpha band stays last.
            img = np.ascontiguousarray(img[...,
                                           [2, 1, 0] + [3] * (bands == 4)])
        return img

    def _value_range(self, name: str, img: np.ndarray) -> Optional[tuple]:
        vr = self.modalities[name]['value_range']
        if vr is None and np.issubdtype(img.dtype, np.integer):
            info = np.iinfo(img.dtype)
            vr = (float(info.min), float(info.max))
        return vr

    def transform(self, results: dict) -> dict:
        """Read every configured modality.

        Args:
            results (dict): Result dict with ``img_paths``.

        Returns:
            dict: The results with ``imgs``, ``value_ranges`` and
            ``ori_shape`` added.
        """
        paths = results.get('img_paths') or {}
        missing = [name for name in self.modalities if name not in paths]
        if missing:
            raise KeyError(f'img_paths has no entry for modality(ies) '
                           f'{missing}; it has {sorted(paths)}.')
        imgs = dict(results.get('imgs') or {})
        value_ranges = dict(results.get('value_ranges') or {})
        ori_shape = results.get('ori_shape')
        ori_shape = dict(ori_shape) if isinstance(ori_shape, dict) else {}
        for name in self.modalities:
            img = self._load(name, paths[name])
            imgs[name] = img
            value_ranges[name] = self._value_range(name, img)
            ori_shape[name] = img.shape[:2]
        results['imgs'] = imgs
        results['value_ranges'] = value_ranges
        results['ori_shape'] = ori_shape
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(modalities={self.modalities}, '
                f'backend_args={self.backend_args})')


# The ignore index of every segmentation label map mmdecur produces (mmseg's
# default ``ignore_index``).
SEG_IGNORE_INDEX = 255
# Released GeoNRW labels: 0 = unlabeled, 1..10 = the classes of
# ``mmdecur.datasets.geonrw.GEONRW_CLASSES`` (kept here, not there, because
# ``datasets.geonrw`` imports the transforms package: no import cycle).
_GEONRW_MAX_LABEL = 10
_MAX_LISTED_VALUES = 20


def cmx_label_to_train_id(label: np.ndarray) -> np.ndarray:
    """CMX's label shift: ``label - 1`` on uint8.

    Void 0 wraps around to 255 (the ignore index) and class ``c`` becomes
    ``c - 1``. The subtraction is done in uint8 on purpose: through a
    signed type void would become -1 instead of 255.

    Args:
        label (np.ndarray): uint8 label map as stored.

    Returns:
        np.ndarray: uint8 label map of the same shape.
    """
    if label.dtype != np.uint8:
        raise ValueError(f'CMX labels must be uint8, got {label.dtype}')
    return label - np.uint8(1)


def geonrw_label_to_train_id(label: np.ndarray) -> np.ndarray:
    """Released GeoNRW labels (0..10) to train ids (0..9, 255 = ignore).

    0 (unlabeled) becomes 255 (the ignore index); class ``c`` in 1..10
    becomes ``c - 1``.

    Args:
        label (np.ndarray): Integer label map as stored (uint8).

    Returns:
        np.ndarray: uint8 label map of the same shape.

    Raises:
        ValueError: If ``label`` is not integer or holds values outside
            0..10 (they are listed).
    """
    label = np.asarray(label)
    if not np.issubdtype(label.dtype, np.integer):
        raise ValueError(f'GeoNRW labels must be integers, got {label.dtype}')
    bad = (label < 0) | (label > _GEONRW_MAX_LABEL)
    if bad.any():
        raise ValueError(
            f'GeoNRW labels must be in 0..{_GEONRW_MAX_LABEL}, found '
            f'{np.unique(label[bad]).tolist()}')
    # uint8 wrap-around turns 0 - 1 into 255, the ignore index.
    return (label.astype(np.uint8) - np.uint8(1)).astype(np.uint8)


def _listed(values: np.ndarray) -> str:
    values = np.unique(values).tolist()
    more = len(values) - _MAX_LISTED_VALUES
    text = str(values[:_MAX_LISTED_VALUES])
    return text if more <= 0 else f'{text[:-1]}, ... ({more} more)]'


@TRANSFORMS.register_module()
class LoadSegLabel(BaseTransform):
    """Read a semantic segmentation label map and map it to train ids.

    The file (PNG or TIFF) must hold ONE band of unsigned integers no
    larger than 255 (a colour or palette PNG, which OpenCV decodes to 3
    bands, is an error: labels must be class indices). It is converted to
    train ids by ``reduce``:

    - ``'cmx'``: CMX's ``label - 1`` on uint8 (:func:`cmx_label_to_train_id`:
      void 0 -> 255, class ``c`` -> ``c - 1``), NYUDv2/SUN-RGBD;
    - ``'geonrw'``: :func:`geonrw_label_to_train_id` (unlabeled 0 -> 255,
      ``c`` -> ``c - 1``; stored values above 10 are an error);
    - None: as stored.

    With ``num_classes``, every train id must then be ``< num_classes`` or
    255 (ignored): anything else would index past the classifier's logits
    or be silently counted as a class, so it is a
    :class:`~mmdecur.datasets.FileContentError` (kind ``'label'``) that
    names the file and lists the offending stored values.

    **Required Keys:** ``seg_map_path``.

    **Added Keys:** ``gt_seg_map`` (H×W uint8), ``seg_fields`` (with
    ``'gt_seg_map'`` appended, so every shared geometric transform moves
    the label with the images).

    Args:
        reduce (str, optional): 'cmx', 'geonrw' or None. Defaults to None.
        num_classes (int, optional): Number of classes; None skips the
            range check. Defaults to None.
        backend_args (dict, optional): MMEngine file backend arguments.
            Defaults to None.

    Examples:
        >>> load = LoadSegLabel(reduce='cmx', num_classes=40)
    """

    REDUCERS = dict(cmx=cmx_label_to_train_id, geonrw=geonrw_label_to_train_id)

    def __init__(self,
                 reduce: Optional[str] = None,
                 num_classes: Optional[int] = None,
                 backend_args: Optional[dict] = None) -> None:
        if reduce is not None and reduce not in self.REDUCERS:
            raise ValueError(f'reduce must be one of {list(self.REDUCERS)} or '
                             f'None, got {reduce!r}')
        if num_classes is not None and not 0 < num_classes <= \
                SEG_IGNORE_INDEX:
            raise ValueError(f'num_classes must be in 1..{SEG_IGNORE_INDEX}, '
                             f'got {num_classes}')
        self.reduce = reduce
        self.num_classes = num_classes
        self.backend_args = backend_args

    def read(self, path: str) -> np.ndarray:
        """Read the stored label map as H×W uint8 (no conversion).

        Args:
            path (str): Label file.

        Returns:
            np.ndarray: The stored values.
        """
        label = read_image(path, 'label', cv2.IMREAD_UNCHANGED,
                           self.backend_args)
        if label.shape[2] != 1:
            raise FileContentError(
                f'label file {path} has {label.shape[2]} bands, expected 1 '
                '(class indices; a colour or palette PNG is not a label '
                'map)', path, 'bands')
        label = label[..., 0]
        if not np.issubdtype(label.dtype, np.unsignedinteger):
            raise FileContentError(
                f'label file {path} holds {label.dtype} data, expected '
                'unsigned integers (uint8)', path, 'dtype')
        if label.dtype != np.uint8:
            too_big = label > np.iinfo(np.uint8).max
            if too_big.any():
                raise FileContentError(
                    f'label file {path} holds values above 255: '
                    f'{_listed(label[too_big])}', path, 'label')
            label = label.astype(np.uint8)
        return label

    def transform(self, results: dict) -> dict:
        """Read, convert and check the label map.

        Args:
            results (dict): Result dict with ``seg_map_path``.

        Returns:
            dict: The results with ``gt_seg_map`` and ``seg_fields``.
        """
        path = results.get('seg_map_path')
        if path is None:
            raise KeyError('LoadSegLabel needs "seg_map_path" in the results '
                           '(a dataset built with labels).')
        stored = self.read(path)
        label = stored
        if self.reduce is not None:
            try:
                label = self.REDUCERS[self.reduce](stored)
            except ValueError as e:
                raise FileContentError(f'label file {path}: {e}', path,
                                       'label') from e
        if self.num_classes is not None:
            bad = (label >= self.num_classes) & (label != SEG_IGNORE_INDEX)
            if bad.any():
                raise FileContentError(
                    f'label file {path} holds stored value(s) '
                    f'{_listed(stored[bad])}, train id(s) '
                    f'{_listed(label[bad])} with reduce={self.reduce!r}; '
                    f'valid train ids are 0..{self.num_classes - 1} and '
                    f'{SEG_IGNORE_INDEX} (ignored)', path, 'label')
        results['gt_seg_map'] = label
        fields = list(results.get('seg_fields') or [])
        if 'gt_seg_map' not in fields:
            fields.append('gt_seg_map')
        results['seg_fields'] = fields
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(reduce={self.reduce!r}, '
                f'num_classes={self.num_classes}, '
                f'backend_args={self.backend_args})')

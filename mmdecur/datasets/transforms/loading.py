# Copyright (c) mmdecur contributors. All rights reserved.
"""Per-modality image reading."""
from typing import Dict, Optional, Sequence, Union

import cv2
import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform

from mmdecur.registry import TRANSFORMS
from ..errors import FileContentError, MissingFileError, UnreadableFileError

__all__ = ['LoadModalities', 'read_image']

_READER_KEYS = ('color_order', 'value_range', 'channels', 'imread_flag')


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
                imread_flag=cfg.get('imread_flag', cv2.IMREAD_UNCHANGED))
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

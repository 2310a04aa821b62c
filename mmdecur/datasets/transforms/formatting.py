# Copyright (c) mmdecur contributors. All rights reserved.
"""Packing of multimodal samples into tensors and data samples."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmpretrain.structures import DataSample

from mmdecur.registry import TRANSFORMS

__all__ = ['PackMultiModalInputs', 'image_to_tensor']


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """HWC array -> CHW tensor; uint8 stays uint8, anything else float32.

    uint8 is kept so that the batch travels to the device small and is
    normalised there by the model's data preprocessor.

    Args:
        img (np.ndarray): HWC (or H×W) image.

    Returns:
        torch.Tensor: CHW tensor.
    """
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3:
        raise ValueError(f'Expected an HWC image, got shape {img.shape}')
    if img.dtype != np.uint8:
        img = img.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class PackMultiModalInputs(BaseTransform):
    """Pack views (or images) per modality and the sample's annotations.

    **Added Keys:**

    - ``inputs`` (dict): modality -> list of CHW tensors, one per view,
      if ``results`` has ``views``; otherwise modality -> CHW tensor from
      ``imgs``. After ``mmengine.dataset.default_collate`` a batch has
      ``inputs = {modality: [B×C×H×W tensor per view]}`` (or
      ``{modality: B×C×H×W}``).
    - ``data_samples`` (:obj:`mmpretrain.structures.DataSample`): the keys
      in ``meta_keys`` as metainfo, and each key in ``label_keys`` as a
      tensor data field (e.g. ``data_sample.gt_factors``).

    Keys in ``meta_keys``/``label_keys`` missing from ``results`` are
    skipped.

    Args:
        meta_keys (Sequence[str]): Keys stored as metainfo. Defaults to
            ``('sample_idx', 'img_paths', 'ori_shape', 'img_shape', 'flip',
            'flip_direction')``.
        label_keys (Sequence[str]): Keys stored as tensor data fields.
            Defaults to ``('gt_factors', )`` (the synthetic dataset's latent
            factors).
    """

    DEFAULT_META_KEYS = ('sample_idx', 'img_paths', 'ori_shape', 'img_shape',
                         'flip', 'flip_direction')

    def __init__(
        self,
        meta_keys: Sequence[str] = DEFAULT_META_KEYS,
        label_keys: Sequence[str] = ('gt_factors', )
    ) -> None:
        self.meta_keys = tuple(meta_keys)
        self.label_keys = tuple(label_keys)

    def transform(self, results: dict) -> dict:
        """Pack the inputs and the data sample.

        Args:
            results (dict): Result dict with ``views`` or ``imgs``.

        Returns:
            dict: ``dict(inputs=..., data_samples=...)``.
        """
        if 'views' in results:
            inputs = {
                name: [image_to_tensor(v) for v in views]
                for name, views in results['views'].items()
            }
        elif 'imgs' in results:
            inputs = {
                name: image_to_tensor(img)
                for name, img in results['imgs'].items()
            }
        else:
            raise KeyError('PackMultiModalInputs needs "views" or "imgs" in '
                           'the results.')
        data_sample = DataSample()
        for key in self.label_keys:
            if key in results:
                data_sample.set_field(torch.as_tensor(results[key]), key)
        data_sample.set_metainfo(
            {k: results[k]
             for k in self.meta_keys if k in results})
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(meta_keys={self.meta_keys}, '
                f'label_keys={self.label_keys})')

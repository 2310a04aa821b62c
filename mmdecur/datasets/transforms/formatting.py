# Copyright (c) mmdecur contributors. All rights reserved.
"""Packing of multimodal samples into tensors and data samples."""
from typing import Sequence, Tuple

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmpretrain.structures import DataSample
from mmseg.structures import SegDataSample

from mmdecur.registry import TRANSFORMS
from .geometric import common_hw

__all__ = [
    'PackMultiModalInputs', 'PackMultiModalClsInputs',
    'PackMultiModalSegInputs', 'image_to_tensor'
]


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


@TRANSFORMS.register_module()
class PackMultiModalClsInputs(PackMultiModalInputs):
    """:class:`PackMultiModalInputs` with a classification target.

    ``gt_label`` (class indices, e.g. BigEarthNet's 19-class indices; may
    be empty) goes through ``DataSample.set_gt_label``, the field
    mmpretrain's heads (multi-hot targets for multi-label heads) and
    metrics read.

    **Added Keys:** ``inputs``, ``data_samples`` (with ``gt_label`` as a
    1-D int64 tensor when ``results`` has it).

    Args:
        meta_keys (Sequence[str]): Keys stored as metainfo. Defaults to
            :attr:`PackMultiModalInputs.DEFAULT_META_KEYS`.
        label_keys (Sequence[str]): Other keys stored as tensor data fields.
            Defaults to ().
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = PackMultiModalInputs.DEFAULT_META_KEYS,
        label_keys: Sequence[str] = ()
    ) -> None:
        super().__init__(meta_keys=meta_keys, label_keys=label_keys)

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if 'gt_label' in results:
            label = np.asarray(results['gt_label'], dtype=np.int64)
            packed['data_samples'].set_gt_label(label.reshape(-1))
        return packed


def _common_ori_shape(results: dict) -> Tuple[int, int]:
    """The one original (H, W) of co-registered modalities.

    ``LoadModalities`` records ``ori_shape`` per modality; mmseg reads one
    (H, W) (it resizes the logits to it), which is only meaningful when all
    modalities share it.
    """
    ori = results.get('ori_shape')
    if ori is None:
        return common_hw(results)
    if not isinstance(ori, dict):
        return tuple(int(x) for x in ori[:2])
    shapes = {name: tuple(int(x) for x in hw[:2]) for name, hw in ori.items()}
    if len(set(shapes.values())) != 1:
        paths = results.get('img_paths') or {}
        desc = ', '.join(f'{name} {hw[0]}x{hw[1]} ({paths.get(name)})'
                         for name, hw in shapes.items())
        raise ValueError(
            'co-registration required: segmentation needs every modality '
            f'on one grid, but the original sizes differ: {desc}.')
    return next(iter(shapes.values()))


@TRANSFORMS.register_module()
class PackMultiModalSegInputs(BaseTransform):
    """Pack co-registered modalities and their label for mmseg.

    **Added Keys:**

    - ``inputs`` (dict): modality -> CHW tensor (uint8 stays uint8, any
      other dtype becomes float32; see :func:`image_to_tensor`).
    - ``data_samples`` (:obj:`mmseg.structures.SegDataSample`):
      ``gt_sem_seg`` = ``PixelData(data=1×H×W int64)`` when ``gt_seg_map``
      is present, and the metainfo below.

    Metainfo (what mmseg's ``EncoderDecoder.postprocess_result``,
    ``IoUMetric`` and ``SegLocalVisualizer`` read, plus mmdecur's keys):

    - ``img_path``: the first modality's file (mmseg's single-image key);
      ``img_paths``: the dict of all of them;
    - ``ori_shape``: one (H, W) tuple; a per-modality dict (from
      ``LoadModalities``) must agree across modalities, else an error;
    - ``img_shape``: (H, W) of the packed inputs (images and label are
      checked to share it);
    - ``flip`` (False unless flipped), ``flip_direction`` (None unless
      flipped), ``reduce_zero_label`` (always False: ``LoadSegLabel``
      already produced train ids);
    - every other key of ``meta_keys`` present in ``results`` (e.g.
      ``seg_map_path``, ``scale_factor``, ``sample_idx``).

    A batch of these goes through ``mmengine.dataset.pseudo_collate`` (as
    in mmseg): ``inputs = {modality: [CHW tensor, ...]}``, since test
    images differ in size; the data preprocessor pads and stacks them.

    Args:
        meta_keys (Sequence[str]): Metainfo keys. Defaults to
            :attr:`DEFAULT_META_KEYS`.
    """

    DEFAULT_META_KEYS = ('img_path', 'img_paths', 'seg_map_path', 'ori_shape',
                         'img_shape', 'scale_factor', 'flip', 'flip_direction',
                         'reduce_zero_label', 'sample_idx')

    def __init__(self, meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)

    def _metainfo(self, results: dict) -> dict:
        paths = results.get('img_paths') or {}
        derived = dict(
            img_path=next(iter(paths.values()), None),
            ori_shape=_common_ori_shape(results),
            img_shape=tuple(common_hw(results)),
            flip=bool(results.get('flip', False)),
            flip_direction=results.get('flip_direction'),
            reduce_zero_label=False)
        meta = {}
        for key in self.meta_keys:
            if key in derived:
                meta[key] = derived[key]
            elif key in results:
                meta[key] = results[key]
        return meta

    def transform(self, results: dict) -> dict:
        """Pack the inputs and the data sample.

        Args:
            results (dict): Result dict with ``imgs`` and, if labelled,
                ``gt_seg_map``.

        Returns:
            dict: ``dict(inputs=..., data_samples=...)``.
        """
        if not results.get('imgs'):
            raise KeyError('PackMultiModalSegInputs needs "imgs" in the '
                           'results.')
        inputs = {
            name: image_to_tensor(img)
            for name, img in results['imgs'].items()
        }
        data_sample = SegDataSample()
        if 'gt_seg_map' in results:
            label = results['gt_seg_map']
            if label.ndim != 2:
                raise ValueError(f'gt_seg_map must be H×W, got shape '
                                 f'{label.shape}')
            # Flips leave negative strides, which torch cannot wrap.
            data = torch.from_numpy(np.ascontiguousarray(label)[None]).long()
            data_sample.gt_sem_seg = PixelData(data=data)
        data_sample.set_metainfo(self._metainfo(results))
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'

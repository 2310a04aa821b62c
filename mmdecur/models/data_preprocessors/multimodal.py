# Copyright (c) mmdecur contributors. All rights reserved.
from typing import List, Mapping, Optional, Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor
from torch import Tensor

from mmdecur.registry import MODELS
from .batch_augment import BatchAugment

ViewBatch = Union[Tensor, Sequence[Tensor]]


def ordered_modalities(modalities: Mapping[str, Mapping],
                       order: Optional[Sequence[str]] = None) -> List[str]:
    """The names of ``modalities`` in ``order`` (default: key order)."""
    if order is None:
        return list(modalities)
    order = list(order)
    if len(set(order)) != len(order) or set(order) != set(modalities):
        raise ValueError(
            f'modality_order {order} must name each modality of the data '
            f'preprocessor once: {sorted(modalities)}')
    return order


@MODELS.register_module()
class MultiModalDataPreprocessor(BaseDataPreprocessor):
    """Normalise every modality with its own statistics, on the device.

    Takes the collated ``inputs`` of :class:`PackMultiModalInputs`, i.e. per
    modality either a list of views (each a batch tensor (B, C, H, W) or a
    list of per-sample (C, H, W) tensors) or a single batch, casts to float,
    optionally reverses a 3-band channel order, and applies
    ``(x - mean) / std``. Unlike mmseg's ``bgr_to_rgb`` (silently skipped
    unless C == 3), a channel-order request that cannot apply is an error.

    With ``batch_augments``, training batches are augmented on the device
    first (after the copy, before normalisation), with the same
    distributions as the CPU transforms (see
    :mod:`mmdecur.models.data_preprocessors.batch_augment`); the CPU
    pipeline then only loads, makes the views and packs them.

    Args:
        modalities (dict): Per modality name a dict with ``mean`` and
            ``std`` (one value per band, in the band order of the data) and
            optionally ``bgr_to_rgb`` (bool, 3-band data only) and
            ``value_range`` ((lo, hi) of the data for the batch
            augmentations; uint8 data defaults to (0, 255), float data
            needs it for jitter and solarize). Every modality in the data
            must be configured here.
        non_blocking (bool): Asynchronous host-to-device copies: they
            overlap with compute when the DataLoader pins memory
            (``pin_memory=True``) and are ordinary copies otherwise; the
            results are the same. Defaults to True.
        batch_augments (dict, optional): ``dict(transforms=dict(modality=
            [op configs] or per-view lists), shared=None, seed=None)``; the
            op configs may be the CPU view pipelines' dicts (see
            :class:`BatchAugment`). Applied only when ``training``.
            Defaults to None.
        modality_order (Sequence[str], optional): The order of
            ``modalities`` (modality 1, 2, ...: the order of the encoders,
            of fused features, of the loss pairs), if not their key order.
            MMEngine writes configs with sorted dict keys, so
            ``tools/train.py`` and ``tools/test.py`` pin the order here
            (:func:`mmdecur.apis.pin_modality_order`) before the work dir's
            copy of the config is written. Must name the same modalities.
            Defaults to None.
    """

    def __init__(self,
                 modalities: Mapping[str, Mapping],
                 non_blocking: bool = True,
                 batch_augments: Optional[dict] = None,
                 modality_order: Optional[Sequence[str]] = None) -> None:
        super().__init__(non_blocking=non_blocking)
        if not modalities:
            raise ValueError('MultiModalDataPreprocessor needs at least one '
                             'modality')
        self.modalities = ordered_modalities(modalities, modality_order)
        self.bgr_to_rgb = {}
        self.value_ranges = {}
        for name, cfg in modalities.items():
            unknown = set(cfg) - {'mean', 'std', 'bgr_to_rgb', 'value_range'}
            if unknown:
                raise KeyError(f'modality {name!r}: unknown keys '
                               f'{sorted(unknown)}')
            mean = torch.as_tensor(cfg['mean'], dtype=torch.float32)
            std = torch.as_tensor(cfg['std'], dtype=torch.float32)
            if mean.dim() != 1 or mean.shape != std.shape:
                raise ValueError(
                    f'modality {name!r}: mean and std need one value per '
                    f'band, got {tuple(mean.shape)} and {tuple(std.shape)}')
            if bool((std <= 0).any()):
                raise ValueError(f'modality {name!r}: std must be positive')
            self.bgr_to_rgb[name] = bool(cfg.get('bgr_to_rgb', False))
            if self.bgr_to_rgb[name] and mean.numel() != 3:
                raise ValueError(
                    f'modality {name!r}: bgr_to_rgb needs 3 bands, but '
                    f'mean/std have {mean.numel()}')
            self.register_buffer(
                f'{name}_mean', mean.view(1, -1, 1, 1), persistent=False)
            self.register_buffer(
                f'{name}_std', std.view(1, -1, 1, 1), persistent=False)
            vr = cfg.get('value_range')
            if vr is not None and (len(vr) != 2 or not vr[0] < vr[1]):
                raise ValueError(f'modality {name!r}: value_range must be '
                                 f'(lo, hi) with lo < hi, got {vr!r}')
            self.value_ranges[name] = None if vr is None else tuple(
                float(v) for v in vr)
        self.batch_augments = None if batch_augments is None else \
            BatchAugment(**batch_augments, modalities=self.modalities)

    def num_bands(self, modality: str) -> int:
        return getattr(self, f'{modality}_mean').shape[1]

    def forward(self, data: dict, training: bool = False) -> dict:
        """Normalise ``data['inputs']``.

        Returns:
            dict: ``inputs`` (per modality a list of (B, C, H, W) float
            views, or one tensor if the input had no views) and the
            unchanged ``data_samples``.
        """
        data = self.cast_data(data)
        inputs = data['inputs']
        if not isinstance(inputs, Mapping):
            raise TypeError('MultiModalDataPreprocessor expects inputs as a '
                            f'dict of modalities, got {type(inputs).__name__}')
        unknown = [m for m in inputs if m not in self.modalities]
        if unknown:
            raise KeyError(f'the data has modalities {unknown} that the data '
                           f'preprocessor does not know ({self.modalities})')
        batches = {}
        for name, views in inputs.items():
            if isinstance(views,
                          Tensor) or (isinstance(views, Sequence) and all(
                              isinstance(v, Tensor) and v.dim() == 3
                              for v in views)):
                batches[name] = self._stack(name, views)  # no views
            else:
                batches[name] = [self._stack(name, v) for v in views]
        if training and self.batch_augments is not None:
            batches = self.batch_augments(batches, self.value_ranges)
        out = {
            name:
            self._normalize(name, b) if isinstance(b, Tensor) else
            [self._normalize(name, v) for v in b]
            for name, b in batches.items()
        }
        return dict(inputs=out, data_samples=data.get('data_samples'))

    def _stack(self, name: str, batch: ViewBatch) -> Tensor:
        """One view as a checked (B, C, H, W) batch of its own dtype."""
        if not isinstance(batch, Tensor):
            shapes = {tuple(x.shape) for x in batch}
            if len(shapes) > 1:
                raise ValueError(f'modality {name!r}: samples of one view '
                                 f'differ in shape {sorted(shapes)}; crop or '
                                 'resize them to one size in the pipeline')
            batch = torch.stack(list(batch))
        if batch.dim() != 4:
            raise ValueError(f'modality {name!r}: expected (B, C, H, W), got '
                             f'{tuple(batch.shape)}')
        bands = self.num_bands(name)
        if batch.shape[1] != bands:
            raise ValueError(
                f'modality {name!r} has {batch.shape[1]} bands but its mean/'
                f'std in the data preprocessor have {bands}')
        return batch

    def _normalize(self, name: str, batch: ViewBatch) -> Tensor:
        batch = self._stack(name, batch)
        # The statistics' dtype: float32, or float64 after model.double().
        batch = batch.to(getattr(self, f'{name}_mean').dtype)
        if self.bgr_to_rgb[name]:
            batch = batch.flip(1)
        return (batch - getattr(self, f'{name}_mean')) / getattr(
            self, f'{name}_std')

    def extra_repr(self) -> str:
        extra = f'modalities={self.modalities}'
        if self.batch_augments is not None:
            extra += f', batch_augments={self.batch_augments}'
        return extra

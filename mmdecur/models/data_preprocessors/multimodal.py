# Copyright (c) mmdecur contributors. All rights reserved.
from typing import Mapping, Sequence, Union

import torch
from mmengine.model import BaseDataPreprocessor
from torch import Tensor

from mmdecur.registry import MODELS

ViewBatch = Union[Tensor, Sequence[Tensor]]


@MODELS.register_module()
class MultiModalDataPreprocessor(BaseDataPreprocessor):
    """Normalise every modality with its own statistics, on the device.

    Takes the collated ``inputs`` of :class:`PackMultiModalInputs`, i.e. per
    modality either a list of views (each a batch tensor (B, C, H, W) or a
    list of per-sample (C, H, W) tensors) or a single batch, casts to float,
    optionally reverses a 3-band channel order, and applies
    ``(x - mean) / std``. Unlike mmseg's ``bgr_to_rgb`` (silently skipped
    unless C == 3), a channel-order request that cannot apply is an error.

    Args:
        modalities (dict): Per modality name a dict with ``mean`` and
            ``std`` (one value per band, in the band order of the data) and
            optionally ``bgr_to_rgb`` (bool, 3-band data only). Every
            modality in the data must be configured here.
        non_blocking (bool): Asynchronous host-to-device copies.
            Defaults to False.
    """

    def __init__(self,
                 modalities: Mapping[str, Mapping],
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        if not modalities:
            raise ValueError('MultiModalDataPreprocessor needs at least one '
                             'modality')
        self.modalities = list(modalities)
        self.bgr_to_rgb = {}
        for name, cfg in modalities.items():
            unknown = set(cfg) - {'mean', 'std', 'bgr_to_rgb'}
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
        out = {}
        for name, views in inputs.items():
            if isinstance(views,
                          Tensor) or (isinstance(views, Sequence) and all(
                              isinstance(v, Tensor) and v.dim() == 3
                              for v in views)):
                out[name] = self._normalize(name, views)  # no views
            else:
                out[name] = [self._normalize(name, v) for v in views]
        return dict(inputs=out, data_samples=data.get('data_samples'))

    def _normalize(self, name: str, batch: ViewBatch) -> Tensor:
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
        # The statistics' dtype: float32, or float64 after model.double().
        batch = batch.to(getattr(self, f'{name}_mean').dtype)
        if self.bgr_to_rgb[name]:
            batch = batch.flip(1)
        return (batch - getattr(self, f'{name}_mean')) / getattr(
            self, f'{name}_std')

    def extra_repr(self) -> str:
        return f'modalities={self.modalities}'

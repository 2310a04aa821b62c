# Copyright (c) mmdecur contributors. All rights reserved.
from numbers import Number
from typing import Mapping, Optional, Sequence, Tuple

import torch
from mmseg.utils import stack_batch

from mmdecur.registry import MODELS
from .multimodal import MultiModalDataPreprocessor


@MODELS.register_module()
class MultiModalSegDataPreProcessor(MultiModalDataPreprocessor):
    """Per-modality normalisation + mmseg's batching for segmentation.

    Normalises every modality with its own statistics (see
    :class:`MultiModalDataPreprocessor`), then pads like mmseg's
    ``SegDataPreProcessor``: in training to ``size`` (or a multiple of
    ``size_divisor``) with ``pad_val`` for images and ``seg_pad_val`` for
    labels, updating ``pad_shape``/``padding_size`` in the data samples; in
    testing only if ``test_cfg`` asks for it. All modalities are padded
    identically, so they stay co-registered with each other and the label.

    Args:
        modalities (dict): Modality -> ``dict(mean, std, bgr_to_rgb)``.
        size (tuple, optional): Fixed padding size (H, W) in training.
        size_divisor (int, optional): Pad to a multiple of this.
        pad_val (float): Image padding value (after normalisation).
            Defaults to 0.
        seg_pad_val (int): Label padding value. Defaults to 255.
        test_cfg (dict, optional): ``size``/``size_divisor`` at test time.
        non_blocking (bool): Asynchronous host-to-device copies (see
            :class:`MultiModalDataPreprocessor`). Defaults to True.
        modality_order (Sequence[str], optional): The order of
            ``modalities`` if not their key order (see
            :class:`MultiModalDataPreprocessor`). Defaults to None.
    """

    def __init__(self,
                 modalities: Mapping[str, Mapping],
                 size: Optional[Tuple[int, int]] = None,
                 size_divisor: Optional[int] = None,
                 pad_val: Number = 0,
                 seg_pad_val: Number = 255,
                 test_cfg: Optional[dict] = None,
                 non_blocking: bool = True,
                 modality_order: Optional[Sequence[str]] = None) -> None:
        super().__init__(
            modalities=modalities,
            non_blocking=non_blocking,
            modality_order=modality_order)
        self.size = size
        self.size_divisor = size_divisor
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val
        self.test_cfg = test_cfg

    def _normalize_samples(self, name: str,
                           samples: Sequence[torch.Tensor]) -> list:
        if isinstance(samples, torch.Tensor):
            samples = list(samples)  # an already stacked batch
        return [self._normalize(name, x[None])[0] for x in samples]

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        data_samples = data.get('data_samples')
        unknown = [m for m in inputs if m not in self.modalities]
        if unknown:
            raise KeyError(f'the data has modalities {unknown} that the data '
                           f'preprocessor does not know ({self.modalities})')
        normalized = {
            m: self._normalize_samples(m, x)
            for m, x in inputs.items()
        }
        shapes = {
            m: [tuple(x.shape[1:]) for x in xs]
            for m, xs in normalized.items()
        }
        first = next(iter(shapes.values()))
        for m, s in shapes.items():
            if s != first:
                raise ValueError(
                    f'segmentation modalities must be co-registered, but '
                    f'{m!r} has sizes {s} and {next(iter(shapes))!r} has '
                    f'{first}')

        pad = None
        if training:
            pad = dict(size=self.size, size_divisor=self.size_divisor)
        elif self.test_cfg:
            pad = dict(
                size=self.test_cfg.get('size'),
                size_divisor=self.test_cfg.get('size_divisor'))
        out = {}
        for i, (m, xs) in enumerate(normalized.items()):
            if pad is None:
                if len(set(shapes[m])) > 1:
                    raise ValueError(
                        f'modality {m!r}: test images of one batch differ '
                        f'in size {sorted(set(shapes[m]))}; use batch size 1 '
                        'or set test_cfg size/size_divisor')
                out[m] = torch.stack(xs)
                continue
            if training:
                # Labels (and their metainfo) are padded once, with the
                # first modality; the others get the same padding.
                out[m], padded = stack_batch(
                    inputs=xs,
                    data_samples=data_samples if i == 0 else None,
                    pad_val=self.pad_val,
                    seg_pad_val=self.seg_pad_val,
                    **pad)
                if i == 0 and data_samples is not None:
                    data_samples = padded
            else:  # labels stay as they are for the metric
                out[m], pad_infos = stack_batch(
                    inputs=xs, pad_val=self.pad_val, **pad)
                if i == 0 and data_samples is not None:
                    for sample, info in zip(data_samples, pad_infos):
                        sample.set_metainfo(info)
        return dict(inputs=out, data_samples=data_samples)

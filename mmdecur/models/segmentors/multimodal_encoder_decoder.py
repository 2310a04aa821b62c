# Copyright (c) mmdecur contributors. All rights reserved.
import copy
from typing import Dict, List, Optional

import torch.nn.functional as F
from mmseg.models.segmentors import EncoderDecoder
from mmseg.utils import SampleList
from torch import Tensor

from mmdecur.models.data_preprocessors.multimodal import ordered_modalities
from mmdecur.models.utils.modality_drop import (blank_modalities,
                                                parse_drop_modalities)
from mmdecur.models.utils.shape_check import ShapeCheckedLoadMixin
from mmdecur.registry import MODELS

Inputs = Dict[str, Tensor]


def _spatial_size(inputs: Inputs):
    return next(iter(inputs.values())).shape[2:]


@MODELS.register_module()
class MultiModalEncoderDecoder(ShapeCheckedLoadMixin, EncoderDecoder):
    """mmseg's ``EncoderDecoder`` for a dict of co-registered modalities.

    ``inputs`` is ``{modality: (N, C_m, H, W)}``; the backbone (e.g.
    :class:`MultiModalEncoder` or :class:`CMXBackbone`) fuses them. Training,
    the decode/auxiliary heads and post-processing are mmseg's; inference is
    rewritten for dict inputs:

    - ``test_cfg.mode='whole'`` or ``'slide'`` (``crop_size``, ``stride``):
      every window is cut from every modality at the same place;
    - ``test_cfg.tta=dict(scales=(0.75, 1.0, 1.25), flip=True)``:
      multi-scale + horizontal-flip test-time augmentation, averaging the
      softmax probabilities of all passes (each at the input's resolution);
    - ``test_cfg.drop_modalities=['hha']``: modality-missing evaluation. In
      :meth:`predict` (the val and test loops) each named modality's input
      is replaced by its mean image, i.e. zeros after the data
      preprocessor's normalisation (or ``dict(hha=value)``: that value in
      normalised units, see :mod:`mmdecur.models.utils.modality_drop`), for
      every window and TTA pass; the other modalities are untouched, and
      training (:meth:`loss`) never drops anything. Works with any backbone
      that lists its ``modalities`` (:class:`MultiModalEncoder`,
      :class:`CMXBackbone`); unknown names are an error.

    Loading a checkpoint whose tensors do not fit the model (e.g. a DeCUR
    RN50 into an RN18 segmentor) is an error naming the keys, not a warning.

    Args are those of :class:`mmseg.models.EncoderDecoder`.
    """

    def __init__(self,
                 backbone: dict,
                 decode_head: dict,
                 data_preprocessor: Optional[dict] = None,
                 **kwargs) -> None:
        backbone = copy.deepcopy(backbone)
        if isinstance(data_preprocessor, dict):
            modalities = data_preprocessor.get('modalities')
            modalities = modalities and ordered_modalities(
                modalities, data_preprocessor.get('modality_order'))
        else:
            modalities = getattr(data_preprocessor, 'modalities', None)
        encoders = backbone.get('encoders', {'type': 0})
        per_modality = 'type' not in encoders
        if modalities and not backbone.get('modalities') and (
                not per_modality or set(encoders) == set(modalities)):
            # The dataset's modalities (data preprocessor) pick the encoders
            # and their order (a config's dict keys may have been sorted).
            backbone['modalities'] = list(modalities)
        if isinstance(data_preprocessor, dict):
            # Built in our scope (see MultiModalSelfSupervisor).
            data_preprocessor = MODELS.build(data_preprocessor)
        if hasattr(data_preprocessor, 'num_bands'):
            bands = {
                m: data_preprocessor.num_bands(m)
                for m in (backbone.get('modalities') or [])
                if m in data_preprocessor.modalities
            }
            in_channels = dict(bands, **(backbone.get('in_channels') or {}))
            if in_channels:
                backbone['in_channels'] = in_channels
        super().__init__(
            backbone=backbone,
            decode_head=decode_head,
            data_preprocessor=data_preprocessor,
            **kwargs)
        self._dropped_modalities()  # bad names fail when the model is built

    def _dropped_modalities(self) -> dict:
        drop = self.test_cfg.get('drop_modalities') if self.test_cfg else None
        modalities = getattr(self.backbone, 'modalities', None) or getattr(
            self.data_preprocessor, 'modalities', None) or ()
        return parse_drop_modalities(drop, modalities, type(self).__name__)

    def _init_decode_head(self, decode_head: dict) -> None:
        decode_head = copy.deepcopy(decode_head)
        channels = getattr(self.backbone, 'featmap_channels', None)
        if decode_head.get('in_channels') is None and channels:
            in_index = decode_head.get('in_index')
            decode_head['in_channels'] = (
                list(channels)
                if in_index is None else [channels[i] for i in in_index]
                if isinstance(in_index, (list, tuple)) else channels[in_index])
        super()._init_decode_head(decode_head)

    def extract_feat(self, inputs: Inputs) -> List[Tensor]:
        x = self.backbone(inputs)
        if self.with_neck:
            x = self.neck(x)
        return x

    def encode_decode(self, inputs: Inputs,
                      batch_img_metas: List[dict]) -> Tensor:
        x = self.extract_feat(inputs)
        return self.decode_head.predict(x, batch_img_metas, self.test_cfg)

    def predict(self,
                inputs: Inputs,
                data_samples: Optional[SampleList] = None) -> SampleList:
        if data_samples is not None:
            batch_img_metas = [s.metainfo for s in data_samples]
        else:
            size = tuple(_spatial_size(inputs))
            batch = next(iter(inputs.values())).shape[0]
            batch_img_metas = [
                dict(
                    ori_shape=size,
                    img_shape=size,
                    pad_shape=size,
                    padding_size=[0, 0, 0, 0])
            ] * batch
        fills = self._dropped_modalities()
        if fills:
            inputs = blank_modalities(inputs, fills)
        seg_logits = self.inference(inputs, batch_img_metas)
        return self.postprocess_result(seg_logits, data_samples)

    def inference(self, inputs: Inputs, batch_img_metas: List[dict]) -> Tensor:
        tta = self.test_cfg.get('tta') if self.test_cfg else None
        if not tta:
            return self._single_inference(inputs, batch_img_metas)
        size = _spatial_size(inputs)
        probs = 0
        passes = 0
        for scale in tta.get('scales', (1.0, )):
            scaled = inputs if scale == 1.0 else {
                m:
                F.interpolate(
                    x,
                    scale_factor=scale,
                    mode='bilinear',
                    align_corners=False)
                for m, x in inputs.items()
            }
            for flip in ((False, True) if tta.get('flip', False) else
                         (False, )):
                x = {m: v.flip(3) for m, v in scaled.items()} if flip \
                    else scaled
                metas = [
                    dict(meta, img_shape=tuple(_spatial_size(x)))
                    for meta in batch_img_metas
                ]
                logits = self._single_inference(x, metas)
                if flip:
                    logits = logits.flip(3)
                logits = F.interpolate(
                    logits,
                    size=size,
                    mode='bilinear',
                    align_corners=self.align_corners)
                probs = probs + logits.softmax(dim=1)
                passes += 1
        return probs / passes

    def _single_inference(self, inputs: Inputs,
                          batch_img_metas: List[dict]) -> Tensor:
        mode = self.test_cfg.get('mode', 'whole')
        if mode == 'slide':
            return self.slide_inference(inputs, batch_img_metas)
        if mode == 'whole':
            return self.encode_decode(inputs, batch_img_metas)
        raise ValueError(f"test_cfg.mode must be 'whole' or 'slide', got "
                         f'{mode!r}')

    def slide_inference(self, inputs: Inputs,
                        batch_img_metas: List[dict]) -> Tensor:
        """Overlapping windows over every modality at the same positions,
        logits averaged where windows overlap."""
        h_stride, w_stride = self.test_cfg['stride']
        h_crop, w_crop = self.test_cfg['crop_size']
        h_img, w_img = _spatial_size(inputs)
        ref = next(iter(inputs.values()))
        h_grids = max(h_img - h_crop + h_stride - 1, 0) // h_stride + 1
        w_grids = max(w_img - w_crop + w_stride - 1, 0) // w_stride + 1
        preds = ref.new_zeros((ref.shape[0], self.out_channels, h_img, w_img))
        count = ref.new_zeros((ref.shape[0], 1, h_img, w_img))
        for h_idx in range(h_grids):
            for w_idx in range(w_grids):
                y2 = min(h_idx * h_stride + h_crop, h_img)
                x2 = min(w_idx * w_stride + w_crop, w_img)
                y1, x1 = max(y2 - h_crop, 0), max(x2 - w_crop, 0)
                crop = {m: x[:, :, y1:y2, x1:x2] for m, x in inputs.items()}
                metas = [
                    dict(meta, img_shape=(y2 - y1, x2 - x1))
                    for meta in batch_img_metas
                ]
                logits = self.encode_decode(crop, metas)
                preds[:, :, y1:y2, x1:x2] += logits
                count[:, :, y1:y2, x1:x2] += 1
        return preds / count

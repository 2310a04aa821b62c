# Copyright (c) mmdecur contributors. All rights reserved.
import copy
from typing import Dict, List, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample
from torch import Tensor

from mmdecur.models.utils.modality_drop import (blank_modalities,
                                                parse_drop_modalities)
from mmdecur.models.utils.shape_check import ShapeCheckedLoadMixin
from mmdecur.registry import MODELS

__all__ = ['LateFusionClassifier']


@MODELS.register_module()
class LateFusionClassifier(ShapeCheckedLoadMixin, BaseModel):
    """Late-fusion classifier: one encoder per modality, pooled features
    concatenated, one head.

    DeCUR's SAR-optical transfer (BigEarthNet-MM): the pooled features of
    the SAR and the optical encoder, concatenated in modality order, go
    through one linear layer to the 19 classes (mmpretrain's
    ``MultiLabelLinearClsHead``). With a single modality it is the SAR-only
    or optical-only model (encoder -> linear).

    **Weights.** Encoders live in ``backbones.<modality>``, the attribute
    and keys of the pretraining model (:class:`MultiModalSelfSupervisor`),
    so a DeCUR checkpoint loads directly, e.g. with
    ``init_cfg=dict(type='Pretrained', checkpoint='decur.pth')`` or
    ``load_from``. Where a modality is named differently in pretraining
    (SSL4EO-S12 ``'s2c'``, BigEarthNet ``'s2'``), ``pretrained_modalities``
    maps it: while loading, ``backbones.<pretrained name>.*`` becomes
    ``backbones.<modality>.*`` unless the checkpoint already holds
    ``backbones.<modality>.*`` (a checkpoint of this classifier); each
    rename is logged. A checkpoint may have more modalities than the
    classifier (e.g. SSL4EO-S12 ``s1``/``s2c``/``s2a``): the mapping picks
    the encoders, e.g. ``dict(s2='s2a')`` for the L2A one. Projectors and
    unused encoders of the checkpoint are left to MMEngine (reported as
    unexpected keys). Errors, instead of MMEngine's warnings:

    - a tensor whose shape does not fit (e.g. a 13-band ``conv1`` into the
      2-band SAR encoder): ``ValueError`` naming the key;
    - a checkpoint with no tensor for an encoder: ``KeyError`` naming it.

    **Linear probing** (``frozen=True``): the encoders get no gradients and
    stay in eval mode (BatchNorm statistics are the pretrained ones); only
    the head trains. Otherwise everything is fine-tuned.

    **Modality-missing evaluation** (``test_cfg=dict(drop_modalities=[...])``):
    in :meth:`predict` (the val and test loops) each named modality's input
    is replaced by a constant image: 0 after normalisation, or the value of
    ``dict(s1=0.5)`` (normalised units; 0.5 is the band mean under the
    ``StatsScale`` pipelines of SSL4EO-S12/BigEarthNet, whose preprocessor
    only divides by 255). See :mod:`mmdecur.models.utils.modality_drop`.
    ``loss`` and ``'tensor'`` mode never drop anything.

    Args:
        backbone (dict): One backbone config (with ``type``), built once per
            modality, or a dict of configs keyed by modality.
            ``out_type='pooled'`` is set; ``in_channels``, unless given, is
            the modality's band count in the data preprocessor.
        head (dict): Head config; ``in_channels`` defaults to the sum of the
            encoders' ``out_channels``.
        modalities (Sequence[str], optional): Modalities in fusion order.
            Defaults to the data preprocessor's.
        in_channels (dict, optional): Per-modality ``in_channels``.
        frozen (bool): Linear probing. Defaults to False.
        pretrained_modalities (dict, optional): Modality -> its name in the
            pretraining checkpoint, for those that differ (e.g.
            ``dict(s2='s2c')``). Keys may be modalities of the data
            preprocessor that this classifier does not use (single-modality
            configs inherit the fused one's); others are an error.
            Defaults to None (same names).
        test_cfg (dict, optional): ``drop_modalities``, see above.
            Defaults to None.
        data_preprocessor (dict | nn.Module, optional): Defaults to None.
        init_cfg (dict, optional): E.g. ``dict(type='Pretrained',
            checkpoint=...)``. Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 modalities: Optional[Sequence[str]] = None,
                 in_channels: Optional[Mapping[str, int]] = None,
                 frozen: bool = False,
                 pretrained_modalities: Optional[Mapping[str, str]] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if isinstance(data_preprocessor, dict):
            # Built in our scope (see MultiModalSelfSupervisor).
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        data_modalities = getattr(self.data_preprocessor, 'modalities', None)
        if modalities is None:
            if data_modalities is None:
                raise ValueError('give `modalities` or a data preprocessor '
                                 'that lists them')
            modalities = data_modalities
        self.modalities = list(modalities)
        if not self.modalities or len(set(self.modalities)) != len(
                self.modalities):
            raise ValueError(f'modalities must be distinct names, got '
                             f'{self.modalities}')
        self.pretrained_modalities = dict(pretrained_modalities or {})
        unknown = [
            m for m in self.pretrained_modalities
            if m not in self.modalities and m not in (data_modalities or ())
        ]
        if unknown:
            raise KeyError(f'pretrained_modalities names modality(ies) '
                           f'{unknown} that neither the classifier '
                           f'({self.modalities}) nor its data preprocessor '
                           f'({data_modalities}) has')
        self.test_cfg = dict(test_cfg or {})
        unknown = sorted(set(self.test_cfg) - {'drop_modalities'})
        if unknown:
            raise KeyError(f'LateFusionClassifier: unknown test_cfg keys '
                           f'{unknown} (known: drop_modalities)')
        self._dropped_modalities()  # bad names fail when the model is built
        self.backbones = nn.ModuleDict({
            m:
            MODELS.build(self._backbone_cfg(backbone, m, in_channels))
            for m in self.modalities
        })
        head = copy.deepcopy(dict(head))
        if head.get('in_channels') is None:
            dims = [
                getattr(b, 'out_channels', None)
                for b in self.backbones.values()
            ]
            if None in dims:
                raise ValueError('set head.in_channels: cannot infer it from '
                                 'the backbones')
            head['in_channels'] = sum(dims)
        self.head = MODELS.build(head)
        self.frozen = frozen
        if frozen:
            self.backbones.requires_grad_(False)
            self.backbones.eval()

    def _backbone_cfg(self, backbone: dict, modality: str,
                      in_channels: Optional[Mapping[str, int]]) -> dict:
        if 'type' in backbone:
            cfg = copy.deepcopy(dict(backbone))
        elif modality in backbone:
            cfg = copy.deepcopy(dict(backbone[modality]))
        else:
            raise KeyError(f'backbone config has no entry for modality '
                           f'{modality!r} (keys: {list(backbone)})')
        cfg['out_type'] = 'pooled'
        pre = self.data_preprocessor
        if in_channels and modality in in_channels:
            cfg['in_channels'] = in_channels[modality]
        elif modality in (getattr(pre, 'modalities', None) or ()):
            bands = pre.num_bands(modality)
            if cfg.setdefault('in_channels', bands) != bands:
                raise ValueError(
                    f'modality {modality!r}: the data preprocessor '
                    f'normalises {bands} bands but the backbone has '
                    f"in_channels={cfg['in_channels']}")
        return cfg

    def _dropped_modalities(self) -> dict:
        return parse_drop_modalities(
            self.test_cfg.get('drop_modalities'), self.modalities,
            type(self).__name__)

    def train(self, mode: bool = True) -> 'LateFusionClassifier':
        super().train(mode)
        if self.frozen:
            self.backbones.eval()  # BN statistics stay the pretrained ones
        return self

    # ------------------------------------------------------------- loading
    def _rename_pretrained(self, state_dict: dict, prefix: str) -> List[str]:
        """``backbones.<pretrained>.*`` -> ``backbones.<modality>.*`` in
        place; returns a note per renamed encoder."""
        notes = []
        found = sorted({
            k[len(prefix):].split('.')[1]
            for k in state_dict if k.startswith(prefix + 'backbones.')
        })
        moves = {}
        for m in self.modalities:
            src = self.pretrained_modalities.get(m, m)
            if m in found:
                continue  # already this model's layout
            if src == m or src not in found:
                wanted = f"'{prefix}backbones.{m}.*'" + (
                    '' if src == m else f" or '{prefix}backbones.{src}.*'")
                raise KeyError(
                    f'the checkpoint has no weights for the {m!r} encoder: '
                    f'no {wanted} keys (its encoders: {found or "none"}). '
                    'Is it a DeCUR checkpoint of this scenario? Set '
                    '`pretrained_modalities` if its modality names differ.')
            moves[m] = src
        for m, src in moves.items():
            old = f'{prefix}backbones.{src}.'
            for key in [k for k in state_dict if k.startswith(old)]:
                new = f'{prefix}backbones.{m}.{key[len(old):]}'
                state_dict[new] = state_dict.pop(key)
            notes.append(f'checkpoint encoder {src!r} -> {m!r}')
        if notes:
            print_log(
                'LateFusionClassifier: loaded ' + '; '.join(notes),
                logger='current')
        return notes

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs):
        notes = self._rename_pretrained(state_dict, prefix)
        try:
            super()._load_from_state_dict(state_dict, prefix, local_metadata,
                                          strict, missing_keys,
                                          unexpected_keys, error_msgs)
        except ValueError as e:
            if not notes:
                raise
            raise ValueError(f'{e}\n(loaded with {"; ".join(notes)})') from e

    # ------------------------------------------------------------- forward
    def extract_feat(self, inputs: Mapping[str, Tensor]) -> Tensor:
        """Pooled features of every encoder, concatenated: (B, sum D)."""
        missing = [m for m in self.modalities if m not in inputs]
        if missing:
            raise KeyError(f'the batch lacks modality(ies) {missing} '
                           f'(got {list(inputs)})')
        feats = []
        with torch.set_grad_enabled(torch.is_grad_enabled()
                                    and not self.frozen):
            for m in self.modalities:
                feat = self.backbones[m](inputs[m])
                feat = feat[-1] if isinstance(feat, (tuple, list)) else feat
                if feat.dim() == 4:  # a feature map: global average pooling
                    feat = feat.mean((2, 3))
                feats.append(feat)
        return torch.cat(feats, dim=1)

    def forward(self,
                inputs: Mapping[str, Tensor],
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'tensor'``: class logits (B, num_classes); ``'loss'``: the
        head's losses; ``'predict'``: data samples with ``pred_score`` and
        ``pred_label``."""
        if mode == 'tensor':
            return self.head((self.extract_feat(inputs), ))
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def loss(self, inputs: Mapping[str, Tensor],
             data_samples: List[DataSample]) -> Dict[str, Tensor]:
        return self.head.loss((self.extract_feat(inputs), ), data_samples)

    def predict(
            self,
            inputs: Mapping[str, Tensor],
            data_samples: Optional[List[DataSample]] = None
    ) -> List[DataSample]:
        fills = self._dropped_modalities()
        if fills:
            inputs = blank_modalities(inputs, fills)
        return self.head.predict((self.extract_feat(inputs), ), data_samples)

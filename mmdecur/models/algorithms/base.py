# Copyright (c) mmdecur contributors. All rights reserved.
import copy
from typing import Dict, List, Mapping, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmdecur.models.utils.compile import LazyCompiledModule, compile_options
from mmdecur.registry import MODELS


def _has_batch_norm(module: nn.Module) -> bool:
    """Whether any layer normalises with batch statistics."""
    return any(isinstance(m, _BatchNorm) for m in module.modules())


@MODELS.register_module()
class MultiModalSelfSupervisor(BaseModel):
    """Per-modality encoders and projectors trained by a multimodal loss.

    For every modality ``m`` (a name such as ``'rgb'``, ``'hha'``, ``'s1'``)
    and every view ``x`` of it, the embedding is
    ``projectors[m](pool(backbones[m](x)))``; the loss receives
    ``{m: [z_view1, z_view2, ...]}`` in the order of ``modalities``.

    Args:
        backbone (dict): Either one backbone config (a dict with ``type``),
            built once per modality, or a dict of configs keyed by modality.
            A backbone's ``in_channels``, unless set, is the modality's band
            count in the data preprocessor.
        loss (dict): Loss config, called with the per-modality embeddings.
        projector (dict, optional): Projector config, built once per
            modality (or once if ``share_projector``); None = no projector.
        modalities (Sequence[str], optional): Modality names; the first is
            modality 1. Defaults to the data preprocessor's modalities, in
            its order.
        in_channels (dict, optional): Per-modality ``in_channels`` that
            override the backbone config (e.g. ``dict(s1=2, s2=13)``).
        share_projector (bool): One projector for all modalities. The
            official DeCUR code ties them (its checkpoints hold two identical
            copies); the paper describes one per modality. Defaults to False.
        batch_views (bool, optional): Run the views of a modality through
            its backbone as one batch (fewer, larger kernels: faster on
            GPUs) instead of one call per view. It is exact only for
            backbones whose outputs do not depend on the other samples of
            the batch, so None (default) enables it exactly for backbones
            without batch normalisation (MiT, ViT) and keeps ResNet's BN
            statistics per view, as the official code computes them.
        compile_backbones (bool | dict): ``torch.compile`` every backbone
            (True, or a dict of ``torch.compile`` arguments such as
            ``dict(mode='max-autotune')``), lazily at its first call and
            outside the module tree (state-dict keys unchanged); a backbone
            that cannot compile runs eagerly after one warning
            (:class:`~mmdecur.models.utils.compile.LazyCompiledModule`).
            MMEngine's ``cfg.compile`` instead compiles the whole
            ``train_step`` (preprocessing, loss collectives, backward and
            optimizer, with many graph breaks) and has no fallback; use one
            or the other, not both. Defaults to False.
        data_preprocessor (dict, optional): Defaults to None.
        init_cfg (dict, optional): Defaults to None.
    """

    def __init__(self,
                 backbone: dict,
                 loss: dict,
                 projector: Optional[dict] = None,
                 modalities: Optional[Sequence[str]] = None,
                 in_channels: Optional[Mapping[str, int]] = None,
                 share_projector: bool = False,
                 batch_views: Optional[bool] = None,
                 compile_backbones: Union[bool, dict] = False,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if isinstance(data_preprocessor, dict):
            # Built here, in our scope: BaseModel would use MMEngine's root
            # registry, which only finds it under default_scope='mmdecur'.
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
        if len(set(self.modalities)) != len(
                self.modalities) or not (self.modalities):
            raise ValueError(f'modalities must be distinct names, got '
                             f'{self.modalities}')
        data_bands = {
            m: self.data_preprocessor.num_bands(m)
            for m in self.modalities if m in (data_modalities or ())
        }
        self.backbones = nn.ModuleDict({
            m:
            MODELS.build(
                self._backbone_cfg(backbone, m, in_channels, data_bands))
            for m in self.modalities
        })
        if projector is None:
            self.projectors = nn.ModuleDict(
                {m: nn.Identity()
                 for m in self.modalities})
        elif share_projector:
            shared = MODELS.build(self._projector_cfg(projector))
            self.projectors = nn.ModuleDict(
                {m: shared
                 for m in self.modalities})
        else:
            self.projectors = nn.ModuleDict({
                m:
                MODELS.build(self._projector_cfg(projector, m))
                for m in self.modalities
            })
        self.share_projector = share_projector
        self.batch_views = {
            m: (not _has_batch_norm(b))
            if batch_views is None else bool(batch_views)
            for m, b in self.backbones.items()
        }
        self.loss_module = MODELS.build(loss)
        options = compile_options(compile_backbones, 'compile_backbones')
        self._compiled_backbones = None if options is None else {
            m:
            LazyCompiledModule(b, f'backbone {m!r} ({type(b).__name__})',
                               options)
            for m, b in self.backbones.items()
        }
        self._check_channels()

    @staticmethod
    def _backbone_cfg(backbone: dict, modality: str, in_channels,
                      data_bands: dict) -> dict:
        if 'type' in backbone:
            cfg = copy.deepcopy(dict(backbone))
        elif modality in backbone:
            cfg = copy.deepcopy(dict(backbone[modality]))
        else:
            raise KeyError(f'backbone config has no entry for modality '
                           f'{modality!r} (keys: {list(backbone)})')
        if in_channels and modality in in_channels:
            cfg['in_channels'] = in_channels[modality]
        elif modality in data_bands:
            # A backbone's own in_channels wins (and is checked later).
            cfg.setdefault('in_channels', data_bands[modality])
        return cfg

    def _projector_cfg(self, projector: dict, modality=None) -> dict:
        """``in_channels`` defaults to the backbone's pooled dimension."""
        cfg = copy.deepcopy(dict(projector))
        if 'in_channels' not in cfg:
            dims = {
                m: getattr(b, 'out_channels', None)
                for m, b in self.backbones.items()
                if modality is None or m == modality
            }
            if None in dims.values() or len(set(dims.values())) != 1:
                raise ValueError('set projector.in_channels: cannot infer it '
                                 f'from the backbones ({dims})')
            cfg['in_channels'] = next(iter(dims.values()))
        return cfg

    def _check_channels(self) -> None:
        """Fail at build time if data and backbone band counts disagree."""
        bands = getattr(self.data_preprocessor, 'num_bands', None)
        if bands is None:
            return
        for m, backbone in self.backbones.items():
            expected = getattr(backbone, 'in_channels', None)
            if m in self.data_preprocessor.modalities and (
                    expected is not None and bands(m) != expected):
                raise ValueError(
                    f'modality {m!r}: the data preprocessor normalises '
                    f'{bands(m)} bands but the backbone has in_channels='
                    f'{expected}')

    def pooled_features(self, modality: str, x: Tensor) -> Tensor:
        """Backbone features of one view, globally pooled to (B, D)."""
        expected = getattr(self.backbones[modality], 'in_channels', None)
        if expected is not None and x.shape[1] != expected:
            raise ValueError(
                f'modality {modality!r}: input has {x.shape[1]} channels but '
                f'its backbone has in_channels={expected}')
        compiled = self._compiled_backbones
        feat = (compiled[modality] if compiled else self.backbones[modality])(
            x)
        feat = feat[-1] if isinstance(feat, (tuple, list)) else feat
        if feat.dim() == 4:  # feature map: global average pooling
            feat = feat.mean((2, 3))
        return feat

    def embed(self, modality: str, x: Tensor) -> Tensor:
        """Projector embedding (B, K) of one view of ``modality``."""
        return self.projectors[modality](self.pooled_features(modality, x))

    def to_split_order(self, z: Tensor) -> Tensor:
        """Embeddings (B, K) with the loss's common dimensions first.

        A fixed split already puts them first; an adaptive one
        (:class:`AdaptiveCommonSplit`) may hold them anywhere. After this,
        the first ``loss_module.num_common(K)`` columns are the common ones,
        which is what the analysis tools and ``predict`` rely on.
        """
        dim_order = getattr(self.loss_module, 'dim_order', None)
        order = dim_order(z.shape[1], z.device) if dim_order else None
        return z if order is None else z.index_select(1, order)

    def embed_views(self, modality: str,
                    views: Sequence[Tensor]) -> List[Tensor]:
        """Projector embeddings of several views of ``modality``.

        With ``batch_views`` (and views of one size) the backbone sees them
        as one batch; the projector always runs per view, so its batch
        normalisation keeps per-view statistics.
        """
        views = list(views)
        same_size = len({tuple(v.shape[1:]) for v in views}) == 1
        if len(views) < 2 or not self.batch_views[modality] or not same_size:
            return [self.embed(modality, x) for x in views]
        feats = self.pooled_features(modality, torch.cat(views))
        sizes = [v.shape[0] for v in views]
        return [
            self.projectors[modality](f) for f in feats.split(sizes, dim=0)
        ]

    def _views(self, inputs: Mapping, modality: str) -> List[Tensor]:
        if modality not in inputs:
            raise KeyError(f'the batch has no modality {modality!r} '
                           f'(got {list(inputs)})')
        views = inputs[modality]
        return [views] if isinstance(views, Tensor) else list(views)

    def forward(self,
                inputs: Mapping[str, Union[Tensor, List[Tensor]]],
                data_samples: Optional[List[DataSample]] = None,
                mode: str = 'tensor'):
        """``'loss'``: loss dict; ``'tensor'``: per-modality pooled backbone
        features of the first view; ``'predict'``: data samples carrying
        ``embedding_<m>`` (projector output of the first view)."""
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'tensor':
            return self.extract_feat(inputs)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def extract_feat(self, inputs: Mapping) -> Dict[str, Tensor]:
        return {
            m: self.pooled_features(m,
                                    self._views(inputs, m)[0])
            for m in self.modalities
        }

    def loss(self,
             inputs: Mapping,
             data_samples: Optional[List[DataSample]] = None
             ) -> Dict[str, Tensor]:
        views = {
            m: self.embed_views(m, self._views(inputs, m))
            for m in self.modalities
        }
        return self.loss_module(views)

    def predict(self,
                inputs: Mapping,
                data_samples: Optional[List[DataSample]] = None
                ) -> List[DataSample]:
        embeddings = {
            m: self.embed(m,
                          self._views(inputs, m)[0])
            for m in self.modalities
        }
        batch_size = next(iter(embeddings.values())).shape[0]
        if data_samples is None:
            data_samples = [DataSample() for _ in range(batch_size)]
        embeddings = {m: self.to_split_order(z) for m, z in embeddings.items()}
        num_common = getattr(self.loss_module, 'num_common', None)
        dim_common = num_common(next(iter(
            embeddings.values())).shape[1]) if (num_common) else None
        for i, sample in enumerate(data_samples):
            for m, z in embeddings.items():
                sample.set_field(z[i], f'embedding_{m}', field_type='data')
            if dim_common is not None:
                sample.set_metainfo(dict(dim_common=dim_common))
        return data_samples

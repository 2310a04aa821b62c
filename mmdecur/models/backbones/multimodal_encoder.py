# Copyright (c) mmdecur contributors. All rights reserved.
import copy
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mmdecur.models.utils.compile import LazyCompiledModule, compile_options
from mmdecur.registry import MODELS


@MODELS.register_module()
class MultiModalEncoder(BaseModule):
    """One encoder per modality; their stage features concatenated.

    The paper's multimodal FCN: the feature maps of the same stage of every
    modality's encoder are concatenated along channels. With a single
    modality it is the modality-missing (e.g. RGB-only) variant. Encoders
    live in ``encoders.<modality>``, which is where
    ``tools/model_converters/decur_to_downstream.py`` puts each modality's
    pretrained DeCUR backbone (deformable-attention modules included); from
    a checkpoint of more modalities it takes those named here (or
    ``--map``). Modality-missing evaluation is the segmentor's
    ``test_cfg.drop_modalities`` (:class:`MultiModalEncoderDecoder`).

    Args:
        encoders (dict): Modality -> backbone config (``out_type='featmap'``
            is set), in fusion order; or one config with ``type`` used for
            every modality of ``modalities``.
        modalities (Sequence[str], optional): Needed when ``encoders`` is a
            single shared config; with per-modality configs, their order.
        in_channels (dict, optional): Per-modality ``in_channels``.
        frozen (bool): Freeze the encoders (the frozen-encoder transfer
            protocol): no gradients, normalisation layers in eval mode.
            Defaults to False.
        compile_encoders (bool | dict): ``torch.compile`` every encoder
            (True or a dict of ``torch.compile`` arguments) at its first
            call, with an eager fallback after one warning; state-dict keys
            unchanged. As ``MultiModalSelfSupervisor.compile_backbones``;
            not to be combined with MMEngine's ``cfg.compile``. Defaults to
            False.
        init_cfg (dict, optional): Defaults to None.
    """

    def __init__(self,
                 encoders: dict,
                 modalities: Optional[Sequence[str]] = None,
                 in_channels: Optional[Mapping[str, int]] = None,
                 frozen: bool = False,
                 compile_encoders: Union[bool, dict] = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if 'type' in encoders:
            if not modalities:
                raise ValueError('a shared encoder config needs `modalities`')
            encoders = {m: copy.deepcopy(encoders) for m in modalities}
        elif modalities:
            # Per-modality configs in the order `modalities` gives.
            if sorted(modalities) != sorted(encoders):
                raise ValueError(f'modalities {list(modalities)} do not name '
                                 f'the encoders {sorted(encoders)}')
            encoders = {m: encoders[m] for m in modalities}
        self.modalities = list(encoders)
        built = {}
        for m, cfg in encoders.items():
            cfg = dict(copy.deepcopy(cfg), out_type='featmap')
            if in_channels and m in in_channels:
                cfg['in_channels'] = in_channels[m]
            built[m] = MODELS.build(cfg)
        self.encoders = nn.ModuleDict(built)
        per_stage = [
            getattr(e, 'featmap_channels', None) for e in built.values()
        ]
        self.featmap_channels = (
            tuple(sum(c)
                  for c in zip(*per_stage)) if None not in per_stage else None)
        options = compile_options(compile_encoders, 'compile_encoders')
        self._compiled_encoders = None if options is None else {
            m:
            LazyCompiledModule(e, f'encoder {m!r} ({type(e).__name__})',
                               options)
            for m, e in built.items()
        }
        self.frozen = frozen
        if frozen:
            for p in self.encoders.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> 'MultiModalEncoder':
        super().train(mode)
        if self.frozen:
            self.encoders.eval()  # BN statistics stay those pretrained
        return self

    def forward(self, inputs: Dict[str,
                                   torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        missing = [m for m in self.modalities if m not in inputs]
        if missing:
            raise KeyError(f'the batch lacks modality(ies) {missing} '
                           f'(got {list(inputs)})')
        encoders = self._compiled_encoders or self.encoders
        feats = [encoders[m](inputs[m]) for m in self.modalities]
        return tuple(torch.cat(stage, dim=1) for stage in zip(*feats))

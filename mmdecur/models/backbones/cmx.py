# Copyright (c) mmdecur contributors. All rights reserved.
"""CMX's dual-stream MiT encoder with feature rectification and fusion."""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule, ModuleDict, ModuleList
from mmseg.models.utils import nlc_to_nchw
from torch.nn.modules.batchnorm import _BatchNorm

from mmdecur.registry import MODELS
from .checks import check_images
from .cmx_fusion import FeatureFusionModule, FeatureRectifyModule
from .mit import MiT

__all__ = ['CMXBackbone']


@MODELS.register_module()
class CMXBackbone(BaseModule):
    """RGB-X encoder of `CMX <https://arxiv.org/abs/2203.04838>`_.

    Two MiT streams (ours, mmseg-keyed) run stage by stage. After stage ``i``
    both maps go through ``frms[i]`` (:class:`FeatureRectifyModule`), whose
    rectified outputs feed stage ``i + 1`` of each stream, and through
    ``ffms[i]`` (:class:`FeatureFusionModule`), whose fused map is output
    ``i``. For transfer, a DeCUR checkpoint's per-modality MiT weights go to
    ``encoders.<modality>.*`` unchanged (``decur_to_downstream.py`` picks
    the two streams of a checkpoint with more modalities by name or
    ``--map``, e.g. ``--map depth=hha``), and
    :func:`~mmdecur.models.utils.checkpoint_mapping.cmx_official_to_mmdecur`
    imports whole official CMX checkpoints.

    Known difference to the official encoder: there, stage 2 of the X stream
    uses the drop-path rate of block ``cur + 1`` for all its blocks (and the
    RGB stream that of block ``cur``); here both streams use MiT's linear
    schedule. MiT's patch-embedding LayerNorm has eps 1e-6 (official 1e-5).

    Args:
        arch (str | dict): MiT variant, a key of :attr:`MiT.arch_zoo`
            (``'b0'`` .. ``'b5'``) or a dict. Defaults to ``'b2'``.
        modalities (Sequence[str]): The two stream names, the RGB stream
            first and the X stream second (the order matters to FRM/FFM).
            Defaults to ``('rgb', 'hha')``.
        in_channels (int | dict): Input bands, one int for both streams or a
            dict modality -> int. Defaults to 3.
        drop_path_rate (float): Stochastic depth of each MiT.
            Defaults to 0.1.
        frm_reduction (int): ``reduction`` of every FRM. Defaults to 1.
        ffm_reduction (int): ``reduction`` of every FFM. Defaults to 1.
        fusion_norm_cfg (dict): Norm of the FFMs' channel embedding; use
            ``SyncBN`` for multi-GPU training as CMX does.
            Defaults to ``dict(type='BN', requires_grad=True)``.
        norm_eval (bool): Keep the BatchNorm layers (only the FFMs have any)
            in eval mode during training. Defaults to False.
        frozen (bool): Freeze both MiT encoders (no gradients, eval mode in
            ``train()``) while FRMs and FFMs train: the frozen-encoder
            transfer mode. Defaults to False.
        init_cfg (dict | list, optional): MMEngine init config of the whole
            backbone, e.g. ``Pretrained`` with ``prefix='backbone.'``.
            Defaults to None.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'b2',
                 modalities: Sequence[str] = ('rgb', 'hha'),
                 in_channels: Union[int, Dict[str, int]] = 3,
                 drop_path_rate: float = 0.1,
                 frm_reduction: int = 1,
                 ffm_reduction: int = 1,
                 fusion_norm_cfg: dict = dict(type='BN', requires_grad=True),
                 norm_eval: bool = False,
                 frozen: bool = False,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        modalities = tuple(modalities)
        if len(modalities) != 2 or len(set(modalities)) != 2:
            raise ValueError('CMXBackbone fuses exactly two distinct '
                             f'modalities, but got {modalities}.')
        if isinstance(in_channels, int):
            in_channels = {m: in_channels for m in modalities}
        missing = [m for m in modalities if m not in in_channels]
        if missing:
            raise ValueError(f'CMXBackbone: in_channels has no entry for '
                             f'{missing} (modalities={modalities}).')
        self.modalities = modalities
        self.in_channels = {m: int(in_channels[m]) for m in modalities}
        self.norm_eval = norm_eval
        self.frozen = frozen

        # MMEngine's containers, so that init_weights reaches each MiT.
        self.encoders = ModuleDict({
            m:
            MiT(arch,
                in_channels=self.in_channels[m],
                out_type='featmap',
                pooled_channels=None,
                drop_path_rate=drop_path_rate)
            for m in modalities
        })
        first = self.encoders[modalities[0]]
        self.num_heads = tuple(first.num_heads)
        self.out_channels = tuple(first.featmap_channels)
        # The name every multi-stage backbone here uses (decode heads read
        # it to size their inputs).
        self.featmap_channels = self.out_channels
        self.frms = ModuleList(
            FeatureRectifyModule(c, reduction=frm_reduction)
            for c in self.out_channels)
        self.ffms = ModuleList(
            FeatureFusionModule(
                c,
                num_heads=heads,
                reduction=ffm_reduction,
                norm_cfg=fusion_norm_cfg)
            for c, heads in zip(self.out_channels, self.num_heads))

        if frozen:
            for param in self.encoders.parameters():
                param.requires_grad = False

    @staticmethod
    def _stage(encoder: MiT, index: int, x: torch.Tensor) -> torch.Tensor:
        """Run stage ``index`` of one MiT stream: NCHW in, NCHW out."""
        patch_embed, blocks, norm = encoder.layers[index]
        x, hw_shape = patch_embed(x)
        for block in blocks:
            x = block(x, hw_shape)
        return nlc_to_nchw(norm(x), hw_shape)

    def forward(self, inputs: Dict[str,
                                   torch.Tensor]) -> Tuple[torch.Tensor, ...]:
        """Forward.

        Args:
            inputs (dict[str, torch.Tensor]): Images per modality, each
                (B, in_channels[m], H, W) with the same B, H and W. Entries
                of other modalities are ignored.

        Returns:
            tuple[torch.Tensor]: The 4 fused maps, (B, out_channels[i],
            H / 2^(i+2), W / 2^(i+2)) (rounded up).
        """
        if not isinstance(inputs, dict):
            raise TypeError('CMXBackbone expects a dict modality -> images, '
                            f'but got {type(inputs).__name__}.')
        missing = [m for m in self.modalities if m not in inputs]
        if missing:
            raise KeyError(f'CMXBackbone: inputs lack modalities {missing}; '
                           f'got {sorted(inputs)}.')
        for m in self.modalities:
            check_images(inputs[m], self.in_channels[m], f'CMXBackbone[{m}]')
        shapes = {
            m: tuple(inputs[m].shape[i] for i in (0, 2, 3))
            for m in self.modalities
        }
        if len(set(shapes.values())) != 1:
            raise ValueError('CMXBackbone needs co-registered inputs of one '
                             f'batch size and size; got (B, H, W) {shapes}.')

        m1, m2 = self.modalities
        x1, x2 = inputs[m1], inputs[m2]
        outs = []
        for i, (frm, ffm) in enumerate(zip(self.frms, self.ffms)):
            x1 = self._stage(self.encoders[m1], i, x1)
            x2 = self._stage(self.encoders[m2], i, x2)
            x1, x2 = frm(x1, x2)
            outs.append(ffm(x1, x2))
        return tuple(outs)

    def train(self, mode: bool = True) -> 'CMXBackbone':
        """Set train mode, keeping frozen encoders and, with ``norm_eval``,
        BatchNorm layers in eval mode."""
        super().train(mode)
        if mode and self.frozen:
            self.encoders.eval()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

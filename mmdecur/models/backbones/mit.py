# Copyright (c) mmdecur contributors. All rights reserved.
"""Mix Transformer (SegFormer encoder) with DeCUR's pooling head."""
import copy
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmseg.models.backbones import MixVisionTransformer
from mmseg.models.utils import nlc_to_nchw

from mmdecur.registry import MODELS
from .checks import check_images, check_out_type

__all__ = ['MiT']


@MODELS.register_module()
class MiT(MixVisionTransformer):
    """MiT-b0..b5 backbone with any ``in_channels`` and a pooled output.

    The encoder of `SegFormer <https://arxiv.org/abs/2105.15203>`_ as
    implemented by mmseg. For pretraining, `DeCUR
    <https://arxiv.org/abs/2309.05300>`_ averages the stage-4 tokens (after
    the stage norm) and maps them with a linear ``head`` (512 -> 2048 for
    b2/b5); stages 1-3 do not reach the projector.

    Note that mmseg's ``embed_dims`` is a per-head base: stage ``i`` is
    ``embed_dims * num_heads[i]`` wide (b2: 64, 128, 320, 512). State-dict
    keys are mmseg's (``layers.{i}.{0,1,2}``); SegFormer/CMX/DeCUR checkpoints
    need mmseg's ``mit2mmseg`` key conversion.

    Args:
        arch (str | dict): A key of :attr:`arch_zoo` (``'b0'`` .. ``'b5'``),
            or a dict with ``embed_dims`` and ``num_layers``.
            Defaults to ``'b2'``.
        in_channels (int): Input bands. Defaults to 3.
        out_type (str): ``'pooled'`` returns ``(B, out_channels)``: the mean
            stage-4 token through ``head``; ``'featmap'`` returns the NCHW
            stage outputs in ``out_indices``. Defaults to ``'pooled'``.
        out_indices (Sequence[int]): Stages (0-3) returned when
            ``out_type='featmap'``. Defaults to ``(0, 1, 2, 3)``.
        pooled_channels (int, optional): Output width of ``head``, built only
            when ``out_type='pooled'``. None skips the head and returns the
            mean stage-4 token itself. Defaults to 2048.
        drop_path_rate (float): Stochastic depth rate. Defaults to 0.1.
        **kwargs: Other arguments of
            :class:`mmseg.models.backbones.MixVisionTransformer` (they
            override the ``arch`` settings), e.g. ``norm_cfg``, ``with_cp``,
            ``init_cfg``.
    """

    #: Shared by every variant; the variants differ in width and depth.
    common_settings = dict(
        num_heads=[1, 2, 5, 8],
        sr_ratios=[8, 4, 2, 1],
        patch_sizes=[7, 3, 3, 3],
        strides=[4, 2, 2, 2],
        mlp_ratio=4,
        qkv_bias=True)

    arch_zoo = {
        'b0': dict(embed_dims=32, num_layers=[2, 2, 2, 2]),
        'b1': dict(embed_dims=64, num_layers=[2, 2, 2, 2]),
        'b2': dict(embed_dims=64, num_layers=[3, 4, 6, 3]),
        'b3': dict(embed_dims=64, num_layers=[3, 4, 18, 3]),
        'b4': dict(embed_dims=64, num_layers=[3, 8, 27, 3]),
        'b5': dict(embed_dims=64, num_layers=[3, 6, 40, 3]),
    }

    def __init__(self,
                 arch: Union[str, dict] = 'b2',
                 in_channels: int = 3,
                 out_type: str = 'pooled',
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 pooled_channels: Optional[int] = 2048,
                 drop_path_rate: float = 0.1,
                 **kwargs) -> None:
        if isinstance(arch, str):
            if arch not in self.arch_zoo:
                raise ValueError(f'Unknown MiT arch {arch!r}; choose from '
                                 f'{sorted(self.arch_zoo)} or pass a dict.')
            arch = self.arch_zoo[arch]
        check_out_type(out_type)
        settings = dict(copy.deepcopy(self.common_settings), **arch)
        settings.update(kwargs)
        super().__init__(
            in_channels=in_channels,
            out_indices=tuple(out_indices),
            drop_path_rate=drop_path_rate,
            **settings)
        self.in_channels = in_channels
        self.out_type = out_type
        stage_channels = [self.embed_dims * heads for heads in self.num_heads]
        self.featmap_channels = tuple(stage_channels[i] for i in out_indices)
        if out_type == 'pooled' and pooled_channels is not None:
            self.head = nn.Linear(stage_channels[-1], pooled_channels)
            self.out_channels = pooled_channels
        else:
            self.head = None
            self.out_channels = stage_channels[-1]

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Forward.

        Args:
            x (torch.Tensor): Images of shape (B, in_channels, H, W).

        Returns:
            tuple[torch.Tensor]: ``((B, out_channels), )`` for
            ``out_type='pooled'``, else the stage maps in ``out_indices``.
        """
        check_images(x, self.in_channels, 'MiT')
        outs = []
        for patch_embed, blocks, norm in self.layers:
            x, hw_shape = patch_embed(x)
            for block in blocks:
                x = block(x, hw_shape)
            x = nlc_to_nchw(norm(x), hw_shape)
            outs.append(x)

        if self.out_type == 'pooled':
            pooled = outs[-1].mean(dim=(2, 3))
            if self.head is not None:
                pooled = self.head(pooled)
            return (pooled, )
        return tuple(outs[i] for i in self.out_indices)

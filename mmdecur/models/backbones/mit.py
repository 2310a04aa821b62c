# Copyright (c) mmdecur contributors. All rights reserved.
"""Mix Transformer (SegFormer encoder) with DeCUR's pooling head."""
import copy
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.backbones import MixVisionTransformer
from mmseg.models.backbones.mit import EfficientMultiheadAttention, MixFFN
from mmseg.models.utils import nlc_to_nchw

from mmdecur.registry import MODELS
from .checks import check_images, check_out_type

__all__ = ['MiT']


def _nlc_as_nchw(x: torch.Tensor, hw_shape) -> torch.Tensor:
    """(B, H*W, C) tokens as an NCHW tensor in channels_last memory: a view,
    no copy (mmseg's ``nlc_to_nchw`` copies)."""
    h, w = hw_shape
    return x.view(x.shape[0], h, w, x.shape[2]).permute(0, 3, 1, 2)


def _nchw_as_nlc(x: torch.Tensor) -> torch.Tensor:
    """Back to tokens; a view when ``x`` is in channels_last memory."""
    return x.permute(0, 2, 3, 1).reshape(x.shape[0], -1, x.shape[1])


class _SDPAEfficientAttention(EfficientMultiheadAttention):
    """mmseg's efficient attention through ``F.scaled_dot_product_attention``.

    Same parameters (``attn.in_proj_weight``/``in_proj_bias``,
    ``attn.out_proj``, ``sr``, ``norm``) and the same function; mmseg calls
    ``nn.MultiheadAttention`` with ``need_weights=True`` on sequence-first
    transposes, which materialises the attention matrix, runs the softmax
    outside any fused kernel (in fp32 under CUDA autocast) and averages the
    weights over heads only to throw them away. Here the projections are
    plain ``F.linear`` on batch-first tokens and the attention one fused
    kernel (flash / memory-efficient in bf16 on GPUs). Attention dropout
    (``attn_drop_rate``, 0 in MiT) draws different random numbers.
    """

    def forward(self, x, hw_shape, identity=None):
        attn = self.attn
        b, n, c = x.shape
        heads = attn.num_heads
        if self.sr_ratio > 1:
            x_kv = _nchw_as_nlc(self.sr(_nlc_as_nchw(x, hw_shape)))
            x_kv = self.norm(x_kv)
        else:
            x_kv = x
        weight, bias = attn.in_proj_weight, attn.in_proj_bias
        q = F.linear(x, weight[:c], None if bias is None else bias[:c])
        kv = F.linear(x_kv, weight[c:], None if bias is None else bias[c:])
        q = q.view(b, n, heads, c // heads).transpose(1, 2)
        k, v = kv.view(b, -1, 2, heads, c // heads).permute(2, 0, 3, 1,
                                                            4).unbind(0)
        out = F.scaled_dot_product_attention(
            q, k, v, dropout_p=attn.dropout if self.training else 0.)
        out = attn.out_proj(out.transpose(1, 2).reshape(b, n, c))
        if identity is None:
            identity = x
        return identity + self.dropout_layer(self.proj_drop(out))

    @staticmethod
    def supports(module: EfficientMultiheadAttention) -> bool:
        attn = module.attn
        return (module.batch_first and attn._qkv_same_embed_dim
                and attn.bias_k is None and attn.bias_v is None
                and not attn.add_zero_attn
                and type(module).forward is EfficientMultiheadAttention.forward
                and 'forward' not in vars(module))  # mmseg's legacy forward


class _LinearMixFFN(MixFFN):
    """mmseg's Mix-FFN on tokens: the 1x1 convolutions as ``F.linear`` on
    (B, N, C) (the same weights, viewed as matrices) and the 3x3 depth-wise
    convolution on a channels_last view of the tokens, so that no layout
    copies are made (mmseg transposes to NCHW and back, at 4x width)."""

    def forward(self, x, hw_shape, identity=None):
        fc1, pe_conv, activate, drop, fc2, drop2 = self.layers
        out = F.linear(x, fc1.weight.flatten(1), fc1.bias)
        out = _nchw_as_nlc(pe_conv(_nlc_as_nchw(out, hw_shape)))
        out = drop(activate(out))
        out = drop2(F.linear(out, fc2.weight.flatten(1), fc2.bias))
        if identity is None:
            identity = x
        return identity + self.dropout_layer(out)

    @staticmethod
    def supports(module: MixFFN) -> bool:
        layers = list(module.layers)
        return (len(layers) == 6 and type(module).forward is MixFFN.forward
                and 'forward' not in vars(module) and all(
                    isinstance(layers[i], nn.Conv2d)
                    and layers[i].kernel_size == (1, 1) for i in (0, 4)))


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
        sdpa_attention (bool): Compute mmseg's efficient attention with
            ``F.scaled_dot_product_attention`` (same parameters, same
            function to float rounding; see :class:`_SDPAEfficientAttention`).
            Defaults to True.
        linear_ffn (bool): Compute the Mix-FFN's 1x1 convolutions as linear
            layers on the tokens, without layout copies (same parameters).
            Defaults to True.
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
                 sdpa_attention: bool = True,
                 linear_ffn: bool = True,
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
        # Faster forwards of mmseg's own modules (a subclass each, no new
        # state: parameters and state-dict keys stay mmseg's).
        for module in self.modules():
            if (sdpa_attention
                    and isinstance(module, EfficientMultiheadAttention)
                    and _SDPAEfficientAttention.supports(module)):
                module.__class__ = _SDPAEfficientAttention
            elif (linear_ffn and isinstance(module, MixFFN)
                  and _LinearMixFFN.supports(module)):
                module.__class__ = _LinearMixFFN
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

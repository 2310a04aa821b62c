# Copyright (c) mmdecur contributors. All rights reserved.
"""CMX's cross-modal Feature Rectification and Feature Fusion modules.

Re-implemented from the description in
`CMX <https://arxiv.org/abs/2203.04838>`_ (Zhang et al., T-ITS 2023).
Parameter shapes and the order of every concatenation and split follow the
official release, so its checkpoints load through
:func:`mmdecur.models.utils.checkpoint_mapping.cmx_official_to_mmdecur` and
compute the same function; the module names are ours (the mapping tables are
in that file).

Both modules take one stream pair per stage. Convention: index 0 is the
first (RGB) stream, index 1 the second (X) stream.
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_

from mmdecur.registry import MODELS

__all__ = [
    'FeatureRectifyModule', 'FeatureFusionModule', 'CrossAttentionPath',
    'ChannelEmbed'
]


def _init_like_cmx(module: nn.Module) -> None:
    """CMX's initialisation for its fusion modules.

    Linear: truncated normal (std 0.02), zero bias. LayerNorm: (1, 0).
    Conv2d: normal with std ``sqrt(2 / fan_out)`` (fan_out per group), zero
    bias. BatchNorm keeps PyTorch's (1, 0).
    """
    for m in module.modules():
        if isinstance(m, nn.Linear):
            trunc_normal_(m.weight, std=.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
            fan_out //= m.groups
            nn.init.normal_(m.weight, 0, math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)


@MODELS.register_module()
class FeatureRectifyModule(BaseModule):
    """Feature Rectification Module (FRM) of CMX.

    Each stream is corrected with the other stream's features, gated
    channel-wise and spatially:

    - channel gates: average- and max-pool ``cat(x1, x2)`` (``2C`` each,
      concatenated as ``[avg, max]`` -> ``4C``), then
      ``Linear(4C, 4C/r) -> ReLU -> Linear(4C/r, 2C) -> sigmoid``, split into
      ``cw[0]``, ``cw[1]`` of ``C`` each;
    - spatial gates: ``Conv1x1(2C, C/r) -> ReLU -> Conv1x1(C/r, 2) ->
      sigmoid`` on ``cat(x1, x2)``, split into ``sw[0]``, ``sw[1]``;
    - ``x1' = x1 + lc * cw[1] * x2 + ls * sw[1] * x2`` and
      ``x2' = x2 + lc * cw[0] * x1 + ls * sw[0] * x1``.

    So gate ``k`` scales stream ``k``'s features on their way into the other
    stream (official indexing).

    Args:
        channels (int): Channels ``C`` of each stream.
        reduction (int): Hidden-width divisor ``r`` of both gate MLPs.
            Defaults to 1 (CMX).
        lambda_c (float): Weight of the channel-gated message.
            Defaults to 0.5.
        lambda_s (float): Weight of the spatially gated message.
            Defaults to 0.5.
        init_cfg (dict, optional): MMEngine init config applied by
            ``init_weights``; the constructor already applies CMX's
            initialisation. Defaults to None.
    """

    def __init__(self,
                 channels: int,
                 reduction: int = 1,
                 lambda_c: float = 0.5,
                 lambda_s: float = 0.5,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.channels = channels
        self.lambda_c = lambda_c
        self.lambda_s = lambda_s
        # Indices 0 and 2 mirror the official Sequential (the sigmoid, its
        # index 3 there, has no parameters and is applied in forward).
        self.channel_gate = nn.Sequential(
            nn.Linear(4 * channels, 4 * channels // reduction),
            nn.ReLU(inplace=True),
            nn.Linear(4 * channels // reduction, 2 * channels))
        self.spatial_gate = nn.Sequential(
            nn.Conv2d(2 * channels, channels // reduction, 1),
            nn.ReLU(inplace=True), nn.Conv2d(channels // reduction, 2, 1))
        _init_like_cmx(self)

    def gates(self, x1: torch.Tensor,
              x2: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Channel gates (B, 2, C, 1, 1) and spatial gates (B, 2, 1, H, W)."""
        b, c = x1.shape[:2]
        x = torch.cat((x1, x2), dim=1)
        pooled = torch.cat((x.mean(dim=(2, 3)), x.amax(dim=(2, 3))), dim=1)
        channel = self.channel_gate(pooled).sigmoid().view(b, 2, c, 1, 1)
        spatial = self.spatial_gate(x).sigmoid().unsqueeze(2)
        return channel, spatial

    def forward(self, x1: torch.Tensor,
                x2: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Forward.

        Args:
            x1 (torch.Tensor): First (RGB) stream, (B, C, H, W).
            x2 (torch.Tensor): Second (X) stream, (B, C, H, W).

        Returns:
            tuple[torch.Tensor]: The rectified ``(x1', x2')``, same shapes.
        """
        channel, spatial = self.gates(x1, x2)
        out1 = x1 + (self.lambda_c * channel[:, 1] +
                     self.lambda_s * spatial[:, 1]) * x2
        out2 = x2 + (self.lambda_c * channel[:, 0] +
                     self.lambda_s * spatial[:, 0]) * x1
        return out1, out2


class CrossAttentionPath(nn.Module):
    """Stage 1 of CMX's FFM: token-level cross-attention between streams.

    Per stream ``s``: ``ReLU(Linear(C, 2D))`` (``D = C / reduction``) split
    into a residual half (first ``D``) and a cross half (second ``D``). The
    cross halves exchange information with efficient (linear-complexity)
    attention: each stream's context ``softmax(k^T v * scale)`` — a per-head
    ``d x d`` matrix, normalised over its rows (the ``k`` channel) as
    officially — is applied to the *other* stream's cross half used directly
    as the query. Then ``out_s = LayerNorm(x_s + Linear(2D, C)(cat(res_s,
    cross_s)))``.

    Args:
        channels (int): Token width ``C``.
        num_heads (int): Attention heads; ``D`` must be divisible by it.
        reduction (int): Width divisor of the projected tokens.
            Defaults to 1.
    """

    def __init__(self,
                 channels: int,
                 num_heads: int,
                 reduction: int = 1) -> None:
        super().__init__()
        inner = channels // reduction
        if inner % num_heads:
            raise ValueError(f'CrossAttentionPath: width {inner} is not '
                             f'divisible by num_heads={num_heads}.')
        self.num_heads = num_heads
        self.scale = (inner // num_heads)**-0.5
        self.in_projs = nn.ModuleList(
            nn.Linear(channels, 2 * inner) for _ in range(2))
        # k and v of the cross half; the official code has no bias here.
        self.kv_projs = nn.ModuleList(
            nn.Linear(inner, 2 * inner, bias=False) for _ in range(2))
        self.out_projs = nn.ModuleList(
            nn.Linear(2 * inner, channels) for _ in range(2))
        self.norms = nn.ModuleList(nn.LayerNorm(channels) for _ in range(2))

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        return x.view(b, n, self.num_heads,
                      c // self.num_heads).transpose(1, 2)

    def _context(self, u: torch.Tensor, kv_proj: nn.Linear) -> torch.Tensor:
        """Per-head context (B, heads, d, d) of one stream."""
        k, v = kv_proj(u).chunk(2, dim=-1)
        k, v = self._split_heads(k), self._split_heads(v)
        return (k.transpose(-2, -1) @ v * self.scale).softmax(dim=-2)

    def forward(self, x1: torch.Tensor,
                x2: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Forward.

        Args:
            x1 (torch.Tensor): First-stream tokens (B, N, C).
            x2 (torch.Tensor): Second-stream tokens (B, N, C).

        Returns:
            tuple[torch.Tensor]: Both streams' tokens (B, N, C).
        """
        xs = (x1, x2)
        res, cross = zip(*(F.relu(proj(x)).chunk(2, dim=-1)
                           for proj, x in zip(self.in_projs, xs)))
        contexts = [self._context(u, p) for u, p in zip(cross, self.kv_projs)]
        outs = []
        for s in range(2):
            # Stream s queries the other stream's context.
            attended = self._split_heads(cross[s]) @ contexts[1 - s]
            attended = attended.transpose(1, 2).flatten(2)
            y = self.out_projs[s](torch.cat((res[s], attended), dim=-1))
            outs.append(self.norms[s](xs[s] + y))
        return outs[0], outs[1]


class ChannelEmbed(nn.Module):
    """Stage 2 of CMX's FFM: merge the concatenated streams to ``C`` maps.

    ``norm(residual(x) + branch(x))`` with ``residual`` a bias-free 1x1 conv
    and ``branch`` = [1x1 conv, depthwise 3x3 conv, ReLU, 1x1 conv, norm]
    (indices 0, 1, 3, 4 as officially).

    Args:
        in_channels (int): Input channels (``2C``).
        out_channels (int): Output channels (``C``).
        reduction (int): Hidden-width divisor of the branch. Defaults to 1.
        norm_cfg (dict): Norm layer config. Defaults to ``dict(type='BN')``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 reduction: int = 1,
                 norm_cfg: dict = dict(type='BN')) -> None:
        super().__init__()
        hidden = out_channels // reduction
        self.residual = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.branch = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 1),
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden),
            nn.ReLU(inplace=True), nn.Conv2d(hidden, out_channels, 1),
            build_norm_layer(norm_cfg, out_channels)[1])
        self.norm = build_norm_layer(norm_cfg, out_channels)[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (B, in_channels, H, W) to (B, out_channels, H, W)."""
        return self.norm(self.residual(x) + self.branch(x))


@MODELS.register_module()
class FeatureFusionModule(BaseModule):
    """Feature Fusion Module (FFM) of CMX.

    Flattens both streams to tokens, runs :class:`CrossAttentionPath`,
    concatenates the two results channel-wise (first stream first) and merges
    them with :class:`ChannelEmbed` into one ``C``-channel map.

    Args:
        channels (int): Channels ``C`` of each stream and of the output.
        num_heads (int): Heads of the cross-attention (CMX uses the MiT
            stage's heads: 1, 2, 5, 8).
        reduction (int): Width divisor inside both stages. Defaults to 1.
        norm_cfg (dict): Norm of :class:`ChannelEmbed`. CMX uses BatchNorm
            (SyncBN when distributed). Defaults to ``dict(type='BN')``.
        init_cfg (dict, optional): MMEngine init config applied by
            ``init_weights``; the constructor already applies CMX's
            initialisation. Defaults to None.
    """

    def __init__(self,
                 channels: int,
                 num_heads: int,
                 reduction: int = 1,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.channels = channels
        self.cross_path = CrossAttentionPath(channels, num_heads, reduction)
        self.channel_embed = ChannelEmbed(2 * channels, channels, reduction,
                                          norm_cfg)
        _init_like_cmx(self)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
        """Forward.

        Args:
            x1 (torch.Tensor): First (RGB) stream, (B, C, H, W).
            x2 (torch.Tensor): Second (X) stream, (B, C, H, W).

        Returns:
            torch.Tensor: The fused map (B, C, H, W).
        """
        b, c, h, w = x1.shape
        t1, t2 = self.cross_path(
            x1.flatten(2).transpose(1, 2),
            x2.flatten(2).transpose(1, 2))
        merged = torch.cat((t1, t2), dim=-1).transpose(1, 2)
        return self.channel_embed(merged.reshape(b, 2 * c, h, w))

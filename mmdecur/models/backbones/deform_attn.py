# Copyright (c) mmdecur contributors. All rights reserved.
"""Deformable multi-head attention over a 2D feature map.

This is the attention block that DeCUR inserts after ResNet stages 3 and 4
("RDA"), with the semantics of ``DAttentionBaseline`` from `Vision Transformer
with Deformable Attention (DAT) <https://arxiv.org/abs/2201.00520>`_ in the
configuration DeCUR uses (``use_pe=True``, ``dwc_pe=False``,
``fixed_pe=False``, ``log_cpb=False``, ``no_off=False``). Written from the
description of that module, not copied from it.

Parameter names differ from the official module; :data:`OFFICIAL_KEY_MAP`
maps the official state-dict suffixes to ours:

- ``proj_q/proj_k/proj_v/proj_out.{weight,bias}`` ->
  ``query_proj/key_proj/value_proj/out_proj.{weight,bias}``;
- ``conv_offset.0.{weight,bias}`` (depthwise conv) ->
  ``offset_net.dw_conv.{weight,bias}``;
- ``conv_offset.1.norm.{weight,bias}`` (LayerNorm) ->
  ``offset_net.norm.{weight,bias}``;
- ``conv_offset.3.weight`` (1x1 conv to offsets) -> ``offset_net.proj.weight``;
- ``rpe_table`` -> ``rel_pos_bias_table``.
"""
from collections import OrderedDict
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.utils import LayerNorm2d

from mmdecur.registry import MODELS

__all__ = ['DeformableAttention2d', 'OFFICIAL_KEY_MAP']

#: Official (DAT / DeCUR ``da*_l{3,4}``) state-dict suffix -> ours.
OFFICIAL_KEY_MAP = {
    'proj_q.weight': 'query_proj.weight',
    'proj_q.bias': 'query_proj.bias',
    'proj_k.weight': 'key_proj.weight',
    'proj_k.bias': 'key_proj.bias',
    'proj_v.weight': 'value_proj.weight',
    'proj_v.bias': 'value_proj.bias',
    'proj_out.weight': 'out_proj.weight',
    'proj_out.bias': 'out_proj.bias',
    'conv_offset.0.weight': 'offset_net.dw_conv.weight',
    'conv_offset.0.bias': 'offset_net.dw_conv.bias',
    'conv_offset.1.norm.weight': 'offset_net.norm.weight',
    'conv_offset.1.norm.bias': 'offset_net.norm.bias',
    'conv_offset.3.weight': 'offset_net.proj.weight',
    'rpe_table': 'rel_pos_bias_table',
}


def _normalized_coords(size: int, start: float, device: torch.device,
                       dtype: torch.dtype) -> torch.Tensor:
    """Grid coordinates ``start + i`` (i < size) mapped by ``/(size-1)*2-1``.

    A size-1 axis gets the single coordinate 0 (the map centre); DAT divides
    by ``size - 1`` there and produces NaN.
    """
    if size == 1:
        return torch.zeros(1, device=device, dtype=dtype)
    coords = torch.arange(size, device=device, dtype=dtype) + start
    return coords / (size - 1) * 2 - 1


def _grid(height: int, width: int, start: float, device: torch.device,
          dtype: torch.dtype) -> torch.Tensor:
    """(H, W, 2) grid of normalized (y, x) coordinates."""
    ys = _normalized_coords(height, start, device, dtype)
    xs = _normalized_coords(width, start, device, dtype)
    return torch.stack(torch.meshgrid(ys, xs, indexing='ij'), dim=-1)


def _table_index(queries: torch.Tensor, points: torch.Tensor,
                 size: int) -> torch.Tensor:
    """Where one axis of the bias table is read for each query and point.

    The displacement ``(q - p) / 2`` (normalized) maps to the fractional
    index ``((q - p) / 2 + 1) / 2 * (size - 1)`` of a table axis of ``size``
    entries, as ``grid_sample`` maps it with ``align_corners=True``.

    Args:
        queries (torch.Tensor): (n, ) query coordinates.
        points (torch.Tensor): (..., K) point coordinates.
        size (int): Entries of the table axis.

    Returns:
        torch.Tensor: (..., K, n) fractional indices.
    """
    return ((queries - points.unsqueeze(-1)) * 0.5 + 1) / 2 * (size - 1)


def _interp_weights(queries: torch.Tensor, points: torch.Tensor,
                    size: int) -> torch.Tensor:
    """Linear-interpolation weights of one axis of the bias table.

    Weight ``1 - frac(u)`` on entry ``floor(u)`` and ``frac(u)`` on the next
    one, ``u`` being :func:`_table_index`; entries outside the table get no
    weight (``grid_sample``'s zero padding).

    Args:
        queries (torch.Tensor): (n, ) query coordinates.
        points (torch.Tensor): (..., K) point coordinates.
        size (int): Entries of the table axis.

    Returns:
        torch.Tensor: (..., K, n, size) weights.
    """
    u = _table_index(queries, points, size)
    lower = u.floor()
    frac = (u - lower).unsqueeze(-1)
    lower = lower.unsqueeze(-1)
    index = torch.arange(size, device=u.device, dtype=u.dtype)
    return (1 - frac) * (index == lower) + frac * (index == lower + 1)


@MODELS.register_module()
class DeformableAttention2d(BaseModule):
    """Deformable multi-head attention (DAT's ``DAttentionBaseline``).

    Queries are all positions of the input map; keys and values are
    ``num_groups`` sets of bilinearly sampled points whose locations are a
    regular reference grid (the offset network's output resolution) shifted
    by learned offsets. A relative-position bias, bilinearly sampled from a
    learnable table at the continuous query-key displacement, is added to the
    attention logits.

    DeCUR's settings (ResNet-50 at 224 px): after layer3 ``channels=1024,
    num_heads=8, head_channels=128, num_groups=4, offset_stride=2,
    offset_kernel_size=5, rpe_size=(14, 14)``; after layer4 ``channels=2048,
    num_heads=16, head_channels=128, num_groups=8, offset_stride=1,
    offset_kernel_size=3, rpe_size=(7, 7)``.

    Args:
        channels (int): Input and output channels ``C``; must equal
            ``num_heads * head_channels``.
        num_heads (int): Number of attention heads.
        head_channels (int): Channels per head.
        num_groups (int): Offset groups; each group shares one set of
            sampling points among ``num_heads / num_groups`` heads.
        offset_stride (int): Stride of the offset network's depthwise conv,
            i.e. the sampling grid is about ``1 / offset_stride`` of the map.
        offset_kernel_size (int): Kernel size of that depthwise conv.
        rpe_size (int | Sequence[int]): The query map size ``(h, w)`` the
            relative-position bias table is sized for (``(2h-1, 2w-1)``).
            Only the table size depends on it; any input size runs.
        offset_range_factor (float): If >= 0, offsets are ``tanh``-bounded to
            ``factor`` half-cells of the sampling grid; if negative they are
            unbounded and the sampling points are clamped to the map.
            Defaults to -1 (DeCUR).
        attn_drop (float): Dropout rate on attention weights.
            Defaults to 0.
        proj_drop (float): Dropout rate after the output projection.
            Defaults to 0.
        init_cfg (dict | list[dict], optional): Initialization config.
            Defaults to None, i.e. PyTorch's default conv/LayerNorm init and
            a truncated normal (std 0.01) bias table, as in DAT.
    """

    def __init__(self,
                 channels: int,
                 num_heads: int,
                 head_channels: int,
                 num_groups: int,
                 offset_stride: int,
                 offset_kernel_size: int,
                 rpe_size: Union[int, Sequence[int]],
                 offset_range_factor: float = -1,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if channels != num_heads * head_channels:
            raise ValueError(
                'DeformableAttention2d needs channels == num_heads * '
                f'head_channels, but got channels={channels}, num_heads='
                f'{num_heads}, head_channels={head_channels} '
                f'({num_heads} * {head_channels} = '
                f'{num_heads * head_channels}).')
        if channels % num_groups != 0 or num_heads % num_groups != 0:
            raise ValueError(
                'DeformableAttention2d needs channels and num_heads to be '
                f'divisible by num_groups, but got channels={channels}, '
                f'num_heads={num_heads}, num_groups={num_groups}.')
        if isinstance(rpe_size, int):
            rpe_size = (rpe_size, rpe_size)
        self.channels = channels
        self.num_heads = num_heads
        self.head_channels = head_channels
        self.num_groups = num_groups
        self.group_channels = channels // num_groups
        self.group_heads = num_heads // num_groups
        self.offset_stride = offset_stride
        self.offset_kernel_size = offset_kernel_size
        self.rpe_size = tuple(rpe_size)
        self.offset_range_factor = offset_range_factor
        self.scale = head_channels**-0.5

        # DAT pads by k // 2 except when kernel and stride coincide
        # (non-overlapping patches), where it does not pad at all.
        padding = offset_kernel_size // 2
        if offset_kernel_size == offset_stride:
            padding = 0
        gc = self.group_channels
        self.offset_net = nn.Sequential(
            OrderedDict(
                dw_conv=nn.Conv2d(
                    gc,
                    gc,
                    offset_kernel_size,
                    offset_stride,
                    padding,
                    groups=gc),
                norm=LayerNorm2d(gc, eps=1e-5),
                act=nn.GELU(),
                # No bias: zero weights give exactly zero offsets.
                proj=nn.Conv2d(gc, 2, 1, bias=False)))

        self.query_proj = nn.Conv2d(channels, channels, 1)
        self.key_proj = nn.Conv2d(channels, channels, 1)
        self.value_proj = nn.Conv2d(channels, channels, 1)
        self.out_proj = nn.Conv2d(channels, channels, 1)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj_drop = nn.Dropout(proj_drop)

        rh, rw = self.rpe_size
        self.rel_pos_bias_table = nn.Parameter(
            torch.zeros(num_heads, 2 * rh - 1, 2 * rw - 1))
        trunc_normal_(self.rel_pos_bias_table, std=0.01)

    def init_weights(self) -> None:
        """Restore DAT's initialization unless ``init_cfg`` says otherwise.

        A host network's ``init_cfg`` (e.g. ResNet's Kaiming init on every
        ``Conv2d``) also reaches these convs; resetting them keeps the block
        initialized like the official one regardless of where it lives.
        """
        super().init_weights()
        if self.init_cfg is None:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.LayerNorm)):
                    m.reset_parameters()
            trunc_normal_(self.rel_pos_bias_table, std=0.01)

    def forward(
            self, x: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Attend from every position of ``x`` to the deformed points.

        Args:
            x (torch.Tensor): Feature map of shape (B, C, H, W).

        Returns:
            tuple[torch.Tensor]: ``(out, pos, ref)``: the (B, C, H, W) output,
            and the deformed sampling points and their reference grid, each
            (B, num_groups, Hk, Wk, 2) in normalized (y, x) coordinates.
        """
        B, C, H, W = x.shape
        if C != self.channels:
            raise ValueError(
                f'DeformableAttention2d expects {self.channels} input '
                f'channels but got {C}.')
        g, gc = self.num_groups, self.group_channels
        dtype, device = x.dtype, x.device

        q = self.query_proj(x)
        offset = self.offset_net(q.reshape(B * g, gc, H, W))
        Hk, Wk = offset.shape[2:]
        if self.offset_range_factor >= 0:
            # Half a grid cell is 1 / (n - 1) in normalized units; a size-1
            # axis spans the whole map, whose half-extent is 1.
            offset_range = torch.tensor(
                [1.0 / max(Hk - 1, 1), 1.0 / max(Wk - 1, 1)],
                device=device,
                dtype=dtype).reshape(1, 2, 1, 1)
            offset = offset.tanh() * offset_range * self.offset_range_factor
        offset = offset.permute(0, 2, 3, 1)  # (B*g, Hk, Wk, 2) as (y, x)

        # DAT's quirk: cell centres (i + 0.5) divided by (n - 1), so the
        # reference points overshoot [-1, 1] slightly.
        ref = _grid(Hk, Wk, 0.5, device, dtype).expand(B * g, Hk, Wk, 2)
        pos = offset + ref
        if self.offset_range_factor < 0:
            pos = pos.clamp(-1., 1.)

        # The layer's only grid_sample: the keys' features. The bias needs
        # no second one (see _rel_pos_bias).
        sampled = F.grid_sample(
            x.reshape(B * g, gc, H, W),
            grid=pos[..., (1, 0)],
            mode='bilinear',
            align_corners=True)
        num_keys = Hk * Wk
        sampled = sampled.reshape(B, C, 1, num_keys)

        heads, hc = self.num_heads, self.head_channels
        q = q.reshape(B * heads, hc, H * W)
        k = self.key_proj(sampled).reshape(B * heads, hc, num_keys)
        v = self.value_proj(sampled).reshape(B * heads, hc, num_keys)
        attn = torch.einsum('bcm,bcn->bmn', q, k) * self.scale
        attn_bias = self._rel_pos_bias(pos.reshape(B, g, num_keys, 2), H, W)
        attn = attn + attn_bias.reshape(B * heads, H * W, num_keys)

        attn = self.attn_drop(attn.softmax(dim=-1))
        channels_last = not x.is_contiguous() and x.is_contiguous(
            memory_format=torch.channels_last)
        if channels_last:
            # Laid out (B, H, W, C): channels_last without a further copy,
            # so the ResNet around this block keeps its memory format.
            out = torch.einsum('bmn,bcn->bmc', attn, v)
            out = out.reshape(B, heads, H * W, hc).transpose(1, 2)
            out = out.reshape(B, H, W, C).permute(0, 3, 1, 2)
        else:
            out = torch.einsum('bmn,bcn->bcm', attn, v).reshape(B, C, H, W)
        out = self.proj_drop(self.out_proj(out))
        pos = pos.reshape(B, g, Hk, Wk, 2)
        ref = ref.reshape(B, g, Hk, Wk, 2)
        return out, pos, ref

    def _rel_pos_bias(self, pos: torch.Tensor, height: int,
                      width: int) -> torch.Tensor:
        """Relative-position bias of every query to every sampling point.

        The bias of head ``h`` between query ``q`` (a pixel of the map) and
        key ``p`` (a deformed point) is the table bilinearly sampled at the
        displacement ``(q - p) / 2`` (normalized, ``align_corners=True``,
        zero outside the table), as DAT computes it with a second
        ``grid_sample`` over all ``H * W * num_keys`` pairs. The queries lie
        on a regular grid, so the bilinear sample is separable: the table's
        columns are interpolated for every (key, query column) by one
        matmul per group with the linear-interpolation weights, then its rows
        by reading the two neighbouring rows of that result per (key, query
        row). Same values and gradients, no second ``grid_sample``; the
        table's gradient comes from a matmul, not from the scattered adds of
        all pairs into its few entries.

        Computed with autocast off, in the wider of the points' and the
        table's dtype: float32 under autocast (which would run a
        ``grid_sample`` in float32 too), else the model's dtype.

        Args:
            pos (torch.Tensor): Sampling points (B, num_groups, num_keys, 2)
                in normalized (y, x) coordinates.
            height (int): Query map height H.
            width (int): Query map width W.

        Returns:
            torch.Tensor: (B, num_groups, heads per group, H, W, num_keys),
            contiguous.
        """
        B, g, num_keys, _ = pos.shape
        table = self.rel_pos_bias_table
        dtype = torch.promote_types(pos.dtype, table.dtype)
        with torch.autocast(pos.device.type, enabled=False):
            pos = pos.to(dtype)
            rows, cols = table.shape[-2:]
            table = table.to(dtype).reshape(g, self.group_heads, rows, cols)
            # Columns: (B, g, heads/g, rows, W, keys), rows padded with a
            # zero row on either side for points beyond the table.
            w_x = _interp_weights(
                _normalized_coords(width, 0., pos.device, dtype), pos[..., 1],
                cols)
            by_cols = F.pad(
                torch.einsum('ghac,bgkjc->bghajk', table, w_x),
                (0, 0, 0, 0, 1, 1))
            # Rows: the two table rows around each query row's position.
            u = _table_index(
                _normalized_coords(height, 0., pos.device, dtype), pos[..., 0],
                rows)  # (B, g, keys, H)
            lower = u.floor()
            frac = (u - lower).transpose(2, 3)[:, :, None, :, None, None, :]
            weights = torch.cat([1 - frac, frac], dim=4)
            # Indices into the padded rows (-1 and ``rows`` are the zeros)
            # of the upper and lower neighbour of each query row.
            lower = lower.long().transpose(2, 3)[:, :, None, :, None, None, :]
            index = torch.cat([lower, lower + 1], dim=4).clamp(-1, rows) + 1
            index = index.expand(B, g, self.group_heads, height, 2, width,
                                 num_keys).flatten(3, 4)
            pairs = by_cols.gather(3, index).unflatten(3, (height, 2))
            return (weights * pairs).sum(4)

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, num_heads={self.num_heads}, '
                f'num_groups={self.num_groups}, '
                f'offset_stride={self.offset_stride}, '
                f'offset_kernel_size={self.offset_kernel_size}, '
                f'rpe_size={self.rpe_size}, '
                f'offset_range_factor={self.offset_range_factor}')

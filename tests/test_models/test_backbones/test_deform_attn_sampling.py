# Copyright (c) mmdecur contributors. All rights reserved.
"""DeformableAttention2d's one-grid_sample forward against DAT's formula.

The module samples the keys with one ``grid_sample`` and computes the
relative-position bias by separable interpolation; ``two_grid_sample_forward``
below is the formula it replaced (a second ``grid_sample`` of the bias table
at every query-key displacement), written out independently of the module.
"""
import pytest
import torch
import torch.nn.functional as F

import mmdecur  # noqa: F401  (applies the compat patches)
from mmdecur.models.backbones import DeformableAttention2d

TINY = dict(
    channels=32,
    num_heads=4,
    head_channels=8,
    num_groups=2,
    offset_stride=2,
    offset_kernel_size=5,
    rpe_size=(7, 7))
# DeCUR's layer-4 block, narrowed: 2 heads per group, stride 1, kernel 3.
L4_LIKE = dict(
    channels=64,
    num_heads=8,
    head_channels=8,
    num_groups=4,
    offset_stride=1,
    offset_kernel_size=3,
    rpe_size=(5, 5))


def norm_coords(n, start, dtype):
    if n == 1:
        return torch.zeros(1, dtype=dtype)
    return (torch.arange(n, dtype=dtype) + start) / (n - 1) * 2 - 1


def two_grid_sample_forward(da, x):
    """DAT's deformable attention: features and bias by two grid_samples."""
    B, C, H, W = x.shape
    g, gc = da.num_groups, da.group_channels
    heads, hc = da.num_heads, da.head_channels
    q = da.query_proj(x)
    offset = da.offset_net(q.reshape(B * g, gc, H, W))
    Hk, Wk = offset.shape[2:]
    if da.offset_range_factor >= 0:
        rng = torch.tensor([1.0 / max(Hk - 1, 1), 1.0 / max(Wk - 1, 1)],
                           dtype=x.dtype).reshape(1, 2, 1, 1)
        offset = offset.tanh() * rng * da.offset_range_factor
    offset = offset.permute(0, 2, 3, 1)
    ys, xs = norm_coords(Hk, 0.5, x.dtype), norm_coords(Wk, 0.5, x.dtype)
    ref = torch.stack(torch.meshgrid(ys, xs, indexing='ij'), -1)
    pos = offset + ref
    if da.offset_range_factor < 0:
        pos = pos.clamp(-1., 1.)
    keys = Hk * Wk
    sampled = F.grid_sample(
        x.reshape(B * g, gc, H, W),
        pos[..., (1, 0)],
        mode='bilinear',
        align_corners=True).reshape(B, C, 1, keys)
    q = q.reshape(B * heads, hc, H * W)
    k = da.key_proj(sampled).reshape(B * heads, hc, keys)
    v = da.value_proj(sampled).reshape(B * heads, hc, keys)
    attn = torch.einsum('bcm,bcn->bmn', q, k) * da.scale
    qy, qx = norm_coords(H, 0., x.dtype), norm_coords(W, 0., x.dtype)
    q_grid = torch.stack(torch.meshgrid(qy, qx, indexing='ij'), -1)
    disp = (q_grid.reshape(1, H * W, 1, 2) -
            pos.reshape(B * g, 1, keys, 2)) * 0.5
    table = da.rel_pos_bias_table.to(x.dtype).expand(B, -1, -1, -1)
    table = table.reshape(B * g, heads // g, *table.shape[-2:])
    bias = F.grid_sample(
        table, disp[..., (1, 0)], mode='bilinear', align_corners=True)
    attn = (attn + bias.reshape(B * heads, H * W, keys)).softmax(-1)
    out = torch.einsum('bmn,bcn->bcm', attn, v).reshape(B, C, H, W)
    return da.out_proj(out), pos.reshape(B, g, Hk, Wk, 2)


def rel_err(a, b):
    """||a - b|| / ||b||: summed gradients differ by their rounding."""
    return ((a - b).norm() / b.norm()).item()


def grid_sample_calls(da, x):
    calls = []
    original = F.grid_sample

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    F.grid_sample = counting
    try:
        da(x)
    finally:
        F.grid_sample = original
    return len(calls)


def make_block(cfg, dtype, offset_scale, table_std=0.02, **kwargs):
    torch.manual_seed(0)
    da = DeformableAttention2d(**cfg, **kwargs).to(dtype)
    with torch.no_grad():
        # Offsets of several cells (points all over the map, some clamped)
        # and a table well away from zero.
        da.offset_net.proj.weight.mul_(offset_scale)
        da.rel_pos_bias_table.normal_(0, table_std)
    return da


def outputs_and_grads(fn, da, x):
    da.zero_grad(set_to_none=True)
    x = x.detach().clone().requires_grad_()
    out, pos = fn(da, x)
    # A fixed random cotangent: every output element matters.
    gen = torch.Generator().manual_seed(1)
    cot = torch.randn(out.shape, generator=gen, dtype=out.dtype)
    cot_pos = torch.randn(pos.shape, generator=gen, dtype=pos.dtype)
    ((out * cot).sum() + (pos * cot_pos).sum()).backward()
    grads = {n: p.grad.clone() for n, p in da.named_parameters()}
    grads['input'] = x.grad.clone()
    return out.detach(), pos.detach(), grads


def module_forward(da, x):
    out, pos, _ = da(x)
    return out, pos


@pytest.mark.parametrize('dtype,tol', [(torch.float32, 1e-6),
                                       (torch.float64, 1e-12)])
@pytest.mark.parametrize(
    'cfg,size,kwargs',
    [
        (TINY, (14, 14), {}),  # table sized for the map
        (TINY, (9, 13), {}),  # other map sizes, non-square
        (TINY, (5, 3), {}),  # map smaller than the table
        (L4_LIKE, (5, 5), {}),
        (L4_LIKE, (8, 6), {}),
        # Bounded offsets: points outside the map, bias read near the
        # table's edge and outside it (zero padding).
        (TINY, (9, 13), dict(offset_range_factor=3.)),
        (TINY, (1, 7), {}),  # size-1 axes
    ])
def test_matches_two_grid_sample_formula(dtype, tol, cfg, size, kwargs):
    da = make_block(cfg, dtype, offset_scale=30., **kwargs)
    x = torch.randn(2, cfg['channels'], *size, dtype=dtype)
    out, pos, grads = outputs_and_grads(module_forward, da, x)
    ref_out, ref_pos, ref_grads = outputs_and_grads(two_grid_sample_forward,
                                                    da, x)
    assert torch.equal(pos, ref_pos)
    assert rel_err(out, ref_out) <= tol
    assert set(grads) == set(ref_grads)
    # q . b_k is the same for every key of a query: the softmax cancels it,
    # and the key bias' true gradient is zero (both hold rounding noise).
    scale = max(g.norm() for g in ref_grads.values())
    zero = ref_grads.pop('key_proj.bias')
    assert zero.norm() < 1e3 * tol * scale
    assert grads.pop('key_proj.bias').norm() < 1e3 * tol * scale
    for name, ref in ref_grads.items():
        assert rel_err(grads[name], ref) <= tol, name


def test_bias_gradient_reaches_the_table_everywhere_sampled():
    """The cases above exercise the bias: it changes the output and most
    table entries get a gradient."""
    da = make_block(TINY, torch.float64, offset_scale=30.)
    x = torch.randn(2, 32, 9, 13, dtype=torch.float64)
    out, _, grads = outputs_and_grads(module_forward, da, x)
    with torch.no_grad():
        da.rel_pos_bias_table.zero_()
    assert not torch.allclose(da(x)[0], out)
    assert (grads['rel_pos_bias_table'] != 0).float().mean() > 0.5


def test_one_grid_sample_per_layer():
    da = make_block(TINY, torch.float32, offset_scale=30.)
    x = torch.randn(2, 32, 9, 13)
    assert grid_sample_calls(da, x) == 1
    # The old formula needed two.
    calls = []
    original = F.grid_sample

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    F.grid_sample = counting
    try:
        two_grid_sample_forward(da, x)
    finally:
        F.grid_sample = original
    assert len(calls) == 2


def test_autocast_matches_the_old_formula_under_autocast():
    """Autocast runs a grid_sample in float32; the bias is float32 too, so
    the bf16 forward is the old formula's bf16 forward."""
    da = make_block(TINY, torch.float32, offset_scale=30.)
    x = torch.randn(2, 32, 9, 13)
    pos = torch.rand(2, TINY['num_groups'], 20, 2) * 2 - 1
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        out = da(x)[0]
        old = two_grid_sample_forward(da, x)[0]
        bias = da._rel_pos_bias(pos.bfloat16(), 9, 13)
    assert bias.dtype == torch.float32
    assert out.dtype == old.dtype
    assert rel_err(out.float(), old.float()) < 1e-3

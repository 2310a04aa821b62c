# Copyright (c) mmdecur contributors. All rights reserved.
import math

import pytest
import torch
import torch.nn.functional as F

import mmdecur  # noqa: F401  (applies the compat patches)
from mmdecur.models.backbones import OFFICIAL_KEY_MAP, DeformableAttention2d
from mmdecur.registry import MODELS

# DeCUR's two blocks (ResNet-50 after layer3 / layer4).
DA_L3 = dict(
    channels=1024,
    num_heads=8,
    head_channels=128,
    num_groups=4,
    offset_stride=2,
    offset_kernel_size=5,
    rpe_size=(14, 14))
DA_L4 = dict(
    channels=2048,
    num_heads=16,
    head_channels=128,
    num_groups=8,
    offset_stride=1,
    offset_kernel_size=3,
    rpe_size=(7, 7))
TINY = dict(
    channels=32,
    num_heads=4,
    head_channels=8,
    num_groups=2,
    offset_stride=2,
    offset_kernel_size=5,
    rpe_size=(7, 7))


def official_shapes(channels, num_heads, num_groups, kernel, rpe_size):
    """Parameter shapes of DAT's DAttentionBaseline, written out by hand."""
    gc = channels // num_groups
    rh, rw = rpe_size
    shapes = {
        'conv_offset.0.weight': (gc, 1, kernel, kernel),
        'conv_offset.0.bias': (gc, ),
        'conv_offset.1.norm.weight': (gc, ),
        'conv_offset.1.norm.bias': (gc, ),
        'conv_offset.3.weight': (2, gc, 1, 1),
        'rpe_table': (num_heads, 2 * rh - 1, 2 * rw - 1),
    }
    for proj in ('q', 'k', 'v', 'out'):
        shapes[f'proj_{proj}.weight'] = (channels, channels, 1, 1)
        shapes[f'proj_{proj}.bias'] = (channels, )
    return shapes


def num_params(module):
    return sum(p.numel() for p in module.parameters())


def interp_matrix(n):
    """Rows: bilinear weights of DAT's zero-offset sampling points.

    With ``align_corners=True`` the reference point ``i`` sits at pixel
    ``i + 0.5`` (a cell centre); the last one (``n - 0.5``) lies outside the
    map and is clamped to pixel ``n - 1``.
    """
    m = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        p = min(i + 0.5, n - 1)
        lo = int(math.floor(p))
        hi = min(lo + 1, n - 1)
        m[i, lo] += 1 - (p - lo)
        m[i, hi] += p - lo
    return m


def identity_block(channels, rpe_size=(3, 3)):
    """One head, one group, identity projections, zero offsets."""
    da = DeformableAttention2d(
        channels=channels,
        num_heads=1,
        head_channels=channels,
        num_groups=1,
        offset_stride=1,
        offset_kernel_size=1,
        rpe_size=rpe_size).double()
    eye = torch.eye(channels, dtype=torch.float64)[..., None, None]
    with torch.no_grad():
        for proj in (da.query_proj, da.key_proj, da.value_proj, da.out_proj):
            proj.weight.copy_(eye)
            proj.bias.zero_()
        da.offset_net.proj.weight.zero_()
        da.rel_pos_bias_table.zero_()
    return da


def test_param_counts():
    for cfg, expected in ((DA_L3, 4.21e6), (DA_L4, 16.79e6)):
        c, g = cfg['channels'], cfg['num_groups']
        k = cfg['offset_kernel_size']
        rh, rw = cfg['rpe_size']
        gc = c // g
        # 4 1x1 convs + depthwise conv + LayerNorm + offset conv + table
        exact = (4 * (c * c + c) + (gc * k * k + gc) + 2 * gc + 2 * gc +
                 cfg['num_heads'] * (2 * rh - 1) * (2 * rw - 1))
        da = DeformableAttention2d(**cfg)
        assert num_params(da) == exact
        assert abs(exact - expected) < 0.005e6
    assert num_params(DeformableAttention2d(**DA_L3)) == 4211912
    assert num_params(DeformableAttention2d(**DA_L4)) == 16791696


@pytest.mark.parametrize('cfg', [DA_L3, DA_L4])
def test_official_state_dict_loads_strict(cfg):
    shapes = official_shapes(cfg['channels'], cfg['num_heads'],
                             cfg['num_groups'], cfg['offset_kernel_size'],
                             cfg['rpe_size'])
    assert set(shapes) == set(OFFICIAL_KEY_MAP)
    official = {k: torch.randn(s) for k, s in shapes.items()}
    da = DeformableAttention2d(**cfg)
    da.load_state_dict({
        OFFICIAL_KEY_MAP[k]: v
        for k, v in official.items()
    },
                       strict=True)
    state = da.state_dict()
    for k, v in official.items():
        assert torch.equal(state[OFFICIAL_KEY_MAP[k]], v)


def test_zero_offsets_give_clamped_reference_grid():
    da = DeformableAttention2d(**TINY)
    with torch.no_grad():
        da.offset_net.proj.weight.zero_()
    H, W = 9, 13
    x = torch.randn(2, TINY['channels'], H, W)
    _, pos, ref = da(x)
    # depthwise conv: kernel 5, stride 2, padding 2
    Hk, Wk = (H + 4 - 5) // 2 + 1, (W + 4 - 5) // 2 + 1
    assert pos.shape == ref.shape == (2, TINY['num_groups'], Hk, Wk, 2)
    ys = torch.linspace(0.5, Hk - 0.5, Hk) / (Hk - 1) * 2 - 1
    xs = torch.linspace(0.5, Wk - 0.5, Wk) / (Wk - 1) * 2 - 1
    expected = torch.stack(torch.meshgrid(ys, xs, indexing='ij'), dim=-1)
    assert ref.max() > 1  # DAT's reference points overshoot the map ...
    torch.testing.assert_close(ref, expected.expand_as(ref))
    # ... and, offsets being unbounded, the sampling points are clamped.
    torch.testing.assert_close(pos, expected.clamp(-1, 1).expand_as(pos))


def test_unbounded_offsets_are_clamped_to_the_map():
    da = DeformableAttention2d(**TINY)
    with torch.no_grad():
        da.offset_net.proj.weight.mul_(100)
    _, pos, _ = da(torch.randn(2, TINY['channels'], 14, 14))
    assert pos.abs().max() <= 1
    assert (pos.abs() == 1).float().mean() > 0.5


def test_bounded_offsets():
    da = DeformableAttention2d(**TINY, offset_range_factor=2.)
    with torch.no_grad():
        da.offset_net.proj.weight.mul_(100)
    _, pos, ref = da(torch.randn(2, TINY['channels'], 9, 13))
    Hk, Wk = pos.shape[2:4]
    # tanh bound: factor half-cells, half a cell being 1 / (n - 1)
    bound = torch.tensor([2. / (Hk - 1), 2. / (Wk - 1)])
    assert ((pos - ref).abs() <= bound + 1e-6).all()
    assert ((pos - ref).abs() > 0.9 * bound).any()  # not clamped at +-1
    assert pos.abs().max() > 1


def test_matches_attention_computed_by_hand():
    C, H, W = 3, 3, 5
    da = identity_block(C)
    x = torch.randn(2, C, H, W, dtype=torch.float64)
    out, pos, _ = da(x)
    My, Mx = interp_matrix(H), interp_matrix(W)
    for b in range(2):
        keys = torch.einsum('ih,chw,jw->cij', My, x[b], Mx).reshape(C, -1)
        q = x[b].reshape(C, -1)
        attn = torch.softmax(q.T @ keys / math.sqrt(C), dim=-1)
        expected = (keys @ attn.T).reshape(C, H, W)
        torch.testing.assert_close(out[b], expected)


def test_relative_position_bias_by_hand():
    """A bias table linear in (row, col) samples to a known linear bias."""
    C, H, W = 2, 4, 3
    rh, rw = 3, 5
    da = identity_block(C, rpe_size=(rh, rw))
    a, c = 0.7, -1.3
    rows = torch.arange(2 * rh - 1, dtype=torch.float64)[:, None]
    cols = torch.arange(2 * rw - 1, dtype=torch.float64)[None, :]
    with torch.no_grad():
        da.rel_pos_bias_table.copy_((a * rows + c * cols)[None])
    x = torch.randn(1, C, H, W, dtype=torch.float64)
    out, pos, _ = da(x)

    qy = torch.arange(H, dtype=torch.float64) / (H - 1) * 2 - 1
    qx = torch.arange(W, dtype=torch.float64) / (W - 1) * 2 - 1
    q_grid = torch.stack(torch.meshgrid(qy, qx, indexing='ij'), -1)
    q_grid = q_grid.reshape(-1, 1, 2)
    disp = (q_grid - pos.reshape(1, -1, 2)) * 0.5  # (HW, Nk, 2) in (y, x)
    # align_corners=True: normalized d in [-1, 1] maps to index
    # (d + 1) / 2 * (size - 1) of a table axis of size 2 * r - 1.
    bias = (
        a * (disp[..., 0] + 1) * (rh - 1) + c * (disp[..., 1] + 1) * (rw - 1))

    My, Mx = interp_matrix(H), interp_matrix(W)
    keys = torch.einsum('ih,chw,jw->cij', My, x[0], Mx).reshape(C, -1)
    q = x[0].reshape(C, -1)
    attn = torch.softmax(q.T @ keys / math.sqrt(C) + bias, dim=-1)
    expected = (keys @ attn.T).reshape(C, H, W)
    torch.testing.assert_close(out[0], expected)


@pytest.mark.parametrize('size', [(14, 14), (9, 13), (7, 7), (2, 2), (1, 1),
                                  (1, 7), (6, 1)])
def test_any_input_size(size):
    da = DeformableAttention2d(**TINY)
    x = torch.randn(2, TINY['channels'], *size, requires_grad=True)
    out, pos, ref = da(x)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    assert torch.isfinite(pos).all() and torch.isfinite(ref).all()
    for dim, n in zip((0, 1), pos.shape[2:4]):
        if n == 1:  # a size-1 axis is sampled at its centre
            assert (ref[..., dim] == 0).all()
    out.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert torch.isfinite(da.rel_pos_bias_table.grad).all()


def test_size_one_map_attends_to_itself():
    da = identity_block(4)
    x = torch.randn(3, 4, 1, 1, dtype=torch.float64)
    out, pos, ref = da(x)
    torch.testing.assert_close(out, x)
    assert (pos == 0).all() and (ref == 0).all()


def test_invalid_settings():
    with pytest.raises(ValueError, match='num_heads \\* head_channels'):
        DeformableAttention2d(**dict(TINY, channels=30))
    with pytest.raises(ValueError, match='divisible by num_groups'):
        DeformableAttention2d(**dict(TINY, num_groups=3))
    da = DeformableAttention2d(**TINY)
    with pytest.raises(ValueError, match='expects 32 input channels'):
        da(torch.randn(1, 16, 8, 8))


def test_build_and_init_weights():
    da = MODELS.build(dict(type='DeformableAttention2d', **TINY))
    assert isinstance(da, DeformableAttention2d)
    with torch.no_grad():
        for p in da.parameters():
            p.fill_(5.)
    da.init_weights()
    assert 0.005 < da.rel_pos_bias_table.std() < 0.015
    assert (da.offset_net.norm.weight == 1).all()
    bound = 1 / math.sqrt(TINY['channels'])  # PyTorch's conv default
    assert da.query_proj.weight.abs().max() <= bound


def test_dropout_only_in_training():
    da = DeformableAttention2d(**TINY, attn_drop=0.5, proj_drop=0.5)
    x = torch.randn(1, TINY['channels'], 8, 8)
    da.eval()
    torch.testing.assert_close(da(x)[0], da(x)[0])
    da.train()
    assert not torch.allclose(da(x)[0], da(x)[0])


def test_grid_sample_convention():
    """The test's pixel-centre reading of the reference grid is right."""
    n = 5
    x = torch.arange(n, dtype=torch.float64).reshape(1, 1, 1, n)
    ref_x = (torch.linspace(0.5, n - 0.5, n, dtype=torch.float64) /
             (n - 1) * 2 - 1).clamp(-1, 1)
    grid = torch.stack([ref_x, torch.zeros(n, dtype=torch.float64)], -1)
    sampled = F.grid_sample(
        x, grid.reshape(1, 1, n, 2), mode='bilinear', align_corners=True)
    torch.testing.assert_close(sampled.flatten(),
                               interp_matrix(n) @ x.flatten())

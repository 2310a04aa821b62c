# Copyright (c) mmdecur contributors. All rights reserved.
import pytest
import torch
import torch.nn as nn

from mmdecur.models.necks import Projector


def test_layout_matches_the_official_projector_keys():
    proj = Projector(
        in_channels=16,
        hid_channels=32,
        out_channels=24,
        norm_cfg=dict(type='BN1d'))
    keys = set(proj.state_dict())
    official = {f'layers.{i}.weight'
                for i in (0, 3, 6)} | {
                    f'layers.{i}.{k}'
                    for i in (1, 4)
                    for k in ('weight', 'bias', 'running_mean', 'running_var',
                              'num_batches_tracked')
                }
    assert keys == official
    assert proj.layers[0].weight.shape == (32, 16)
    assert proj.layers[6].weight.shape == (24, 32)
    assert all(m.bias is None for m in proj.modules()
               if isinstance(m, nn.Linear))


def test_forward_is_linear_bn_relu_stack():
    torch.manual_seed(0)
    proj = Projector(
        in_channels=4,
        hid_channels=6,
        out_channels=3,
        num_layers=2,
        norm_cfg=dict(type='BN1d'))
    x = torch.randn(8, 4)
    h = proj.layers[0](x)
    h = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + 1e-5)
    want = proj.layers[3](torch.relu(h))
    torch.testing.assert_close(proj(x), want)
    torch.testing.assert_close(proj((x, )), want)  # backbone tuples


def test_no_projector_is_identity():
    proj = Projector(in_channels=5, num_layers=0)
    x = torch.randn(3, 5)
    assert proj.out_channels == 5
    assert torch.equal(proj(x), x)


def test_wrong_input_width_is_a_clear_error():
    proj = Projector(in_channels=8, hid_channels=4, out_channels=4)
    with pytest.raises(ValueError, match=r'\(B, 8\)'):
        proj(torch.randn(2, 7))

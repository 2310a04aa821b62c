# Copyright (c) mmdecur contributors. All rights reserved.
import math

import pytest
import torch
import torchvision
from torch.nn.modules.batchnorm import _BatchNorm

import mmdecur  # noqa: F401  (applies the compat patches)
from mmdecur.models.backbones import (RDA_PAPER_SETTINGS,
                                      DeformableAttention2d, ResNet)
from mmdecur.registry import MODELS

# A ResNet-18 with base_channels=8 has 32 (layer3) and 64 (layer4) channels.
TINY_RDA = dict(
    layer3=dict(
        num_heads=4,
        head_channels=8,
        num_groups=2,
        offset_stride=2,
        offset_kernel_size=5,
        rpe_size=(4, 4)),
    layer4=dict(
        num_heads=8,
        head_channels=8,
        num_groups=4,
        offset_stride=1,
        offset_kernel_size=3,
        rpe_size=(2, 2)))


def tiny(**kwargs):
    cfg = dict(depth=18, base_channels=8, stem_channels=8, in_channels=3)
    cfg.update(kwargs)
    return ResNet(**cfg)


def copy_weights(src, dst):
    missing, unexpected = dst.load_state_dict(src.state_dict(), strict=False)
    assert not unexpected
    return missing


@pytest.mark.parametrize('depth', [18, 50])
def test_keys_match_torchvision(depth):
    ours = ResNet(depth, in_channels=13)
    tv = getattr(torchvision.models, f'resnet{depth}')(weights=None)
    tv.conv1 = torch.nn.Conv2d(13, 64, 7, 2, 3, bias=False)
    tv_state = {
        k: v
        for k, v in tv.state_dict().items() if not k.startswith('fc.')
    }
    ours_state = ours.state_dict()
    assert set(ours_state) == set(tv_state)
    for k, v in tv_state.items():
        assert ours_state[k].shape == v.shape, k
    # ... so torchvision weights (DeCUR's checkpoints) give the same output.
    ours.load_state_dict(tv_state, strict=True)
    ours.eval()
    tv.eval()
    x = torch.randn(2, 13, 64, 64)
    tv.fc = torch.nn.Identity()
    torch.testing.assert_close(ours(x)[0], tv(x))


@pytest.mark.parametrize('depth,out_channels', [(18, 512), (50, 2048)])
@pytest.mark.parametrize('in_channels', [2, 13, 3])
def test_forward_backward(depth, out_channels, in_channels):
    model = MODELS.build(
        dict(type='ResNet', depth=depth, in_channels=in_channels))
    assert model.in_channels == in_channels
    assert model.out_channels == out_channels
    x = torch.randn(2, in_channels, 64, 64)
    (pooled, ) = model(x)
    assert pooled.shape == (2, out_channels)
    pooled.sum().backward()
    assert model.conv1.weight.grad.shape[1] == in_channels
    assert model.conv1.weight.grad.abs().sum() > 0


def test_pooled_is_global_average_of_last_stage():
    pooled = tiny().eval()
    featmap = tiny(out_type='featmap', out_indices=(3, )).eval()
    copy_weights(pooled, featmap)
    x = torch.randn(2, 3, 96, 128)
    (vec, ) = pooled(x)
    (fmap, ) = featmap(x)
    torch.testing.assert_close(vec, fmap.mean(dim=(2, 3)))


@pytest.mark.parametrize('depth,channels', [(18, (64, 128, 256, 512)),
                                            (50, (256, 512, 1024, 2048))])
def test_featmap(depth, channels):
    model = ResNet(depth, in_channels=2, out_type='featmap')
    assert model.featmap_channels == channels
    outs = model(torch.randn(1, 2, 96, 128))
    assert [tuple(o.shape) for o in outs] == [
        (1, c, 96 // s, 128 // s) for c, s in zip(channels, (4, 8, 16, 32))
    ]
    model = ResNet(
        depth, in_channels=2, out_type='featmap', out_indices=(1, 3))
    assert [o.shape[1] for o in model(torch.randn(1, 2, 64, 64))
            ] == [channels[1], channels[3]]


def test_wrong_channels_raise():
    model = ResNet(18, in_channels=13)
    with pytest.raises(
            ValueError,
            match=r'ResNet expects 13 input channels \(in_channels=13\) but '
            'got 3'):
        model(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match='out_type'):
        ResNet(18, out_type='tokens')


@pytest.mark.parametrize('size', [(64, 64), (96, 128)])
def test_rda_paper_settings(size):
    model = ResNet(50, in_channels=13, rda=True)
    assert isinstance(model.da_layer3, DeformableAttention2d)
    assert isinstance(model.da_layer4, DeformableAttention2d)
    assert model.da_layer3.channels == 1024
    assert model.da_layer4.channels == 2048
    assert model.da_layer3.rpe_size == (14, 14)
    assert model.da_layer4.rpe_size == (7, 7)
    n_da = sum(p.numel() for n, p in model.named_parameters()
               if n.startswith('da_'))
    assert n_da == 4211912 + 16791696
    x = torch.randn(2, 13, *size)
    (pooled, ) = model(x)
    assert pooled.shape == (2, 2048)
    assert torch.isfinite(pooled).all()
    pooled.sum().backward()
    for name in ('da_layer3', 'da_layer4'):
        grad = getattr(model, name).query_proj.weight.grad
        assert grad is not None and torch.isfinite(grad).all()


def test_rda_wiring():
    """DA follows its stage, and the attended map feeds the next stage."""
    for residual in (True, False):
        model = tiny(
            rda=TINY_RDA, rda_residual=residual, out_type='featmap').eval()
        x = torch.randn(2, 3, 64, 96)
        with torch.no_grad():
            outs = model(x)
            points = model.forward_deform_points(x)
            layer3 = model.layer3(outs[1])
            layer4 = model.layer4(outs[2])
            expected = []
            for feat, da in ((layer3, model.da_layer3), (layer4,
                                                         model.da_layer4)):
                y = da(feat)[0]
                expected.append(feat + y if residual else y)
        torch.testing.assert_close(outs[2], expected[0])
        torch.testing.assert_close(outs[3], expected[1])
        torch.testing.assert_close(points['layer3']['feature'], layer3)
        torch.testing.assert_close(points['layer4']['feature'], layer4)


def test_rda_with_zero_output_equals_plain_resnet():
    plain = tiny().eval()
    rda = tiny(rda=TINY_RDA).eval()
    missing = copy_weights(plain, rda)
    assert missing and all(k.startswith('da_') for k in missing)
    with torch.no_grad():
        for da in (rda.da_layer3, rda.da_layer4):
            da.out_proj.weight.zero_()
            da.out_proj.bias.zero_()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(rda(x)[0], plain(x)[0])


def test_forward_deform_points():
    model = tiny(rda=TINY_RDA, in_channels=2).eval()
    points = model.forward_deform_points(torch.randn(2, 2, 96, 128))
    assert set(points) == {'layer3', 'layer4'}
    # layer3: 6x8 map, kernel 5 stride 2 -> 3x4; layer4: 3x4, stride 1.
    assert points['layer3']['pos'].shape == (2, 2, 3, 4, 2)
    assert points['layer3']['ref'].shape == (2, 2, 3, 4, 2)
    assert points['layer3']['feature'].shape == (2, 32, 6, 8)
    assert points['layer4']['pos'].shape == (2, 4, 3, 4, 2)
    assert points['layer4']['feature'].shape == (2, 64, 3, 4)
    for p in points.values():
        assert p['pos'].abs().max() <= 1
    with pytest.raises(RuntimeError, match='rda'):
        tiny().forward_deform_points(torch.randn(1, 3, 64, 64))


def test_rda_small_maps_stay_finite():
    # RN50 at 32 px: layer3 is 2x2 (a 1x1 offset grid), layer4 1x1.
    model = ResNet(50, in_channels=2, rda=True).eval()
    (pooled, ) = model(torch.randn(1, 2, 32, 32))
    assert torch.isfinite(pooled).all()


def test_rda_settings_errors():
    with pytest.raises(ValueError, match='pass explicit rda settings'):
        ResNet(18, rda=True)
    with pytest.raises(ValueError, match='pass explicit rda settings'):
        ResNet(50, base_channels=8, rda=RDA_PAPER_SETTINGS)
    with pytest.raises(ValueError, match='stage'):
        tiny(rda=dict(layer5=TINY_RDA['layer4']))
    with pytest.raises(ValueError, match='has 32 channels'):
        tiny(rda=dict(layer3=dict(TINY_RDA['layer3'], channels=64)))


def test_init_weights():
    model = tiny(rda=TINY_RDA)
    model.init_weights()
    # torchvision-style zero_init_residual
    for block in (model.layer1[0], model.layer4[1]):
        assert (block.bn2.weight == 0).all()
    # The attention block keeps DAT's init, not ResNet's Kaiming fan_out
    # init: PyTorch's default conv init is bounded by 1 / sqrt(fan_in).
    da = model.da_layer3
    assert da.query_proj.weight.abs().max() <= 1 / math.sqrt(da.channels)
    assert da.rel_pos_bias_table.std() < 0.05


def test_frozen_stages_and_norm_eval():
    model = tiny(rda=TINY_RDA, frozen_stages=3, norm_eval=True)
    model.train()
    assert not any(p.requires_grad for p in model.layer3.parameters())
    assert not any(p.requires_grad for p in model.da_layer3.parameters())
    assert all(p.requires_grad for p in model.layer4.parameters())
    assert all(p.requires_grad for p in model.da_layer4.parameters())
    assert not model.da_layer3.training and model.da_layer4.training
    assert all(not m.training for m in model.modules()
               if isinstance(m, _BatchNorm))


def test_norm_cfg_passthrough():
    model = tiny(norm_cfg=dict(type='SyncBN', requires_grad=True))
    assert isinstance(model.bn1, torch.nn.SyncBatchNorm)
    assert isinstance(model.layer2[0].downsample[1], torch.nn.SyncBatchNorm)
    assert 'layer1.0.bn1.weight' in model.state_dict()

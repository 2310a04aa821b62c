# Copyright (c) mmdecur contributors. All rights reserved.
import pytest
import torch

import mmdecur  # noqa: F401  (applies the compat patches)
from mmdecur.models.backbones import MiT
from mmdecur.registry import MODELS

WIDTHS = {
    'b0': (32, 64, 160, 256),
    'b1': (64, 128, 320, 512),
    'b2': (64, 128, 320, 512),
    'b3': (64, 128, 320, 512),
    'b4': (64, 128, 320, 512),
    'b5': (64, 128, 320, 512),
}
DEPTHS = {
    'b0': [2, 2, 2, 2],
    'b1': [2, 2, 2, 2],
    'b2': [3, 4, 6, 3],
    'b3': [3, 4, 18, 3],
    'b4': [3, 8, 27, 3],
    'b5': [3, 6, 40, 3],
}


def num_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize('arch', sorted(WIDTHS))
def test_arch_zoo(arch):
    model = MiT(arch, out_type='featmap')
    assert [len(layer[1]) for layer in model.layers] == DEPTHS[arch]
    assert model.featmap_channels == WIDTHS[arch]
    assert model.head is None
    assert model.out_channels == WIDTHS[arch][-1]


@pytest.mark.parametrize('arch,backbone_params', [('b2', 24.2e6),
                                                  ('b5', 81.4e6)])
def test_pooled_decur_variants(arch, backbone_params):
    model = MiT(arch)
    head = 512 * 2048 + 2048
    assert isinstance(model.head, torch.nn.Linear)
    assert abs(num_params(model) - head - backbone_params) < 0.1e6
    assert model.out_channels == 2048
    (pooled, ) = model(torch.randn(2, 3, 64, 64))
    assert pooled.shape == (2, 2048)


def test_pooled_is_head_of_mean_stage4_token():
    pooled = MiT('b0', drop_path_rate=0.).eval()
    featmap = MiT('b0', out_type='featmap', out_indices=(3, )).eval()
    missing, unexpected = featmap.load_state_dict(
        pooled.state_dict(), strict=False)
    assert not missing and unexpected == ['head.weight', 'head.bias']
    x = torch.randn(2, 3, 64, 96)
    (stage4, ) = featmap(x)
    assert stage4.shape == (2, 256, 2, 3)
    expected = pooled.head(stage4.flatten(2).mean(-1))
    torch.testing.assert_close(pooled(x)[0], expected)

    no_head = MiT('b0', pooled_channels=None).eval()
    no_head.load_state_dict(featmap.state_dict())
    assert no_head.head is None and no_head.out_channels == 256
    torch.testing.assert_close(no_head(x)[0], stage4.mean(dim=(2, 3)))


@pytest.mark.parametrize('in_channels', [1, 3, 4, 2, 13])
def test_in_channels_forward_backward(in_channels):
    model = MODELS.build(dict(type='MiT', arch='b0', in_channels=in_channels))
    assert model.in_channels == in_channels
    x = torch.randn(2, in_channels, 64, 64)
    (pooled, ) = model(x)
    assert pooled.shape == (2, 2048)
    pooled.sum().backward()
    proj = model.layers[0][0].projection
    assert proj.weight.shape[1] == in_channels
    assert proj.weight.grad.abs().sum() > 0


def test_featmap_shapes():
    model = MiT('b2', in_channels=4, out_type='featmap', out_indices=(1, 3))
    assert model.featmap_channels == (128, 512)
    outs = model(torch.randn(1, 4, 96, 128))
    assert [tuple(o.shape) for o in outs] == [(1, 128, 12, 16), (1, 512, 3, 4)]


def test_errors():
    model = MiT('b0', in_channels=4)
    with pytest.raises(
            ValueError,
            match=r'MiT expects 4 input channels \(in_channels=4\) but got 3'):
        model(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match='Unknown MiT arch'):
        MiT('b9')
    with pytest.raises(ValueError, match='out_type'):
        MiT('b0', out_type='tokens')

# Copyright (c) mmdecur contributors. All rights reserved.
import pytest
import torch
import torch.nn as nn

import mmdecur  # noqa: F401  (applies the compat patches)
from mmdecur.models.backbones import (CMXBackbone, FeatureFusionModule,
                                      FeatureRectifyModule, MiT)
from mmdecur.registry import MODELS

B0_WIDTHS = (32, 64, 160, 256)


def inputs(batch=2, size=64, **channels):
    channels = dict(dict(rgb=3, hha=3), **channels)
    return {m: torch.randn(batch, c, size, size) for m, c in channels.items()}


def num_params(module):
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope='module')
def b0():
    torch.manual_seed(0)
    return CMXBackbone('b0', drop_path_rate=0.)


def test_forward_shapes_and_backward(b0):
    outs = b0(inputs())
    assert [tuple(o.shape) for o in outs] == [
        (2, c, 64 // s, 64 // s) for c, s in zip(B0_WIDTHS, (4, 8, 16, 32))
    ]
    assert b0.out_channels == B0_WIDTHS and b0.num_heads == (1, 2, 5, 8)
    sum(o.mean() for o in outs).backward()
    for name in ('encoders.rgb.layers.0.0.projection.weight',
                 'encoders.hha.layers.3.1.1.ffn.layers.4.weight',
                 'frms.0.channel_gate.0.weight', 'frms.3.spatial_gate.2.bias',
                 'ffms.0.cross_path.kv_projs.1.weight',
                 'ffms.3.channel_embed.norm.weight'):
        grad = dict(b0.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    b0.zero_grad()


def test_stages_are_wired_through_frm_and_ffm(b0):
    """Stage i+1 of each stream reads the FRM-rectified stage-i maps."""
    b0.eval()
    x = inputs(batch=1)
    with torch.no_grad():
        outs = b0(x)
        x1, x2 = x['rgb'], x['hha']
        for i in range(4):
            x1 = b0._stage(b0.encoders.rgb, i, x1)
            x2 = b0._stage(b0.encoders.hha, i, x2)
            x1, x2 = b0.frms[i](x1, x2)
            torch.testing.assert_close(outs[i], b0.ffms[i](x1, x2))
        # Without rectification, stage 1 would differ: the FRM is used.
        plain = MiT('b0', out_type='featmap', out_indices=(1, ))
        plain.load_state_dict(b0.encoders.rgb.state_dict())
        rectified = b0._stage(
            b0.encoders.rgb, 1,
            b0.frms[0](b0._stage(b0.encoders.rgb, 0, x['rgb']),
                       b0._stage(b0.encoders.hha, 0, x['hha']))[0])
        assert not torch.allclose(plain.eval()(x['rgb'])[0], rectified)
    b0.train()


def test_build_from_registry_with_other_modalities():
    model = MODELS.build(
        dict(
            type='CMXBackbone',
            arch='b0',
            modalities=('rgb', 'depth'),
            in_channels=dict(rgb=3, depth=1)))
    assert set(model.encoders) == {'rgb', 'depth'}
    assert model.encoders.depth.layers[0][0].projection.weight.shape[1] == 1
    # Extra entries (another modality) are ignored.
    outs = model(inputs(batch=2, size=32, depth=1, hha=3))
    assert outs[0].shape == (2, 32, 8, 8)


def test_input_errors(b0):
    with pytest.raises(KeyError, match=r"lack modalities \['hha'\]"):
        b0({'rgb': torch.randn(1, 3, 64, 64)})
    with pytest.raises(
            ValueError, match=r'CMXBackbone\[hha\] expects 3 input channels'):
        b0(inputs(hha=1))
    with pytest.raises(ValueError, match='co-registered'):
        b0({
            'rgb': torch.randn(1, 3, 64, 64),
            'hha': torch.randn(1, 3, 32, 64)
        })
    with pytest.raises(TypeError, match='dict'):
        b0(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match='exactly two'):
        CMXBackbone('b0', modalities=('rgb', ))
    with pytest.raises(ValueError, match=r"no entry for \['hha'\]"):
        CMXBackbone('b0', in_channels=dict(rgb=3))


def test_frozen_encoders_only():
    model = CMXBackbone('b0', frozen=True)
    assert not any(p.requires_grad for p in model.encoders.parameters())
    assert all(p.requires_grad for p in model.frms.parameters())
    assert all(p.requires_grad for p in model.ffms.parameters())
    model.train()
    assert not any(m.training for m in model.encoders.modules())
    assert all(m.training for m in model.ffms.modules())
    outs = model(inputs(batch=2, size=32))
    sum(o.mean() for o in outs).backward()
    assert all(p.grad is None for p in model.encoders.parameters())
    assert model.frms[0].channel_gate[0].weight.grad is not None


def test_norm_eval_keeps_fusion_bn_in_eval():
    model = CMXBackbone('b0', norm_eval=True).train()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 8 and not any(bn.training for bn in bns)
    assert model.encoders.rgb.training


def test_init_weights_keeps_outputs_finite():
    model = CMXBackbone('b0')
    model.init_weights()
    outs = model(inputs(batch=2, size=32))
    assert all(torch.isfinite(o).all() for o in outs)


def test_b2_parameter_count():
    model = CMXBackbone('b2')
    assert model.out_channels == (64, 128, 320, 512)
    assert model.num_heads == (1, 2, 5, 8)
    # Two MiT-b2 encoders (24.2 M each, mmseg's measured size) plus ~16.6 M
    # of FRM/FFM: CMX-B2 reports 66.6 M with its ~1.6 M decoder.
    encoders = num_params(model.encoders)
    assert abs(encoders - 2 * 24.2e6) < 0.1e6
    assert abs(num_params(model) - 65.0e6) < 0.1e6


def test_frm_with_neutral_gates_is_quarter_exchange():
    """Zero gate weights -> sigmoid 0.5 -> x1' = x1 + (0.25 + 0.25) x2."""
    frm = FeatureRectifyModule(8)
    for p in frm.parameters():
        nn.init.zeros_(p)
    x1, x2 = torch.randn(2, 2, 8, 5, 7)
    out1, out2 = frm(x1, x2)
    torch.testing.assert_close(out1, x1 + 0.5 * 0.5 * x2 + 0.5 * 0.5 * x2)
    torch.testing.assert_close(out2, x2 + 0.5 * 0.5 * x1 + 0.5 * 0.5 * x1)


def test_frm_gate_indices():
    """Gate k scales stream k on its way into the other stream."""
    frm = FeatureRectifyModule(4, lambda_c=0.5, lambda_s=0.)
    for p in frm.parameters():
        nn.init.zeros_(p)
    # Saturate only the channel gates for the first C outputs (index 0).
    frm.channel_gate[2].bias.data[:4] = 100.
    frm.channel_gate[2].bias.data[4:] = -100.
    x1, x2 = torch.randn(2, 1, 4, 3, 3)
    out1, out2 = frm(x1, x2)
    torch.testing.assert_close(out1, x1)  # gate 1 closed: x2 not sent
    torch.testing.assert_close(out2, x2 + 0.5 * x1)  # gate 0 open


def test_ffm_shapes_and_stream_exchange():
    torch.manual_seed(0)
    ffm = FeatureFusionModule(40, num_heads=5).eval()
    x1, x2 = torch.randn(2, 2, 40, 6, 4)
    out = ffm(x1, x2)
    assert out.shape == (2, 40, 6, 4)
    # The cross-attention makes stream 1's tokens depend on stream 2.
    t1, t2 = (x.flatten(2).transpose(1, 2) for x in (x1, x2))
    a1, _ = ffm.cross_path(t1, t2)
    b1, _ = ffm.cross_path(t1, torch.randn_like(t2))
    assert not torch.allclose(a1, b1)
    with pytest.raises(ValueError, match='not divisible by num_heads=3'):
        FeatureFusionModule(40, num_heads=3)

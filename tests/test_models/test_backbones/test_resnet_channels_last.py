# Copyright (c) mmdecur contributors. All rights reserved.
"""ResNet(channels_last=True) computes what the default layout computes."""
import copy

import pytest
import torch

import mmdecur  # noqa: F401  (applies the compat patches)
from mmdecur.models.backbones import DeformableAttention2d, ResNet

CL = torch.channels_last
TINY_RDA = dict(
    layer3=dict(
        num_heads=4,
        head_channels=8,
        num_groups=2,
        offset_stride=2,
        offset_kernel_size=3,
        rpe_size=(4, 4)),
    layer4=dict(
        num_heads=4,
        head_channels=16,
        num_groups=4,
        offset_stride=1,
        offset_kernel_size=3,
        rpe_size=(2, 2)))


def pair(**kwargs):
    """A default-layout ResNet and a channels_last one with its weights."""
    torch.manual_seed(0)
    cfg = dict(depth=18, base_channels=8, stem_channels=8, in_channels=5)
    cfg.update(kwargs)
    plain = ResNet(**cfg)
    plain.init_weights()
    with torch.no_grad():  # non-trivial norms and a live RDA table
        for name, p in plain.named_parameters():
            if 'bn' in name or 'downsample.1' in name:
                p.uniform_(0.5, 1.5) if name.endswith('weight') else (
                    p.uniform_(-0.2, 0.2))
    fast = ResNet(**cfg, channels_last=True)
    fast.load_state_dict(plain.state_dict())
    return plain.train(), fast.train()


def rel_err(a, b):
    return ((a - b).norm() / b.norm()).item()


def run(model, x):
    model.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_()
    outs = model(x)
    gen = torch.Generator().manual_seed(1)
    loss = sum((o * torch.randn(o.shape, generator=gen)).sum() for o in outs)
    loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    grads['input'] = x.grad
    return [o.detach() for o in outs], grads


@pytest.mark.parametrize('rda', [None, TINY_RDA])
@pytest.mark.parametrize('out_type', ['pooled', 'featmap'])
def test_outputs_and_gradients_equal_default_layout(rda, out_type):
    plain, fast = pair(rda=rda, out_type=out_type)
    x = torch.randn(4, 5, 64, 48)
    outs, grads = run(plain, x)
    outs_cl, grads_cl = run(fast, x)
    for o, o_cl in zip(outs, outs_cl, strict=True):
        assert o.shape == o_cl.shape
        assert rel_err(o_cl, o) < 1e-5
        if out_type == 'featmap':
            assert o_cl.is_contiguous(memory_format=CL)
    assert set(grads) == set(grads_cl)
    scale = max(g.norm() for g in grads.values())
    for name, g in grads.items():
        if g.norm() > 1e-6 * scale:  # not a zero-gradient rounding residue
            assert rel_err(grads_cl[name], g) < 1e-4, name
    # The same training state after a step either way: running statistics.
    for (name, b), b_cl in zip(plain.named_buffers(), fast.buffers()):
        if b.is_floating_point():
            torch.testing.assert_close(b_cl, b, msg=name)


def test_weights_stay_channels_last():
    plain, fast = pair(rda=TINY_RDA)
    convs = [
        m.weight for m in fast.modules() if isinstance(m, torch.nn.Conv2d)
        and m.kernel_size != (1, 1)  # 1x1 kernels are both layouts at once
    ]
    assert convs and all(w.is_contiguous(memory_format=CL) for w in convs)
    assert not convs[0].is_contiguous()
    # Same keys, shapes and values as the default layout's state dict.
    state, ref = fast.state_dict(), plain.state_dict()
    assert list(state) == list(ref)
    for k, v in ref.items():
        assert torch.equal(state[k], v), k
    fast.init_weights()
    assert all(w.is_contiguous(memory_format=CL) for w in convs)
    fast.load_state_dict(ref)
    assert all(w.is_contiguous(memory_format=CL) for w in convs)


def test_forward_deform_points_equal():
    plain, fast = pair(rda=TINY_RDA)
    x = torch.randn(2, 5, 64, 64)
    ref = plain.eval().forward_deform_points(x)
    out = fast.eval().forward_deform_points(x)
    for stage, r in ref.items():
        for key, v in r.items():
            assert rel_err(out[stage][key], v) < 1e-5, (stage, key)


def test_deformable_attention_keeps_channels_last():
    torch.manual_seed(0)
    da = DeformableAttention2d(
        32,
        num_heads=4,
        head_channels=8,
        num_groups=2,
        offset_stride=2,
        offset_kernel_size=3,
        rpe_size=6)
    x = torch.randn(2, 32, 6, 7)
    out, pos, _ = da(x)
    da_cl = copy.deepcopy(da).to(memory_format=CL)
    out_cl, pos_cl, _ = da_cl(x.contiguous(memory_format=CL))
    assert out_cl.is_contiguous(memory_format=CL) and out.is_contiguous()
    assert rel_err(out_cl, out) < 1e-5
    assert rel_err(pos_cl, pos) < 1e-5

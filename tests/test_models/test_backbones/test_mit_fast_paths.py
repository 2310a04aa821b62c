# Copyright (c) mmdecur contributors. All rights reserved.
"""MiT's SDPA attention and token Mix-FFN: mmseg's function, faster AMP."""
import pytest
import torch
from mmseg.models.backbones import MixVisionTransformer
from mmseg.models.backbones.mit import EfficientMultiheadAttention, MixFFN

import mmdecur  # noqa: F401
from mmdecur.models.backbones import MiT
from mmdecur.models.backbones.mit import _LinearMixFFN, _SDPAEfficientAttention
from mmdecur.testing.op_census import OpCensus


def pair(**kwargs):
    """Our MiT and mmseg's forward (both switches off), same weights."""
    torch.manual_seed(0)
    fast = MiT('b0', **kwargs)
    slow = MiT('b0', sdpa_attention=False, linear_ffn=False, **kwargs)
    slow.load_state_dict(fast.state_dict())
    return fast, slow


def run(model, x, seed=1):
    torch.manual_seed(seed)  # the same drop-path draws
    model.zero_grad()
    outs = model(x)
    sum((o.double() * torch.linspace(-1, 1, o.numel()).view_as(o)).sum()
        for o in outs).backward()
    return [o.detach() for o in outs], {
        n: p.grad.clone()
        for n, p in model.named_parameters() if p.grad is not None
    }


def test_every_block_takes_the_fast_paths_and_keeps_mmsegs_keys():
    fast, slow = pair()
    attn = [
        m for m in fast.modules() if isinstance(m, EfficientMultiheadAttention)
    ]
    ffn = [m for m in fast.modules() if isinstance(m, MixFFN)]
    assert len(attn) == len(ffn) == 8  # b0: 2 blocks x 4 stages
    assert all(type(m) is _SDPAEfficientAttention for m in attn)
    assert all(type(m) is _LinearMixFFN for m in ffn)
    assert not any(
        isinstance(m, (_SDPAEfficientAttention, _LinearMixFFN))
        for m in slow.modules())
    assert fast.state_dict().keys() == slow.state_dict().keys()
    # keys are mmseg's own: its backbone loads ours without conversion
    mmseg = MixVisionTransformer(
        embed_dims=32, num_layers=[2, 2, 2, 2], num_heads=[1, 2, 5, 8])
    missing, unexpected = mmseg.load_state_dict(
        fast.state_dict(), strict=False)
    assert not missing and unexpected == ['head.weight', 'head.bias']


@pytest.mark.parametrize('out_type,train', [('pooled', True),
                                            ('featmap', True),
                                            ('featmap', False)])
def test_fp32_outputs_and_gradients_equal_mmsegs_forward(out_type, train):
    fast, slow = pair(out_type=out_type)
    fast.train(train), slow.train(train)
    x = torch.randn(2, 3, 64, 96)
    (out_a, grad_a), (out_b, grad_b) = run(fast, x), run(slow, x)
    assert len(out_a) == len(out_b)
    for a, b in zip(out_a, out_b):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    assert grad_a.keys() == grad_b.keys()
    for name in grad_b:
        scale = grad_b[name].abs().max().clamp(min=1e-6)
        err = (grad_a[name] - grad_b[name]).abs().max() / scale
        assert err < 1e-4, (name, err)


def census(model, x):
    with OpCensus() as ops:
        with torch.autocast('cpu', dtype=torch.bfloat16):
            out = model(x)[0]
        out.float().square().mean().backward()
    return ops


def test_under_autocast_the_heavy_ops_run_in_bf16():
    fast, slow = pair()
    x = torch.randn(2, 3, 64, 64)
    ops, ref = census(fast, x), census(slow, x)
    heavy = ops.heavy()
    assert sum(heavy.values()) > 50
    assert ops.heavy_not_in('bfloat16') == {}, ops.heavy_not_in('bfloat16')
    # the attention is one fused kernel per block, forward and backward
    fused = {
        op: n
        for (op, _), n in heavy.items() if op.startswith('_scaled_dot_product')
    }
    assert sorted(fused.values()) == [8, 8], fused
    assert not ops.ops(['_softmax', 'bmm'])
    assert ref.ops(['_softmax']) and ref.ops(['bmm'])
    # no layout copies of the 4x-wide Mix-FFN activations any more
    copies = ops.copy_mib().get('clone -> bfloat16', 0)
    assert copies < 0.2 * ref.copy_mib()['clone -> bfloat16']

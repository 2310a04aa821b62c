# Copyright (c) mmdecur contributors. All rights reserved.
"""NT-Xent and symmetric InfoNCE against their equations, written as loops
over anchors in float64."""
import math

import pytest
import torch

from mmdecur.models.losses import NTXentLoss, SymmetricInfoNCELoss


def make_views(n, k, modalities=('rgb', 'dem'), seed=0):
    g = torch.Generator().manual_seed(seed)
    shared = torch.randn(n, k, generator=g, dtype=torch.float64)
    return {
        m: [(shared + torch.randn(n, k, generator=g,
                                  dtype=torch.float64)).requires_grad_()]
        for m in modalities
    }


def cos(a, b):
    return (a * b).sum() / (a.norm() * b.norm())


def ntxent_reference(z1, z2, t):
    """SimCLR Eq. 1 over the 2N anchors of both modalities: positive = the
    same sample in the other modality, candidates = all but the anchor."""
    a = list(z1) + list(z2)
    n = len(z1)
    total = 0.
    for k in range(2 * n):
        p = (k + n) % (2 * n)
        den = sum(
            torch.exp(cos(a[k], a[j]) / t) for j in range(2 * n) if j != k)
        total = total - torch.log(torch.exp(cos(a[k], a[p]) / t) / den)
    return total / (2 * n)


def clip_reference(z1, z2, log_scale):
    """(CE over rows + CE over columns) / 2 of s * U V^T, s = exp(tau)."""
    s = log_scale.exp()
    n = len(z1)
    rows = cols = 0.
    for i in range(n):
        rows = rows - torch.log(
            torch.exp(s * cos(z1[i], z2[i])) /
            sum(torch.exp(s * cos(z1[i], z2[j])) for j in range(n)))
        cols = cols - torch.log(
            torch.exp(s * cos(z2[i], z1[i])) /
            sum(torch.exp(s * cos(z2[i], z1[j])) for j in range(n)))
    return (rows / n + cols / n) / 2


@pytest.mark.parametrize('t', [0.1, 0.5])
def test_ntxent_value_and_gradients(t):
    views = make_views(6, 5)
    z1, z2 = views['rgb'][0], views['dem'][0]
    out = NTXentLoss(temperature=t)(views)
    want = ntxent_reference(z1, z2, t)
    torch.testing.assert_close(out['loss_ntxent'], want)
    got_g = torch.autograd.grad(out['loss_ntxent'], (z1, z2))
    want_g = torch.autograd.grad(want, (z1, z2))
    for g, w in zip(got_g, want_g):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-12)
    pos = sum(cos(z1[i], z2[i]) for i in range(6)) / 6
    torch.testing.assert_close(out['pos_sim'], pos.detach())
    assert not out['pos_sim'].requires_grad


@pytest.mark.parametrize('temperature', [0.07, 0.5])
def test_clip_value_and_gradients_including_the_temperature(temperature):
    views = make_views(5, 7, seed=1)
    z1, z2 = views['rgb'][0], views['dem'][0]
    loss = SymmetricInfoNCELoss(init_temperature=temperature).double()
    assert loss.logit_scale.requires_grad
    out = loss(views)
    # tau as stored (float32 log(1 / T), then promoted).
    tau = loss.logit_scale.detach().clone().requires_grad_()
    assert tau.item() == pytest.approx(math.log(1 / temperature))
    want = clip_reference(z1, z2, tau)
    torch.testing.assert_close(out['loss_clip'], want)
    torch.testing.assert_close(out['logit_scale'],
                               torch.tensor(1 / temperature).double())
    got_g = torch.autograd.grad(out['loss_clip'], (z1, z2, loss.logit_scale))
    want_g = torch.autograd.grad(want, (z1, z2, tau))
    for g, w in zip(got_g, want_g):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-12)


def test_clip_scale_is_capped_and_gets_no_gradient_beyond_the_cap():
    views = make_views(4, 3, seed=2)
    loss = SymmetricInfoNCELoss(max_logit_scale=100.).double()
    with torch.no_grad():
        loss.logit_scale.fill_(math.log(500.))
    out = loss(views)
    assert out['logit_scale'].item() == pytest.approx(100.)
    torch.testing.assert_close(
        out['loss_clip'],
        clip_reference(views['rgb'][0], views['dem'][0],
                       torch.tensor(math.log(100.), dtype=torch.float64)))
    out['loss_clip'].backward()
    assert loss.logit_scale.grad.item() == 0.


def test_clip_fixed_temperature_is_a_buffer():
    loss = SymmetricInfoNCELoss(init_temperature=0.2, learnable=False)
    assert not list(loss.parameters())
    assert 'logit_scale' in loss.state_dict()
    assert loss.scale().item() == pytest.approx(5.)


@pytest.mark.parametrize('cls,key', [(NTXentLoss, 'loss_ntxent'),
                                     (SymmetricInfoNCELoss, 'loss_clip')])
def test_more_modalities_fp32_under_autocast_and_errors(cls, key):
    views = make_views(6, 4, modalities=('a', 'b', 'c'), seed=3)
    out = cls().double()(views)
    assert sorted(k for k in out if k.startswith('loss')) == [
        f'{key}_a_b', f'{key}_a_c', f'{key}_b_c'
    ]
    pair = cls().double()(dict(b=views['b'], c=views['c']))
    torch.testing.assert_close(out[f'{key}_b_c'], pair[key])

    half = {m: [v[0].detach().bfloat16()] for m, v in views.items()}
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = cls()(half)[f'{key}_a_b']
    assert got.dtype == torch.float32
    want = cls()({m: [v[0].float()] for m, v in half.items()})[f'{key}_a_b']
    torch.testing.assert_close(got, want)

    with pytest.raises(ValueError, match='two modalities'):
        cls()(dict(a=views['a']))
    with pytest.raises(ValueError, match='same samples'):
        cls()(dict(a=[torch.randn(4, 3)], b=[torch.randn(5, 3)]))


def test_bad_temperatures_are_errors():
    with pytest.raises(ValueError, match='temperature'):
        NTXentLoss(temperature=0.)
    with pytest.raises(ValueError, match='init_temperature'):
        SymmetricInfoNCELoss(init_temperature=-1.)

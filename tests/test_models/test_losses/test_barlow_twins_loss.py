# Copyright (c) mmdecur contributors. All rights reserved.
"""Barlow Twins loss against its equation written with explicit matrices."""
import pytest
import torch

from mmdecur.models.losses import BarlowTwinsLoss, DeCURLoss

LAMBD = 0.0051


def bn(z):
    """BatchNorm1d(affine=False) in training mode, the reference way."""
    return torch.nn.functional.batch_norm(
        z, None, None, training=True, momentum=0., eps=1e-5)


def bt(za, zb, lambd=LAMBD):
    """sum_i (1 - C_ii)^2 + lambd sum_{i!=j} C_ij^2, C = bn(a)^T bn(b) / N,
    the off-diagonal sum element by element."""
    c = bn(za).T @ bn(zb) / za.shape[0]
    k = c.shape[0]
    on = sum((1 - c[i, i])**2 for i in range(k))
    off = sum(c[i, j]**2 for i in range(k) for j in range(k) if i != j)
    return on + lambd * off, on, off


def make_views(n, k, modalities=('s1', 's2'), seed=0):
    g = torch.Generator().manual_seed(seed)
    shared = torch.randn(n, k, generator=g, dtype=torch.float64)
    return {
        m: [(shared + torch.randn(n, k, generator=g,
                                  dtype=torch.float64)).requires_grad_()
            for _ in range(2)]
        for m in modalities
    }


def grads(loss, views):
    inputs = [v for vs in views.values() for v in vs]
    return torch.autograd.grad(
        loss, inputs, allow_unused=True, materialize_grads=True)


@pytest.mark.parametrize('n,k', [(6, 10), (24, 6)])  # Gram / matrix routes
@pytest.mark.parametrize('pairs', ['cross', 'intra:s1', 'intra'])
def test_values_and_gradients_match_the_equation(n, k, pairs):
    views = make_views(n, k)
    out = BarlowTwinsLoss(pairs=pairs)(views)
    if pairs == 'cross':
        want = {'cross': bt(views['s1'][0], views['s2'][0])}
    else:
        mods = ['s1'] if pairs == 'intra:s1' else ['s1', 's2']
        want = {f'intra_{m}': bt(*views[m]) for m in mods}
    losses = sorted(key for key in out if key.startswith('loss'))
    assert losses == sorted(f'loss_{key}' for key in want)
    for key, (loss, on, off) in want.items():
        torch.testing.assert_close(out[f'loss_{key}'], loss)
        torch.testing.assert_close(out[f'{key}_on_diag'], on)
        torch.testing.assert_close(out[f'{key}_off_diag'], off)
        assert not out[f'{key}_on_diag'].requires_grad
    total = sum(v for key, v in out.items() if key.startswith('loss'))
    for g, w in zip(
            grads(total, views),
            grads(sum(w[0] for w in want.values()), views)):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-12)


def test_cross_modal_is_decur_without_decoupling_and_intra_terms():
    views = make_views(8, 16, seed=1)
    ours = BarlowTwinsLoss()(views)['loss_cross']
    decur = DeCURLoss(decouple=False, intra=False)(views)['loss_com']
    torch.testing.assert_close(ours, decur, rtol=1e-12, atol=1e-12)
    for g, w in zip(grads(ours, views), grads(decur, views)):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-14)


def test_lambda_and_more_than_two_modalities():
    views = make_views(8, 6, modalities=('a', 'b', 'c'), seed=2)
    out = BarlowTwinsLoss(lambd=0.1)(views)
    assert sorted(k for k in out if k.startswith('loss')) == [
        'loss_cross_a_b', 'loss_cross_a_c', 'loss_cross_b_c'
    ]
    torch.testing.assert_close(out['loss_cross_b_c'],
                               bt(views['b'][0], views['c'][0], 0.1)[0])


def test_fp32_under_autocast_and_half_inputs():
    views = make_views(16, 32, seed=3)
    want = BarlowTwinsLoss()({
        m: [v.detach().bfloat16().float() for v in vs]
        for m, vs in views.items()
    })['loss_cross']
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = BarlowTwinsLoss()({
            m: [v.detach().bfloat16() for v in vs]
            for m, vs in views.items()
        })['loss_cross']
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize('pairs,views,match', [
    ('both', dict(a=1, b=1), 'pairs must be'),
    ('cross:a', dict(a=1, b=1), 'pairs must be'),
    ('cross', dict(a=2), 'two modalities'),
    ('intra:c', dict(a=2, b=2), 'not among'),
    ('intra', dict(a=1), 'view 2'),
])
def test_bad_configuration_is_a_clear_error(pairs, views, match):
    inputs = {
        m: [torch.randn(4, 8) for _ in range(v)]
        for m, v in views.items()
    }
    with pytest.raises(ValueError, match=match):
        BarlowTwinsLoss(pairs=pairs)(inputs)

# Copyright (c) mmdecur contributors. All rights reserved.
"""DeCUR loss against Eq. 1-6 written out with explicit K x K matrices."""
import pytest
import torch

from mmdecur.models.losses import (CrossCorrelation, DeCURLoss, Embedding,
                                   standardize)

LAMBD = 0.0051


def bn(z):
    """BatchNorm1d(affine=False) in training mode, the reference way."""
    return torch.nn.functional.batch_norm(
        z, None, None, training=True, momentum=0., eps=1e-5)


def xcorr(za, zb):
    return bn(za).T @ bn(zb) / za.shape[0]


def bt(c, target, lambd=LAMBD):
    """sum_i (C_ii - t)^2 + lambd sum_{i!=j} C_ij^2, element by element."""
    off = ~torch.eye(c.shape[0], dtype=torch.bool)
    return ((c.diagonal() - target)**2).sum() + lambd * (c[off]**2).sum()


def reference(z1,
              z2,
              kc,
              intra=True,
              weights=(1., 1., 1., 1.),
              cross_views='first'):
    """L_com, L_uni, L_M1, L_M2 (Eq. 2-5), weighted, as a dict."""
    pairs = [(0, 0)] if cross_views == 'first' else [(0, 0), (1, 1)]
    com = sum(bt(xcorr(z1[i], z2[j])[:kc, :kc], 1.) for i, j in pairs)
    uni = sum(bt(xcorr(z1[i], z2[j])[kc:, kc:], 0.) for i, j in pairs)
    out = dict(
        com=weights[0] * com / len(pairs), uni=weights[1] * uni / len(pairs))
    if intra:
        out['m1'] = weights[2] * bt(xcorr(z1[0], z1[1]), 1.)
        out['m2'] = weights[3] * bt(xcorr(z2[0], z2[1]), 1.)
    if kc == z1[0].shape[1]:
        del out['uni']
    return out


def make_views(n, k, seed=0, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    # Correlated modalities so every term is far from trivial.
    shared = torch.randn(n, k, generator=g, dtype=torch.float64)
    views = []
    for _ in range(4):
        v = shared + torch.randn(n, k, generator=g, dtype=torch.float64)
        views.append(v.requires_grad_(requires_grad))
    return views[:2], views[2:]


def ours(z1, z2, **kwargs):
    out = DeCURLoss(**kwargs)(dict(rgb=z1, hha=z2))
    renamed = {
        'loss_com': 'com',
        'loss_uni': 'uni',
        'loss_intra_rgb': 'm1',
        'loss_intra_hha': 'm2'
    }
    return {renamed[k]: v for k, v in out.items() if k in renamed}, out


@pytest.mark.parametrize('n,k', [(8, 24), (40, 12)])  # Gram / matrix routes
@pytest.mark.parametrize('variant', [
    dict(),
    dict(intra=False),
    dict(decouple=False),
    dict(decouple=False, intra=False),
    dict(loss_weights='official'),
    dict(cross_views='both'),
])
def test_values_and_gradients_match_equations(n, k, variant):
    kc = 3 * k // 4
    z1, z2 = make_views(n, k)
    kwargs = dict(dim_common=kc) if variant.get('decouple', True) else {}
    kwargs.update(variant)
    got, _ = ours(z1, z2, **kwargs)

    weights = (1 / 6, 1 / 6, 1 / 3, 1 /
               3) if variant.get('loss_weights') == 'official' else (1., 1.,
                                                                     1., 1.)
    want = reference(
        z1,
        z2,
        kc if variant.get('decouple', True) else k,
        intra=variant.get('intra', True),
        weights=weights,
        cross_views=variant.get('cross_views', 'first'))
    assert set(got) == set(want)
    for term in want:
        torch.testing.assert_close(
            got[term], want[term], rtol=1e-10, atol=1e-10)

    inputs = z1 + z2
    grads = torch.autograd.grad(
        sum(got.values()), inputs, allow_unused=True, materialize_grads=True)
    want_grads = torch.autograd.grad(
        sum(want.values()), inputs, allow_unused=True, materialize_grads=True)
    for g, w in zip(grads, want_grads):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-12)


def test_official_weighting_is_the_official_formula():
    z1, z2 = make_views(16, 32, seed=3)
    got, _ = ours(z1, z2, dim_common=24, loss_weights='official')
    plain, _ = ours(z1, z2, dim_common=24)
    official = (plain['m1'] + plain['m2'] +
                (plain['com'] + plain['uni']) / 2) / 3
    torch.testing.assert_close(sum(got.values()), official)


def test_diagnostics_are_the_on_and_off_diagonal_parts_and_not_losses():
    z1, z2 = make_views(10, 16, seed=1)
    _, out = ours(z1, z2, dim_common=12)
    c = xcorr(z1[0], z2[0])[:12, :12]
    off = ~torch.eye(12, dtype=torch.bool)
    torch.testing.assert_close(out['com_on_diag'],
                               ((c.diagonal() - 1)**2).sum())
    torch.testing.assert_close(out['com_off_diag'], (c[off]**2).sum())
    torch.testing.assert_close(
        out['loss_com'], out['com_on_diag'] + LAMBD * out['com_off_diag'])
    for key in out:
        if key.endswith('_diag'):
            assert 'loss' not in key and not out[key].requires_grad


def test_common_ratio_and_dim_common_agree():
    z1, z2 = make_views(8, 16, seed=2)
    a, _ = ours(z1, z2, dim_common=12)
    b, _ = ours(z1, z2, common_ratio=0.75)
    for term in a:
        torch.testing.assert_close(a[term], b[term])


def test_perfectly_aligned_common_dims_cost_nothing():
    """Identical common dims across modalities and views -> L_com = 0."""
    g = torch.Generator().manual_seed(0)
    n, k, kc = 64, 8, 4
    common = torch.randn(n, kc, generator=g, dtype=torch.float64)
    common = torch.linalg.qr(common - common.mean(0))[0]  # decorrelated
    z1 = torch.cat(
        [common,
         torch.randn(n, k - kc, generator=g, dtype=torch.float64)], 1)
    z2 = torch.cat(
        [common,
         torch.randn(n, k - kc, generator=g, dtype=torch.float64)], 1)
    out = DeCURLoss(dim_common=kc, eps=0.)(dict(a=[z1, z1], b=[z2, z2]))
    assert out['loss_com'].item() == pytest.approx(0., abs=1e-12)
    assert out['loss_intra_a'].item() > 0  # unique dims are not decorrelated


def test_fp32_under_autocast_and_half_inputs():
    z1, z2 = make_views(16, 32, seed=4, requires_grad=False)
    want, _ = ours([z.float() for z in z1], [z.float() for z in z2],
                   dim_common=24)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got, out = ours([z.bfloat16().float() for z in z1],
                        [z.bfloat16().float() for z in z2],
                        dim_common=24)
        half, _ = ours([z.bfloat16() for z in z1], [z.bfloat16() for z in z2],
                       dim_common=24)
    for term in want:
        assert got[term].dtype == torch.float32
        torch.testing.assert_close(half[term], got[term])


def test_gram_route_equals_explicit_matrix():
    z1, z2 = make_views(6, 20, seed=5, requires_grad=False)
    a, b = Embedding(z1[0], (15, )), Embedding(z2[0], (15, ))
    for dims in (slice(None), slice(0, 15), slice(15, 20), slice(3, 9)):
        c = CrossCorrelation(a, b, dims)
        torch.testing.assert_close(c.squared_norm(), c.matrix().pow(2).sum())
    torch.testing.assert_close(a.gram(slice(None)), a.z @ a.z.T)


def test_standardize_is_batchnorm():
    z = torch.randn(9, 5, dtype=torch.float64)
    torch.testing.assert_close(standardize(z), bn(z))


@pytest.mark.parametrize('kwargs,match', [
    (dict(dim_common=40), 'exceeds'),
    (dict(), 'exactly one'),
    (dict(dim_common=4, common_ratio=.5), 'exactly one'),
    (dict(common_ratio=1.5), 'common_ratio'),
    (dict(dim_common=4, cross_views='all'), 'cross_views'),
    (dict(dim_common=4, loss_weights='mine'), 'preset'),
    (dict(dim_common=4, lambd=dict(com=1.)), 'every term'),
])
def test_bad_configuration_is_a_clear_error(kwargs, match):
    z1, z2 = make_views(4, 32, requires_grad=False)
    with pytest.raises((ValueError, KeyError), match=match):
        DeCURLoss(**kwargs)(dict(a=z1, b=z2))


def test_more_than_two_modalities_get_pairwise_terms():
    z1, z2 = make_views(8, 16, seed=6)
    z3, _ = make_views(8, 16, seed=7)
    out = DeCURLoss(dim_common=12)(dict(a=z1, b=z2, c=z3))
    losses = sorted(k for k in out if k.startswith('loss_'))
    assert losses == [
        'loss_com_a_b', 'loss_com_a_c', 'loss_com_b_c', 'loss_intra_a',
        'loss_intra_b', 'loss_intra_c', 'loss_uni_a_b', 'loss_uni_a_c',
        'loss_uni_b_c'
    ]
    pair, _ = ours(z1, z2, dim_common=12)
    torch.testing.assert_close(out['loss_com_a_b'], pair['com'])

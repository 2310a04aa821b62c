# Copyright (c) mmdecur contributors. All rights reserved.
"""VICReg loss against the paper's Eq. 1-6 with explicit K x K matrices."""
import pytest
import torch

from mmdecur.models.losses import VICRegLoss


def make_views(n, k, modalities=('s1', 's2'), seed=0, scale=0.5):
    g = torch.Generator().manual_seed(seed)
    shared = torch.randn(n, k, generator=g, dtype=torch.float64)
    # Scaled so some dimensions have std < 1 (active hinge) and some > 1.
    spread = torch.linspace(0.2, 2., k, dtype=torch.float64)
    return {
        m: [((shared +
              scale * torch.randn(n, k, generator=g, dtype=torch.float64)) *
             spread).requires_grad_()]
        for m in modalities
    }


def variance(z, eps=1e-4):
    """v(Z) = mean_j max(0, 1 - sqrt(Var(z^j) + eps)), unbiased Var."""
    n, k = z.shape
    mean = z.sum(0) / n
    total = 0.
    for j in range(k):
        var = ((z[:, j] - mean[j])**2).sum() / (n - 1)
        total = total + torch.clamp(1 - torch.sqrt(var + eps), min=0)
    return total / k


def covariance(z):
    """c(Z) = sum_{i != j} C(Z)_ij^2 / K, C the unbiased covariance."""
    n, k = z.shape
    zc = z - z.mean(0)
    cov = zc.T @ zc / (n - 1)
    return sum(cov[i, j]**2 for i in range(k) for j in range(k) if i != j) / k


def invariance(za, zb):
    n, k = za.shape
    return sum(((za[b] - zb[b])**2).sum() for b in range(n)) / (n * k)


@pytest.mark.parametrize('n,k', [(6, 10), (24, 6)])  # Gram / matrix routes
@pytest.mark.parametrize('coeffs', [(25., 25., 1.), (1., 2., 3.)])
def test_values_and_gradients_match_the_equations(n, k, coeffs):
    views = make_views(n, k)
    za, zb = views['s1'][0], views['s2'][0]
    out = VICRegLoss(*coeffs)(views)
    want = dict(
        inv=invariance(za, zb),
        var=variance(za) + variance(zb),
        cov=covariance(za) + covariance(zb))
    assert 0 < want['var'].item()  # the hinge is active somewhere
    for (name, value), coeff in zip(want.items(), coeffs):
        torch.testing.assert_close(out[name], value.detach())
        torch.testing.assert_close(out[f'loss_{name}'], coeff * value)
        assert not out[name].requires_grad
    total = sum(v for key, v in out.items() if key.startswith('loss'))
    ref = sum(c * v for c, v in zip(coeffs, want.values()))
    for g, w in zip(
            torch.autograd.grad(total, (za, zb)),
            torch.autograd.grad(ref, (za, zb))):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-12)


def test_more_modalities_fp32_under_autocast_and_errors():
    views = make_views(8, 5, modalities=('a', 'b', 'c'), seed=1)
    out = VICRegLoss()(views)
    assert sorted(k for k in out if k.startswith('loss')) == [
        f'loss_{t}_{p}' for t in ('cov', 'inv', 'var')
        for p in ('a_b', 'a_c', 'b_c')
    ]
    pair = VICRegLoss()(dict(b=views['b'], c=views['c']))
    for t in ('inv', 'var', 'cov'):
        torch.testing.assert_close(out[f'loss_{t}_b_c'], pair[f'loss_{t}'])

    half = {m: [v[0].detach().bfloat16()] for m, v in views.items()}
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = VICRegLoss()(half)
    want = VICRegLoss()({m: [v[0].float()] for m, v in half.items()})
    assert got['loss_cov_a_b'].dtype == torch.float32
    torch.testing.assert_close(got['loss_cov_a_b'], want['loss_cov_a_b'])

    with pytest.raises(ValueError, match='two modalities'):
        VICRegLoss()(dict(a=views['a']))
    with pytest.raises(ValueError, match='at least 2 samples'):
        VICRegLoss()(dict(a=[torch.randn(1, 3)], b=[torch.randn(1, 3)]))

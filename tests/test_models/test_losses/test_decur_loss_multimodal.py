# Copyright (c) mmdecur contributors. All rights reserved.
"""DeCUR with M >= 2 modalities, the shared-common form and a common split
held anywhere, against the paper's equations written out element by
element with explicit K x K matrices (float64)."""
from itertools import combinations

import pytest
import torch

from mmdecur.models.losses import DeCURLoss
from mmdecur.models.utils.distributed import equal_batch_sizes
from mmdecur.testing import run_distributed

LAMBD = 0.0051


def bn(z):
    return torch.nn.functional.batch_norm(
        z, None, None, training=True, momentum=0., eps=1e-5)


def xcorr(za, zb):
    return bn(za).T @ bn(zb) / za.shape[0]


def bt(c, target, lambd=LAMBD):
    """sum_i (C_ii - t)^2 + lambd sum_{i!=j} C_ij^2 of a square block."""
    off = ~torch.eye(c.shape[0], dtype=torch.bool)
    return ((c.diagonal() - target)**2).sum() + lambd * (c[off]**2).sum()


def make_views(names, n, k, seed=0):
    """Modalities that share a latent, so every term is far from trivial."""
    g = torch.Generator().manual_seed(seed)
    shared = torch.randn(n, k, generator=g, dtype=torch.float64)
    return {
        m: [(shared + torch.randn(n, k, generator=g,
                                  dtype=torch.float64)).requires_grad_()
            for _ in range(2)]
        for m in names
    }


def losses_of(out):
    return {
        k[len('loss_'):]: v
        for k, v in out.items() if k.startswith('loss_')
    }


def pairwise_reference(views, common, unique):
    """Eq. 2-5 for every pair and every modality; ``common``/``unique`` are
    index lists (any dimensions, not necessarily the first Kc)."""
    names = list(views)
    pairs = list(combinations(names, 2))
    out = {}
    for m1, m2 in pairs:
        suffix = '' if len(pairs) == 1 else f'_{m1}_{m2}'
        c = xcorr(views[m1][0], views[m2][0])
        out['com' + suffix] = bt(c[common][:, common], 1.)
        if len(unique):
            out['uni' + suffix] = bt(c[unique][:, unique], 0.)
    for m in names:
        out[f'intra_{m}'] = bt(xcorr(views[m][0], views[m][1]), 1.)
    return out


def shared_reference(views, kc):
    """The shared-common form, entry by entry."""
    names = list(views)
    k = views[names[0]][0].shape[1]
    consensus = bn(
        torch.stack([bn(views[m][0])[:, :kc] for m in names]).mean(0))
    out = {}
    n = consensus.shape[0]
    for m in names:
        c = bn(views[m][0])[:, :kc].T @ consensus / n
        out[f'com_{m}'] = bt(c, 1.)
    pairs = list(combinations(names, 2))
    for m1, m2 in pairs:
        c = xcorr(views[m1][0], views[m2][0])
        unique_row = torch.arange(k)[:, None] >= kc
        unique_col = torch.arange(k)[None, :] >= kc
        touched = unique_row | unique_col
        diag_u = torch.eye(k, dtype=torch.bool) & touched
        on = (c[diag_u]**2).sum()
        off = (c[touched & ~diag_u]**2).sum()
        suffix = '' if len(pairs) == 1 else f'_{m1}_{m2}'
        out['uni' + suffix] = on + LAMBD * off
    for m in names:
        out[f'intra_{m}'] = bt(xcorr(views[m][0], views[m][1]), 1.)
    return out


def assert_equal_with_gradients(got, want, views):
    assert set(got) == set(want)
    for term in want:
        torch.testing.assert_close(
            got[term], want[term], rtol=1e-10, atol=1e-12)
    inputs = [v for vs in views.values() for v in vs]
    grads = torch.autograd.grad(sum(got.values()), inputs)
    want_grads = torch.autograd.grad(sum(want.values()), inputs)
    for g, w in zip(grads, want_grads):
        torch.testing.assert_close(g, w, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize('n,k', [(8, 24), (40, 12)])  # Gram / matrix routes
@pytest.mark.parametrize('names', [('rgb', 'hha'), ('s1', 's2c', 's2a'),
                                   ('a', 'b', 'c', 'd')])
def test_pairwise_matches_the_equations_for_every_pair(n, k, names):
    kc = 3 * k // 4
    views = make_views(names, n, k, seed=len(names))
    got = losses_of(DeCURLoss(dim_common=kc)(views))
    want = pairwise_reference(views, list(range(kc)), list(range(kc, k)))
    assert_equal_with_gradients(got, want, views)


def test_two_modalities_are_todays_loss_bit_for_bit():
    """M = 2 through the M-modality path is the paper's loss; an adaptive
    split still at its start is the fixed split to the last bit."""
    views = make_views(('rgb', 'hha'), 16, 32, seed=3)
    fixed = DeCURLoss(dim_common=24)(views)
    adaptive = DeCURLoss(dim_common=24, adaptive_split=dict())(views)
    assert set(k for k in fixed if k.startswith('loss')) == {
        'loss_com', 'loss_uni', 'loss_intra_rgb', 'loss_intra_hha'
    }
    for key in fixed:
        assert torch.equal(fixed[key], adaptive[key]), key
    want = pairwise_reference(views, list(range(24)), list(range(24, 32)))
    for term, value in losses_of(fixed).items():
        torch.testing.assert_close(value, want[term], rtol=1e-12, atol=0)


@pytest.mark.parametrize('n,k', [(8, 24), (40, 12)])
@pytest.mark.parametrize('names', [('rgb', 'hha'), ('s1', 's2c', 's2a')])
def test_shared_common_matches_its_definition(n, k, names):
    kc = 2 * k // 3
    views = make_views(names, n, k, seed=11)
    got = losses_of(DeCURLoss(dim_common=kc, cross_modal='shared')(views))
    assert_equal_with_gradients(got, shared_reference(views, kc), views)


def test_shared_unique_is_pairwise_unique_plus_the_off_blocks():
    """Shared mode penalises C[u, c] and C[c, u], which Eq. 3 leaves free."""
    views = make_views(('a', 'b'), 10, 16, seed=5)
    pair = DeCURLoss(dim_common=12)(views)
    shared = DeCURLoss(dim_common=12, cross_modal='shared')(views)
    c = xcorr(views['a'][0], views['b'][0])
    extra = (c[12:, :12]**2).sum() + (c[:12, 12:]**2).sum()
    torch.testing.assert_close(shared['uni_on_diag'], pair['uni_on_diag'])
    torch.testing.assert_close(shared['uni_off_diag'],
                               pair['uni_off_diag'] + extra)


@pytest.mark.parametrize('n,k', [(8, 24), (40, 12)])
@pytest.mark.parametrize('cross_modal', ['pairwise', 'shared'])
def test_a_split_anywhere_is_the_same_loss_on_those_dimensions(
        n, k, cross_modal):
    """With common dims S (not the first Kc), the blocks are C[S, S] and
    C[U, U]; equivalently the loss of the column-permuted embeddings."""
    names = ('s1', 's2c', 's2a')
    views = make_views(names, n, k, seed=7)
    loss = DeCURLoss(
        dim_common=k // 2, cross_modal=cross_modal, adaptive_split=dict())
    loss.setup(k)
    mask = torch.zeros(k, dtype=torch.bool)
    common = [1, 2, 5, 7, 8, 11][:k // 2] + list(range(12, 12 + k // 2 - 6))
    mask[common] = True
    loss.split.common_mask.copy_(mask)
    loss.split._refresh()
    got = losses_of(loss(views))
    unique = [i for i in range(k) if not mask[i]]
    if cross_modal == 'pairwise':
        want = pairwise_reference(views, common, unique)
    else:
        order = common + unique
        permuted = {m: [v[:, order] for v in vs] for m, vs in views.items()}
        want = shared_reference(permuted, len(common))
    assert_equal_with_gradients(got, want, views)
    # Analysis sees the common dims first.
    z = torch.arange(k, dtype=torch.float64)[None].repeat(3, 1)
    order = loss.dim_order(k, z.device)
    assert z[:, order][0, :len(common)].tolist() == sorted(common)
    assert loss.num_common(k) == len(common)


VARIANTS = [
    dict(dim_common=12),
    dict(dim_common=12, cross_modal='shared'),
    dict(dim_common=12, adaptive_split=dict()),
]


def _rank_loss(rank, world_size, views):
    import torch.distributed as dist
    original = dist.all_gather
    results = []
    for kwargs in VARIANTS:
        calls = []

        def counting_all_gather(tensors, tensor, *args, **kw):
            calls.append(tuple(tensor.shape))
            return original(tensors, tensor, *args, **kw)

        dist.all_gather = counting_all_gather
        local = {
            m: [
                v.detach().chunk(world_size)[rank].clone().requires_grad_()
                for v in vs
            ]
            for m, vs in views.items()
        }
        loss = DeCURLoss(**kwargs)
        # Per-rank batches equal by construction (EqualBatchSizeHook's
        # promise in training): no exchange of the sizes either.
        with equal_batch_sizes(4, 'test'):
            out = loss(local)
        total = sum(v for k, v in out.items() if k.startswith('loss'))
        total.backward()
        dist.all_gather = original
        results.append(
            dict(
                terms={
                    k: v.detach()
                    for k, v in out.items()
                },
                grads={
                    m: [v.grad for v in vs]
                    for m, vs in local.items()
                },
                gathers=calls,
                split=loss.split.statistics() if loss.split else None))
    return results


def test_three_modalities_are_exact_across_ranks():
    """2 gloo ranks equal one process on the global batch: every term, every
    input gradient, the adaptive split's statistics; one all-gather of the
    embeddings per loss call."""
    names = ('s1', 's2c', 's2a')
    views = make_views(names, 8, 16, seed=2)
    ranks = run_distributed(_rank_loss, 2, views)
    for index, kwargs in enumerate(VARIANTS):
        ref = {
            m: [v.detach().clone().requires_grad_() for v in vs]
            for m, vs in views.items()
        }
        loss = DeCURLoss(**kwargs)
        out = loss(ref)
        sum(v for k, v in out.items() if k.startswith('loss')).backward()
        results = [r[index] for r in ranks]
        for r in results:
            for key in out:
                torch.testing.assert_close(r['terms'][key], out[key].detach())
            # One all-gather carries every view of every modality (N_local
            # x 6K), and it is the only collective of the forward pass.
            assert r['gathers'] == [(4, 6 * 16)], r['gathers']
        for m in names:
            for i in range(2):
                # gather's backward sums the W identical per-rank losses;
                # DDP's 1/W average on parameters brings that back.
                got = torch.cat([r['grads'][m][i] for r in results]) / 2
                torch.testing.assert_close(got, ref[m][i].grad)
        if loss.split is not None:
            want = loss.split.statistics()
            for r in results:
                assert r['split']['steps'] == want['steps'] > 0
                torch.testing.assert_close(r['split']['shared'],
                                           want['shared'])
                for key in ('fraction', 'rank'):
                    torch.testing.assert_close(r['split'][key], want[key])

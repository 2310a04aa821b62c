# Copyright (c) mmdecur contributors. All rights reserved.
"""The adaptive common/unique split: statistics, decisions, state."""
import pytest
import torch

from mmdecur.models.losses import AdaptiveCommonSplit, DeCURLoss
from mmdecur.models.losses.common_split import (shared_directions,
                                                shared_variance,
                                                signal_subspace)
from mmdecur.testing import run_distributed


def fill(split, *, shared, fraction, steps=1):
    split.stat_steps.fill_(steps)
    split.stat_shared.copy_(torch.as_tensor(shared) * steps)
    split.stat_fraction.fill_(fraction * steps)
    split.stat_rank.fill_(10. * steps)


def test_start_is_the_fixed_split():
    split = AdaptiveCommonSplit()
    split.reset(10, 6)
    assert split.num_common == 6 and split.dim == 10
    assert split.common_mask.tolist() == [True] * 6 + [False] * 4
    assert split.order(torch.device('cpu')) is None  # already common-first


def orthonormal(n, k, seed=0):
    """k centred, exactly uncorrelated columns of unit variance."""
    raw = torch.randn(
        n,
        k,
        generator=torch.Generator().manual_seed(seed),
        dtype=torch.float64)
    return torch.linalg.qr(raw - raw.mean(0))[0] * n**0.5


def test_signal_subspace_and_shared_variance_of_known_mixtures():
    n = 512
    basis = orthonormal(n, 9)
    other = basis[:, :3] @ torch.tensor(
        [[1., .5, 0.], [0., 1., .5], [.5, 0., 1.]], dtype=torch.float64)
    evecs, keep = signal_subspace(other @ other.T, energy=0.999)
    assert int(keep.sum()) == 3 and keep[:3].all()
    inside = basis[:, 0] + basis[:, 2]  # in the span of `other`
    half = basis[:, 1] + basis[:, 5]  # half its variance in the span
    outside = basis[:, 7]
    value = shared_variance(
        torch.stack([inside, half, outside], 1), evecs, keep)
    floor = 3 / n
    torch.testing.assert_close(
        value,
        torch.tensor([1., (0.5 - floor) / (1 - floor), -floor / (1 - floor)],
                     dtype=torch.float64))


def test_shared_variance_of_noise_is_zero_on_average():
    """The r / N floor: independent dims explain nothing, on average."""
    g = torch.Generator().manual_seed(1)
    values = []
    for _ in range(200):
        z = torch.randn(64, 4, generator=g, dtype=torch.float64)
        other = torch.randn(64, 32, generator=g, dtype=torch.float64)
        other = other - other.mean(0)
        values.append(
            shared_variance(z - z.mean(0), *signal_subspace(other @ other.T)))
    assert abs(torch.stack(values).mean().item()) < 0.02


@pytest.mark.parametrize('angle,shared', [(0., 3), (40., 3), (50., 2),
                                          (90., 2)])
def test_shared_directions_are_the_canonical_correlations_above_threshold(
        angle, shared):
    """Two shared directions, a third tilted by ``angle``: it counts while
    its canonical correlation cos(angle) exceeds 0.7 (45.6 degrees)."""
    n = 256
    basis = orthonormal(n, 6, seed=2)
    tilt = torch.tensor(angle * torch.pi / 180, dtype=torch.float64)
    third = torch.cos(tilt) * basis[:, 2] + torch.sin(tilt) * basis[:, 3]
    za = torch.stack([basis[:, 0], basis[:, 1], basis[:, 2]], 1)
    zb = torch.stack([basis[:, 0] + basis[:, 1], basis[:, 1], third], 1)
    sa = signal_subspace(za @ za.T, energy=0.999)
    sb = signal_subspace(zb @ zb.T, energy=0.999)
    assert int(shared_directions(*sa, *sb, threshold=0.7)) == shared


def test_measure_counts_the_common_fraction_and_finds_hidden_content():
    """a = [s0, s1, s0, pa] and b = [s0, s1, pb, pb2]: 2 of 3 directions of
    a and of b are shared; a's third dim is b's common feature in another
    coordinate (loss-invisible, subspace-visible)."""
    n = 256
    basis = orthonormal(n, 6, seed=3)
    s0, s1, pa, pb, pb2 = (basis[:, i] for i in range(5))
    za = torch.stack([s0, s1, s0, pa], 1)
    zb = torch.stack([s0, s1, pb, pb2], 1)
    split = AdaptiveCommonSplit(energy=0.999)
    stats = split.measure(dict(a=za, b=zb))
    # ranks 3 (a: s0, s1, pa) and 4 (b): 2 shared over the mean rank 3.5
    assert float(stats['rank']) == 3.5
    assert float(stats['fraction']) == pytest.approx(2 / 3.5)
    floor_a, floor_b = 4 / n, 3 / n  # b's subspace (rank 4) judges a
    out_a, out_b = -floor_a / (1 - floor_a), -floor_b / (1 - floor_b)
    want = torch.tensor([1., 1., (1 + out_b) / 2, (out_a + out_b) / 2],
                        dtype=torch.float64)
    torch.testing.assert_close(stats['shared'], want)


def test_the_loss_accumulates_in_raw_dimension_order():
    n = 256
    basis = orthonormal(n, 6, seed=4)
    za = torch.stack([basis[:, 0], basis[:, 4], basis[:, 1]], 1)
    zb = torch.stack([basis[:, 0], basis[:, 5], basis[:, 1]], 1)
    loss = DeCURLoss(dim_common=1, eps=0., adaptive_split=dict(energy=0.999))
    loss.setup(3)
    loss.split.common_mask.copy_(torch.tensor([True, False, True]))
    loss.split._refresh()
    loss(dict(a=[za, za], b=[zb, zb]))
    shared = loss.split.statistics()['shared']
    assert shared[0] > 0.99 and shared[2] > 0.99 and shared[1] < 0.05


def test_grows_with_the_most_shared_unique_dims():
    split = AdaptiveCommonSplit(
        deadband=0., gain=1., max_step=1., min_ratio=0., max_ratio=1.)
    split.reset(8, 2)
    shared = [0.9, 0.9, 0.1, 0.7, 0.2, 0.8, 0.3, 0.0]
    fill(split, shared=shared, fraction=0.5)
    info = split.update()  # target 8 * 0.5 = 4: two more common dims
    assert info['target'] == 4
    assert info['to_common'] == [5, 3]
    assert split.common_mask.nonzero().flatten().tolist() == [0, 1, 3, 5]
    assert split.order(
        torch.device('cpu')).tolist() == [0, 1, 3, 5, 2, 4, 6, 7]
    assert info['shared_common'] == pytest.approx(0.9)
    assert int(split.stat_steps) == 0  # statistics start afresh


def test_shrinks_by_the_least_shared_common_dims():
    split = AdaptiveCommonSplit(
        deadband=0., gain=1., max_step=1., min_ratio=0., max_ratio=1.)
    split.reset(8, 6)
    shared = [0.9, 0.2, 0.95, 0.1, 0.8, 0.99, 0., 0.]
    fill(split, shared=shared, fraction=0.25)
    info = split.update()  # target 2
    assert info['to_unique'] == [3, 1, 4, 0]
    assert split.common_mask.nonzero().flatten().tolist() == [2, 5]


def test_hysteresis_deadband_gain_step_and_cooldown():
    split = AdaptiveCommonSplit(
        gain=0.5,
        max_step=0.25,
        deadband=0.1,
        cooldown=1,
        min_ratio=0.,
        max_ratio=1.)
    split.reset(20, 10)
    # Inside the dead band (|11 - 10| <= 2): nothing moves.
    fill(split, shared=[0.5] * 20, fraction=0.55)
    assert split.update()['num_common'] == 10
    # Target 20: gain halves the gap (5), max_step caps it at 5 of 20.
    shared = [0.5] * 10 + [float(i) / 10 for i in range(10)]
    fill(split, shared=shared, fraction=1.)
    info = split.update()
    assert info['num_common'] == 15
    assert sorted(info['to_common']) == [15, 16, 17, 18, 19]
    # Now the target drops to 0: the dims that just joined sit out the
    # cooldown although they are the least shared, so others leave.
    shared = [0.5] * 20
    shared[15] = shared[16] = -1.
    fill(split, shared=shared, fraction=0.)
    info = split.update()
    assert not set(info['to_unique']) & {15, 16, 17, 18, 19}
    assert len(info['to_unique']) == 5
    # After the cooldown they may move again.
    fill(split, shared=shared, fraction=0.)
    assert {15, 16} <= set(split.update()['to_unique'])


def test_bounds_limit_the_moves():
    split = AdaptiveCommonSplit(
        deadband=0., gain=1., max_step=1., min_ratio=0.25, max_ratio=0.5)
    split.reset(8, 3)
    fill(split, shared=[0.9] * 8, fraction=1.)
    assert split.update()['num_common'] == 4
    fill(split, shared=[0.0] * 8, fraction=0.)
    assert split.update()['num_common'] == 2


def test_statistics_only_in_training_mode():
    z = [torch.randn(16, 8, dtype=torch.float64) for _ in range(2)]
    loss = DeCURLoss(dim_common=4, adaptive_split=dict()).eval()
    loss(dict(a=z, b=z))
    assert int(loss.split.stat_steps) == 0
    loss.train()(dict(a=z, b=z))
    assert int(loss.split.stat_steps) == 1


def test_the_split_travels_in_the_state_dict():
    loss = DeCURLoss(dim_common=4, adaptive_split=dict())
    loss.setup(8)
    loss.split.common_mask.copy_(
        torch.tensor([0, 1, 1, 0, 1, 0, 0, 1], dtype=torch.bool))
    loss.split.last_moved.fill_(3)
    loss.split._refresh()
    state = loss.state_dict()
    fresh = DeCURLoss(dim_common=4, adaptive_split=dict())  # unsized
    fresh.load_state_dict(state)
    assert fresh.num_common(8) == 4
    assert fresh.dim_order(
        8, torch.device('cpu')).tolist() == [1, 2, 4, 7, 0, 3, 5, 6]
    assert fresh.split.last_moved.tolist() == [3] * 8


@pytest.mark.parametrize('kwargs,match', [
    (dict(gain=0.), 'gain'),
    (dict(min_ratio=0.8, max_ratio=0.2), 'min_ratio'),
    (dict(interval=0), 'interval'),
    (dict(threshold=1.5), 'threshold'),
])
def test_bad_settings_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AdaptiveCommonSplit(**kwargs)


def test_adaptive_split_needs_decoupling():
    with pytest.raises(ValueError, match='decouple'):
        DeCURLoss(decouple=False, adaptive_split=dict())


SPLIT = dict(start_epoch=0, deadband=0., gain=1., max_step=1.)


def _rank_decision(rank, world_size, views):
    local = {
        m: [v.chunk(world_size)[rank] for v in vs]
        for m, vs in views.items()
    }
    masks = []
    for tamper in (False, True):
        loss = DeCURLoss(dim_common=4, adaptive_split=SPLIT)
        for _ in range(2):
            loss(local)
        if tamper and rank == 1:  # a rank whose statistics went astray
            loss.split.stat_fraction.fill_(0.)
        loss.split.update()
        masks.append(loss.split.common_mask.clone())
    return masks


def test_every_rank_decides_what_one_process_decides():
    g = torch.Generator().manual_seed(0)
    shared = torch.randn(16, 12, generator=g, dtype=torch.float64)
    views = {
        m: [
            shared +
            0.5 * torch.randn(16, 12, generator=g, dtype=torch.float64)
            for _ in range(2)
        ]
        for m in ('a', 'b', 'c')
    }
    loss = DeCURLoss(dim_common=4, adaptive_split=SPLIT)
    for _ in range(2):
        loss(views)
    info = loss.split.update()
    assert info['num_common'] != info['num_common_before']  # it decided
    # Global statistics give every rank the same decision; rank 0's
    # broadcast keeps a rank with diverging statistics in line too.
    for honest, tampered in run_distributed(_rank_decision, 2, views):
        assert torch.equal(honest, loss.split.common_mask)
        assert torch.equal(tampered, loss.split.common_mask)

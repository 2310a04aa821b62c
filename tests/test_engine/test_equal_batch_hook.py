# Copyright (c) mmdecur contributors. All rights reserved.
"""Equal per-rank batch sizes promised by the sampler: gathers skip the size
exchange, give identical results and refuse a batch that breaks the
promise."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.dataset import DefaultSampler, InfiniteSampler
from torch.utils.data import DataLoader, SequentialSampler

from mmdecur.engine.hooks import EqualBatchSizeHook
from mmdecur.engine.hooks.equal_batch_hook import equal_batch_schedule
from mmdecur.models.utils import distributed
from mmdecur.testing import run_distributed


def loader(n=10, batch_size=4, sampler='default', drop_last=False, **kw):
    data = list(range(n))
    if sampler == 'default':
        sampler = DefaultSampler(data, shuffle=False, **kw)
    elif sampler == 'infinite':
        sampler = InfiniteSampler(data, shuffle=False)
    elif sampler == 'sequential':
        sampler = SequentialSampler(data)
    return DataLoader(
        data, batch_size=batch_size, sampler=sampler, drop_last=drop_last)


def sizes_per_step(dl, steps):
    hook = EqualBatchSizeHook()
    hook._schedule, hook._reason = equal_batch_schedule(dl)
    return [hook.local_batch_size(i) for i in range(steps)]


def test_schedule_follows_the_sampler():
    # 10 samples, batches of 4: 4, 4, 2 every epoch (and on an iteration
    # based loop, which restarts the loader: position = iter % 3).
    dl = loader()
    assert [len(b) for b in dl] == [4, 4, 2]
    assert sizes_per_step(dl, 7) == [4, 4, 2, 4, 4, 2, 4]
    assert equal_batch_schedule(dl)[1] == 'DefaultSampler(round_up=True)'
    assert sizes_per_step(loader(n=8), 3) == [4, 4, 4]
    dl = loader(drop_last=True)
    assert [len(b) for b in dl] == [4, 4]
    assert sizes_per_step(dl, 3) == [4, 4, 4]
    assert sizes_per_step(loader(sampler='infinite'), 3) == [4, 4, 4]


@pytest.mark.parametrize(
    'kwargs,why',
    [(dict(round_up=False), 'DefaultSampler may give the ranks'),
     (dict(sampler='sequential'), 'SequentialSampler may give the ranks')])
def test_no_promise_without_a_guarantee(kwargs, why):
    schedule, reason = equal_batch_schedule(loader(**kwargs))
    assert schedule is None and why in reason
    custom = DataLoader(list(range(6)), batch_sampler=[[0, 1], [2]])
    assert equal_batch_schedule(custom) == (
        None, 'the dataloader has a custom batch_sampler')


def test_promise_nests_and_checks_the_local_size(monkeypatch):
    assert distributed.promised_batch_size() is None
    with distributed.equal_batch_sizes(4, 'outer'):
        with distributed.equal_batch_sizes(2, 'inner'):
            assert distributed.promised_batch_size() == 2
        assert distributed.promised_batch_size() == 4
        assert distributed._resolve_equal_sizes(torch.ones(4, 3), None)
        # explicit arguments win over the promise
        assert not distributed._resolve_equal_sizes(torch.ones(3), False)
        assert distributed._resolve_equal_sizes(torch.ones(1, 3), True)
        with pytest.raises(ValueError, match='outer promised 4 samples'):
            distributed._resolve_equal_sizes(torch.ones(3, 3), None)
    assert distributed.promised_batch_size() is None
    assert not distributed._resolve_equal_sizes(torch.ones(3), None)
    with pytest.raises(ValueError, match='non-negative'):
        with distributed.equal_batch_sizes(-1):
            pass


# ----------------------------------------------------------------------
# two gloo ranks
# ----------------------------------------------------------------------
def _count_size_exchanges():
    calls = []
    exchange = distributed._all_gather_sizes

    def counted(*args):
        calls.append(1)
        return exchange(*args)

    distributed._all_gather_sizes = counted
    return calls


def _loss_rank(rank, world_size, n):
    from mmdecur.models.losses import DeCURLoss
    calls = _count_size_exchanges()
    g = torch.Generator().manual_seed(rank)
    views = [torch.randn(n, 16, generator=g) for _ in range(4)]
    loss = DeCURLoss(dim_common=12)
    out = {}
    for name in ('exchanged', 'promised'):
        leaves = [v.clone().requires_grad_() for v in views]
        del calls[:]
        if name == 'promised':
            with distributed.equal_batch_sizes(n, 'test'):
                losses = loss(dict(a=leaves[:2], b=leaves[2:]))
        else:
            losses = loss(dict(a=leaves[:2], b=leaves[2:]))
        total = sum(v for k, v in losses.items() if k.startswith('loss_'))
        total.backward()
        out[name] = dict(
            losses={
                k: v.detach()
                for k, v in losses.items()
            },
            grads=[v.grad for v in leaves],
            exchanges=len(calls))
    try:  # both ranks break the promise, before any collective
        with distributed.equal_batch_sizes(n + 1, 'test'):
            loss(dict(a=views[:2], b=views[2:]))
    except ValueError as e:
        out['error'] = str(e)
    return out


def test_promised_gathers_equal_exchanged_ones():
    for rank in run_distributed(_loss_rank, 2, 6):
        exchanged, promised = rank['exchanged'], rank['promised']
        assert exchanged['exchanges'] > 0 and promised['exchanges'] == 0
        assert promised['losses'].keys() == exchanged['losses'].keys()
        for k, v in exchanged['losses'].items():
            assert torch.equal(promised['losses'][k], v), k
        for a, b in zip(promised['grads'], exchanged['grads']):
            assert torch.equal(a, b)
        assert 'test promised 7 samples per rank' in rank['error']
        assert 'of shape (6, ' in rank['error']


def _train_rank(rank, world_size, work_dir):
    """The tiny demo through the Runner on each rank (the process group is
    already up; the losses gather across it), hook on and off."""
    from mmengine.config import Config
    from mmengine.hooks import Hook
    from mmengine.runner import Runner

    from mmdecur.testing import DEMO_CONFIG, tiny_demo_options

    class Recorder(Hook):
        priority = 'VERY_LOW'

        def __init__(self):
            self.losses = []

        def after_train_iter(self,
                             runner,
                             batch_idx,
                             data_batch=None,
                             outputs=None):
            self.losses.append(outputs['loss'].item())

    calls = _count_size_exchanges()
    seen = []
    gather = distributed.gather_batch

    def spy(x, equal_sizes=None):
        seen.append((distributed.promised_batch_size(), x.shape[0]))
        return gather(x, equal_sizes)

    # the losses import the function by name
    from mmdecur.models.losses import decur_loss
    decur_loss.gather_batch = spy
    cfg = Config.fromfile(DEMO_CONFIG)
    # 36 samples on 2 ranks: 18 each, in batches of 8, 8, 2
    cfg.merge_from_dict(
        tiny_demo_options(num_samples=36, batch_size=8, max_epochs=1))
    cfg.train_dataloader.drop_last = False  # DefaultSampler(round_up=True)
    cfg.log_level = 'WARNING'
    cfg.visualizer = dict(type='Visualizer', vis_backends=[])
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint.interval = 100
    out = {}
    for enabled in (True, False):
        cfg.default_hooks.equal_batch_sizes.enabled = enabled
        cfg.work_dir = osp.join(work_dir, f'{rank}_{enabled}')
        cfg.experiment_name = f'equal_batch_{rank}_{enabled}'
        runner = Runner.from_cfg(copy.deepcopy(cfg))
        recorder = Recorder()
        runner.register_hook(recorder)
        del calls[:], seen[:]
        runner.train()
        out[enabled] = dict(
            losses=recorder.losses, exchanges=len(calls), seen=list(seen))
    return out


def test_hook_promises_every_training_step_with_identical_results(tmp_path):
    for rank in run_distributed(_train_rank, 2, str(tmp_path)):
        on, off = rank[True], rank[False]
        assert len(on['losses']) == 3
        assert on['losses'] == off['losses']
        assert off['exchanges'] > 0 and on['exchanges'] == 0
        # the promise is the batch of the step, the last one smaller
        assert {n for n, _ in off['seen']} == {None}
        assert [(p, n) for p, n in on['seen'] if p != n] == [], on['seen']
        assert sorted({n for n, _ in on['seen']}) == [2, 8]

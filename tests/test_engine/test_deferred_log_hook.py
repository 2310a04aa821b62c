# Copyright (c) mmdecur contributors. All rights reserved.
"""DeferredRuntimeInfoHook logs what RuntimeInfoHook logs, fetching once per
logging interval."""
import copy
import glob
import json
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import RuntimeInfoHook
from mmengine.logging import MessageHub
from mmengine.runner import Runner

from mmdecur.engine.hooks import DeferredRuntimeInfoHook
from mmdecur.testing import DEMO_CONFIG, tiny_demo_options

# Timings differ between any two runs; everything else must not.
TIMING_KEYS = ('time', 'data_time', 'eta', 'memory')


class DeviceScalar(torch.Tensor):
    """Stands in for a tensor on a GPU: counts what would copy it to the
    host (``.item()``, ``.cpu()``, ...); their results are plain tensors
    or numbers, i.e. on the host."""
    transfers = 0
    TRANSFERS = ('item', 'cpu', 'tolist', 'numpy', 'to', '__float__',
                 '__int__', '__bool__', '__index__', '__format__')

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if getattr(func, '__name__', None) in cls.TRANSFERS:
            cls.transfers += 1
            with torch._C.DisableTorchFunctionSubclass():
                out = func(*args, **(kwargs or {}))
            # (``.cpu()`` of a CPU tensor is the tensor itself.)
            return out.as_subclass(torch.Tensor) if isinstance(
                out, torch.Tensor) else out
        return super().__torch_function__(func, types, args, kwargs)


def run(work_dir,
        runtime_info,
        interval=3,
        max_epochs=3,
        checkpoint=None,
        count_transfers=False):
    """The tiny demo (4 iterations per epoch); returns the runner."""
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(tiny_demo_options(max_epochs=max_epochs))
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = osp.basename(str(work_dir))
    cfg.log_level = 'INFO'
    cfg.visualizer = dict(
        type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
    cfg.default_hooks.runtime_info = dict(type=runtime_info)
    cfg.default_hooks.logger.interval = interval
    if checkpoint:
        cfg.default_hooks.checkpoint.update(checkpoint)
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    if count_transfers:
        train_step = runner.model.train_step

        def on_device(*args, **kwargs):
            return {
                k: v.detach().as_subclass(DeviceScalar)
                for k, v in train_step(*args, **kwargs).items()
            }

        runner.model.train_step = on_device
    runner.train()
    return runner


def train_scalars(hub_scalars) -> dict:
    return {
        k: (list(buf.data[0]), list(buf.data[1]))
        for k, buf in hub_scalars.items()
        if k.startswith('train/') and k[6:] not in TIMING_KEYS
    }


def log_lines(work_dir) -> list:
    (log, ) = glob.glob(osp.join(str(work_dir), '*', '*.log'))
    keep = []
    for line in open(log):
        if 'Epoch(train)' not in line:
            continue
        line = line.split(' - mmengine - ', 1)[1]
        for key in TIMING_KEYS:
            line = re.sub(rf'\b{key}: \S+', f'{key}: *', line)
        keep.append(line.strip())
    return keep


def vis_scalars(work_dir) -> list:
    (path, ) = glob.glob(
        osp.join(str(work_dir), '*', 'vis_data', 'scalars.json'))
    rows = [json.loads(line) for line in open(path)]
    return [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in rows]


@pytest.fixture(scope='module')
def both_runs(tmp_path_factory):
    """Two epochs of 4 steps, logging every 3rd; iteration-based
    checkpoints every 5 steps fall between logging steps."""
    root = tmp_path_factory.mktemp('runs')
    runs = {}
    for name in ('RuntimeInfoHook', 'DeferredRuntimeInfoHook'):
        DeviceScalar.transfers = 0
        runner = run(
            root / name,
            name,
            max_epochs=2,
            checkpoint=dict(by_epoch=False, interval=5),
            count_transfers=True)
        runs[name] = (runner, root / name, DeviceScalar.transfers)
    return runs


def test_logged_numbers_equal_runtime_info_hook(both_runs):
    (ref, ref_dir, _), (new, new_dir,
                        _) = (both_runs['RuntimeInfoHook'],
                              both_runs['DeferredRuntimeInfoHook'])
    assert isinstance(new.hooks[0], DeferredRuntimeInfoHook)
    ref_scalars = train_scalars(ref.message_hub.log_scalars)
    assert {'train/loss', 'train/lr'} < set(ref_scalars)
    assert len(ref_scalars['train/loss'][0]) == 8  # every iteration
    assert train_scalars(new.message_hub.log_scalars) == ref_scalars
    # Key order too: it is the order of the fields in the log lines.
    assert list(new.message_hub.log_scalars) == list(
        ref.message_hub.log_scalars)
    lines = log_lines(ref_dir)
    assert len(lines) == 2 and 'loss:' in lines[0]  # iteration 3 of 4
    assert log_lines(new_dir) == lines
    rows = vis_scalars(ref_dir)
    train_rows = [r for r in rows if 'loss' in r]
    assert [r['step'] for r in train_rows] == [3, 7]
    assert vis_scalars(new_dir) == rows
    # The windowed mean (window 10) of the last line, by hand.
    losses = ref_scalars['train/loss'][0]
    assert train_rows[-1]['loss'] == pytest.approx(np.mean(losses[:7]), 1e-4)


def test_checkpoints_hold_every_iteration(both_runs):
    (_, ref_dir, _), (_, new_dir, _) = (both_runs['RuntimeInfoHook'],
                                        both_runs['DeferredRuntimeInfoHook'])
    for name in ('iter_5.pth', 'iter_8.pth'):
        hubs = [
            torch.load(osp.join(str(d), name),
                       weights_only=False)['message_hub']['log_scalars']
            for d in (ref_dir, new_dir)
        ]
        ref = train_scalars(hubs[0])
        assert len(ref['train/loss'][0]) == int(name[5:-4])
        assert train_scalars(hubs[1]) == ref


def test_one_copy_per_logging_interval_not_per_step(both_runs):
    (_, _, per_step), (new, _,
                       deferred) = (both_runs['RuntimeInfoHook'],
                                    both_runs['DeferredRuntimeInfoHook'])
    # loss, its terms and their diagnostics (all but the learning rates)
    num_keys = len([
        k for k in train_scalars(new.message_hub.log_scalars)
        if not k.endswith('lr')
    ])
    assert num_keys >= 5
    assert per_step == 8 * num_keys  # one .item() per value per step
    # Step 1 creates the hub's keys (at once, to keep their order); then one
    # copy at each logging step (3rd of every 4), at each epoch's end and
    # for the checkpoint at step 5.
    assert deferred == num_keys + 2 * 2 + 1


class FakeRunner:
    """What the hooks read from a Runner, for a scripted sequence."""

    def __init__(self, name, iters_per_epoch):
        self.message_hub = MessageHub(name)
        self.train_dataloader = range(iters_per_epoch)
        self.iter = 0
        self.max_iters = 100
        self.hooks = []


@pytest.mark.parametrize('interval', [1, 4, None])
def test_values_are_bit_identical_in_their_own_dtype(interval):
    """bf16, fp16, fp64, integer and bool tensors and plain numbers, with
    keys that appear late: the hub ends up exactly as RuntimeInfoHook's."""
    g = torch.Generator().manual_seed(0)
    steps = []
    for i in range(11):
        out = dict(
            loss=torch.rand((), generator=g) * 3,
            bf16=torch.rand((), generator=g).bfloat16(),
            fp16=torch.rand((1, ), generator=g).half(),
            fp64=torch.rand((), generator=g, dtype=torch.float64) / 3,
            count=torch.tensor(i * 7),
            flag=torch.tensor(i % 2 == 0),
            plain=0.1 * i,
            strided=torch.rand(10, generator=g)[3::5][:1])
        if i >= 6:
            out['late'] = torch.tensor(1.0 / (i + 1))
        steps.append(out)
    hubs = []
    for name, hook in (('ref', RuntimeInfoHook()),
                       ('new', DeferredRuntimeInfoHook(interval=interval))):
        runner = FakeRunner(f'bits-{name}-{interval}', iters_per_epoch=5)
        for i, out in enumerate(steps):
            runner.iter = i
            # Values change in place after the step: the hook holds a copy.
            live = {
                k: v.clone() if torch.is_tensor(v) else v
                for k, v in out.items()
            }
            hook.after_train_iter(runner, i % 5, None, live)
            for v in live.values():
                if torch.is_tensor(v):
                    v.fill_(-1)
        if isinstance(hook, DeferredRuntimeInfoHook):
            hook.flush(runner)
        hubs.append(runner.message_hub.log_scalars)
    ref, new = hubs
    assert list(new) == list(ref)
    for key in ref:
        values, counts = ref[key].data
        assert new[key].data[0].dtype == values.dtype, key
        np.testing.assert_array_equal(new[key].data[0], values, err_msg=key)
        np.testing.assert_array_equal(new[key].data[1], counts)
    assert ref['train/bf16'].data[0][3] == float(steps[3]['bf16'])


def test_bad_arguments_and_non_scalar_values():
    with pytest.raises(ValueError, match='interval'):
        DeferredRuntimeInfoHook(interval=0)
    with pytest.raises(ValueError, match='max_pending'):
        DeferredRuntimeInfoHook(max_pending=0)
    hook = DeferredRuntimeInfoHook()
    runner = FakeRunner('non-scalar', 5)
    hook.after_train_iter(runner, 0, None, dict(loss=torch.tensor(1.)))
    with pytest.raises(AssertionError):  # as RuntimeInfoHook
        hook.after_train_iter(runner, 1, None, dict(loss=torch.ones(2)))

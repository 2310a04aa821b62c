# Copyright (c) mmdecur contributors. All rights reserved.
"""Stop at a checkpoint, resume: the losses equal an uninterrupted run."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmdecur.testing import DEMO_CONFIG, LossRecorder, tiny_demo_options


def run(work_dir, max_epochs=3, resume_from=None, random_state_hook=True):
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(tiny_demo_options(max_epochs=max_epochs))
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    cfg.visualizer = dict(type='Visualizer', vis_backends=[])
    if not random_state_hook:
        cfg.custom_hooks = []
    if resume_from:
        cfg.resume = True
        cfg.load_from = str(resume_from)
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    recorder = LossRecorder()
    runner.register_hook(recorder)
    runner.train()
    return recorder.losses


def test_resumed_losses_equal_an_uninterrupted_run(tmp_path):
    full = run(tmp_path / 'full')
    resumed = run(
        tmp_path / 'resumed', resume_from=tmp_path / 'full' / 'epoch_1.pth')
    assert resumed and min(resumed) > min(full)  # it did start mid-way
    for it, loss in resumed.items():
        assert loss == full[it], (it, loss, full[it])


def test_without_saved_random_states_resuming_drifts(tmp_path):
    """The hook is what makes the test above pass (it can fail)."""
    full = run(tmp_path / 'full', random_state_hook=False)
    resumed = run(
        tmp_path / 'resumed',
        random_state_hook=False,
        resume_from=tmp_path / 'full' / 'epoch_1.pth')
    assert any(loss != full[it] for it, loss in resumed.items())


def test_checkpoints_hold_every_ranks_random_states(tmp_path):
    run(tmp_path, max_epochs=1)
    ckpt = torch.load(osp.join(tmp_path, 'epoch_1.pth'), weights_only=True)
    states = ckpt['random_states']
    assert states['iter'] == ckpt['meta']['iter']
    assert len(states['states']) == 1
    assert {'python', 'numpy', 'torch'} <= set(states['states'][0])


@pytest.mark.parametrize('fail_on', ['write', 'fsync', 'replace'])
def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch,
                                                       fail_on):
    import os

    from mmengine.fileio import get_file_backend
    target = tmp_path / 'epoch_1.pth'
    backend = get_file_backend(str(target))
    backend.put(b'old checkpoint', str(target))

    def boom(*args, **kwargs):
        raise OSError('disk full')

    if fail_on == 'write':
        data, error = 12345, TypeError  # f.write fails half-way, in effect
    else:
        data, error = b'new checkpoint', OSError
        monkeypatch.setattr(os, fail_on, boom)
    with pytest.raises(error):
        backend.put(data, str(target))
    assert target.read_bytes() == b'old checkpoint'
    assert [p.name for p in tmp_path.iterdir()] == ['epoch_1.pth']

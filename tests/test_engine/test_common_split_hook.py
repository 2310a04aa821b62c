# Copyright (c) mmdecur contributors. All rights reserved.
"""Adaptive split through the runner: decisions, history, logs, resume."""
import copy
import json
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmdecur.engine.hooks.common_split_hook import hex_to_mask
from mmdecur.testing import DEMO_CONFIG, LossRecorder, tiny_demo_options

# No dead band, whole gaps: the split moves whenever the target differs.
ADAPTIVE = dict(start_epoch=1, deadband=0., gain=1., max_step=0.5, cooldown=0)


def run(work_dir, max_epochs=3, resume_from=None, adaptive=ADAPTIVE):
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(tiny_demo_options(max_epochs=max_epochs))
    if adaptive is not None:
        cfg.model.loss.adaptive_split = adaptive
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'INFO'
    cfg.visualizer = dict(type='Visualizer', vis_backends=[])
    if resume_from:
        cfg.resume = True
        cfg.load_from = str(resume_from)
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    recorder = LossRecorder()
    runner.register_hook(recorder)
    runner.train()
    return recorder.losses


def history(work_dir):
    with open(osp.join(work_dir, 'common_split.json')) as f:
        return json.load(f)


def test_decisions_are_logged_recorded_and_checkpointed(tmp_path):
    run(tmp_path)
    hist = history(tmp_path)
    assert hist['dim'] == 32
    records = hist['epochs']
    assert [r['epoch'] for r in records] == [0, 1, 2, 3]
    assert records[0]['num_common'] == 24  # the config's common_ratio 0.75
    for r in records:
        assert sum(hex_to_mask(r['common_mask_hex'], 32)) == r['num_common']
    moved = [r['moved_to_common'] + r['moved_to_unique'] for r in records[1:]]
    assert any(moved)
    for prev, cur in zip(records, records[1:]):
        assert cur['num_common'] - prev['num_common'] == (
            cur['moved_to_common'] - cur['moved_to_unique'])
    state = torch.load(
        osp.join(tmp_path, 'epoch_3.pth'), weights_only=True)['state_dict']
    assert state['loss_module.split.common_mask'].tolist() == hex_to_mask(
        records[-1]['common_mask_hex'], 32)
    log = open(
        next(
            osp.join(tmp_path, d, f'{d}.log')
            for d in sorted(__import__('os').listdir(tmp_path))
            if osp.isdir(osp.join(tmp_path, d)))).read()
    assert 'common split after epoch 3: Kc' in log


def test_resume_continues_the_same_split(tmp_path):
    full = run(tmp_path / 'full')
    resumed = run(
        tmp_path / 'resumed', resume_from=tmp_path / 'full' / 'epoch_1.pth')
    assert resumed and min(resumed) > min(full)
    for it, loss in resumed.items():
        assert loss == full[it], (it, loss, full[it])
    want = history(tmp_path / 'full')['epochs']
    got = history(tmp_path / 'resumed')['epochs']
    # The checkpoint carried the history up to epoch 1; the rest agrees too.
    assert [r['epoch'] for r in got] == [0, 1, 2, 3]
    assert got == want


def test_a_fixed_split_writes_no_history(tmp_path):
    run(tmp_path, max_epochs=1, adaptive=None)
    assert not osp.exists(osp.join(tmp_path, 'common_split.json'))

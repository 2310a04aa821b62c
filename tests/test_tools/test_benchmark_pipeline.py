# Copyright (c) mmdecur contributors. All rights reserved.
"""tools/analysis_tools/benchmark_pipeline.py: one process and a DataLoader."""
import importlib.util
import json
import os.path as osp
import sys

import pytest

from mmdecur.testing import DEMO_CONFIG

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location(
    'benchmark_pipeline',
    osp.join(ROOT, 'tools', 'analysis_tools', 'benchmark_pipeline.py'))
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)


def run(monkeypatch, tmp_path, *args):
    out = tmp_path / 'pipeline.json'
    monkeypatch.setattr(sys, 'argv', [
        'benchmark_pipeline.py', DEMO_CONFIG, '--num-samples', '8', '--warmup',
        '1', '--out',
        str(out), *args
    ])
    tool.main()
    return json.loads(out.read_text())


@pytest.mark.parametrize('workers', [0, 1])
@pytest.mark.parametrize('clock', ['wall', 'process'])
def test_rates_and_workers_needed(monkeypatch, tmp_path, capsys, workers,
                                  clock):
    res = run(monkeypatch, tmp_path, '--clock', clock, '--workers',
              str(workers), '--batches', '2', '--batch-size', '4')
    printed = capsys.readouterr().out
    assert 'workers per 100 samples/s' in printed
    assert f'DataLoader, {workers} workers, batch 4' in printed
    rate = res['samples_per_s_one_process']
    assert rate > 0 and res['clock'] == clock
    assert res['ms_per_sample'] == pytest.approx(1e3 / rate)
    assert res['workers_per_100_samples_per_s'] == pytest.approx(100 / rate)
    loader = res['dataloader']
    assert loader['workers'] == workers and loader['batch_size'] == 4
    assert loader['samples_per_s'] > 0
    assert loader['samples_per_s_per_worker'] == pytest.approx(
        loader['samples_per_s'] / max(workers, 1))


def test_without_workers_no_dataloader_is_timed(monkeypatch, tmp_path):
    res = run(monkeypatch, tmp_path)
    assert 'dataloader' not in res and res['clock'] == 'wall'

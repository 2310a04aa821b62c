# Copyright (c) mmdecur contributors. All rights reserved.
import csv
import os.path as osp
import subprocess
import sys

from mmdecur.testing import DEMO_CONFIG, tiny_demo_options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_common_ratio_grid_writes_one_csv(tmp_path):
    options = [
        f'{k}={v}'
        for k, v in tiny_demo_options(num_samples=32, max_epochs=1).items()
    ]
    cmd = [
        sys.executable, 'tools/analysis_tools/sweep.py', DEMO_CONFIG, '--grid',
        'model.loss.common_ratio=0.5,1.0', '--work-dir',
        str(tmp_path), '--cfg-options'
    ] + options
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(tmp_path / 'results.csv') as f:
        rows = list(csv.DictReader(f))
    assert [r['model.loss.common_ratio'] for r in rows] == ['0.5', '1.0']
    assert all(r['status'] == 'ok' for r in rows)
    assert all(float(r['final_loss']) > 0 for r in rows)
    # Validation metrics of the demo config are collected too; with all
    # dims common there is no unique block to report.
    assert rows[0]['decoupling/unique_abs_corr'] != ''
    assert rows[1].get('decoupling/unique_abs_corr', '') == ''
    # A second call trains nothing again.
    again = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    with open(tmp_path / 'results.csv') as f:
        assert {r['status'] for r in csv.DictReader(f)} == {'done before'}
    assert again.returncode == 0

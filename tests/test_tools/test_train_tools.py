# Copyright (c) mmdecur contributors. All rights reserved.
"""tools/train.py, tools/dist_train.sh (2 CPU processes), the report tool."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmdecur.testing import DEMO_CONFIG, find_free_port, tiny_demo_options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def options(**kwargs):
    opts = tiny_demo_options(**kwargs)
    opts['visualizer.vis_backends'] = None
    return ['--cfg-options'] + [
        f'{k}={v}' for k, v in opts.items() if k != 'visualizer.vis_backends'
    ]


def run(cmd, **kwargs):
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(find_free_port()))
    proc = subprocess.run(
        cmd,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        **kwargs)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def logged_losses(work_dir):
    runs = sorted(
        d for d in os.listdir(work_dir)
        if osp.isdir(osp.join(work_dir, d)) and d[0].isdigit())
    path = osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')
    with open(path) as f:
        rows = [json.loads(line) for line in f]
    return [r for r in rows if 'loss' in r]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('train')
    run([
        sys.executable, 'tools/train.py', DEMO_CONFIG, '--work-dir',
        str(work_dir)
    ] + options(max_epochs=2))
    return work_dir


def test_train_writes_checkpoints_and_logs(trained):
    assert osp.exists(osp.join(trained, 'epoch_2.pth'))
    rows = logged_losses(trained)
    assert rows and all('loss_com' in r and 'com_on_diag' in r for r in rows)
    ckpt = torch.load(osp.join(trained, 'epoch_2.pth'), weights_only=True)
    assert ckpt['meta']['epoch'] == 2


def test_resume_from_the_latest_checkpoint(trained, tmp_path):
    work_dir = tmp_path / 'resume'
    work_dir.mkdir()
    # Continue the 2-epoch run for a third epoch.
    os.link(osp.join(trained, 'epoch_2.pth'), work_dir / 'epoch_2.pth')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'epoch_2.pth'))
    out = run([
        sys.executable, 'tools/train.py', DEMO_CONFIG, '--work-dir',
        str(work_dir), '--resume'
    ] + options(max_epochs=3))
    assert 'resumed epoch: 2' in out or 'Auto resumed' in out
    assert osp.exists(work_dir / 'epoch_3.pth')


def test_decoupling_report_tool(trained, tmp_path):
    out_dir = tmp_path / 'report'
    ckpt = osp.join(trained, 'epoch_2.pth')
    opts = options()
    out = run([
        sys.executable, 'tools/analysis_tools/decoupling_report.py',
        DEMO_CONFIG, ckpt, '--out-dir',
        str(out_dir), '--max-samples', '64'
    ] + opts)
    report = json.loads((out_dir / 'decoupling_report.json').read_text())
    assert report['dim_common'] == 24 and report['embedding_dim'] == 32
    assert report['alignment']['common']['num_dims'] == 24
    assert (out_dir / 'alignment_hist.png').read_bytes()[:4] == b'\x89PNG'
    assert 'Decoupling report' in out


def test_dist_train_runs_two_cpu_processes(tmp_path):
    work_dir = tmp_path / 'dist'
    out = run([
        'bash', 'tools/dist_train.sh', DEMO_CONFIG, '2', '--work-dir',
        str(work_dir)
    ] + options(max_epochs=1))
    assert osp.exists(work_dir / 'epoch_1.pth')
    assert 'Distributed training: True' in out
    # 64 samples, 16 per process and step, 2 processes: 2 steps per epoch.
    assert 'Epoch(train) [1][2/2]' in out


def test_test_tool_refuses_pretraining_configs_clearly(trained):
    proc = subprocess.run([
        sys.executable, 'tools/test.py',
        osp.join(ROOT, 'configs/decur/rgbd_mitb2.py'),
        osp.join(trained, 'epoch_2.pth')
    ],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode != 0
    assert 'no test_dataloader' in proc.stderr + proc.stdout

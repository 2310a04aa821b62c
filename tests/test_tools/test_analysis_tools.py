# Copyright (c) mmdecur contributors. All rights reserved.
"""tools/analysis_tools/{alignment,tsne,saliency,deform_points}.py end to end
on tiny demo checkpoints trained here (the tools run in-process: fast)."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
import torch.nn as nn

from mmdecur.apis import init_model
from mmdecur.registry import MODELS
from mmdecur.testing import DEMO_CONFIG, tiny_demo_options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RDA_CONFIG = osp.join(ROOT, 'configs/decur/demo_synthetic_rda.py')
# The RDA demo's attention at the tiny width (16 and 32 channels).
TINY_RDA = {
    'model.backbone.rda.layer3.head_channels': 4,
    'model.backbone.rda.layer4.head_channels': 4,
}


@MODELS.register_module(force=True)
class NoSplitTestLoss(nn.Module):
    """A loss without a common/unique split (stands for Barlow Twins)."""

    def forward(self, views):
        return dict(loss=sum(v[0].sum() for v in views.values()))


def cfg_options(rda=False):
    opts = tiny_demo_options(max_epochs=1)
    opts.update(TINY_RDA if rda else {})
    return [f'{k}={v}' for k, v in opts.items()]


def train(config, work_dir, rda=False):
    return subprocess.Popen(
        [
            sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
            '--cfg-options', 'visualizer.vis_backends=None'
        ] + cfg_options(rda),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True)


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp('analysis_tools')
    # Both tiny runs at once (one CPU core each).
    procs = {
        'decur': train(DEMO_CONFIG, str(root / 'decur')),
        'rda': train(RDA_CONFIG, str(root / 'rda'), rda=True)
    }
    for name, proc in procs.items():
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-3000:]
    # A model whose loss has no common/unique split (untrained suffices).
    cfg = root / 'no_split.py'
    cfg.write_text(f'_base_ = {DEMO_CONFIG!r}\n'
                   "model = dict(type='MultiModalSelfSupervisor', "
                   "loss=dict(_delete_=True, type='NoSplitTestLoss'))\n")
    model = init_model(str(cfg), cfg_options=tiny_demo_options())
    torch.save({'state_dict': model.state_dict()}, root / 'no_split.pth')
    return dict(
        decur=(DEMO_CONFIG, str(root / 'decur/epoch_1.pth')),
        rda=(RDA_CONFIG, str(root / 'rda/epoch_1.pth')),
        no_split=(str(cfg), str(root / 'no_split.pth')))


def run_tool(name, *args, monkeypatch):
    """Run tools/analysis_tools/<name>.py's main() with these arguments."""
    path = osp.join(ROOT, 'tools/analysis_tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'_tool_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, 'argv', [path, *map(str, args)])
    module.main()


def nonempty(path, magic=None):
    assert osp.getsize(path) > 0, path
    if magic:
        with open(path, 'rb') as f:
            assert f.read(len(magic)) == magic, path


def test_alignment_tool_with_a_comparison(checkpoints, tmp_path, monkeypatch,
                                          capsys):
    out = tmp_path / 'alignment'
    run_tool(
        'alignment',
        *checkpoints['decur'],
        '--out-dir',
        out,
        '--compare',
        *checkpoints['no_split'],
        '--labels',
        'decoup.',
        'baseline',
        '--cfg-options',
        *cfg_options(),
        monkeypatch=monkeypatch)
    nonempty(out / 'alignment.png', b'\x89PNG')
    report = json.loads((out / 'alignment.json').read_text())
    decoup, base = report['models']['decoup.'], report['models']['baseline']
    assert decoup['dim_common'] == 24 and decoup['unique']['num_dims'] == 8
    assert decoup['num_samples'] == 64 and decoup['num_batches'] == 2
    assert base['dim_common'] is None and base['all']['num_dims'] == 32
    assert len(report['bins']) == 11
    rows = (out / 'alignment_per_dim.csv').read_text().splitlines()
    assert len(rows) == 1 + 2 * 32
    assert 'decoup.: common (24 dims)' in capsys.readouterr().out


def test_tsne_tool(checkpoints, tmp_path, monkeypatch):
    out = tmp_path / 'tsne'
    run_tool(
        'tsne',
        *checkpoints['decur'],
        '--out-dir',
        out,
        '--max-iter',
        250,
        '--cfg-options',
        *cfg_options(),
        monkeypatch=monkeypatch)
    nonempty(out / 'tsne.png', b'\x89PNG')
    rows = (out / 'tsne.csv').read_text().splitlines()
    assert len(rows) == 1 + 2 * 32
    groups = [r.split(',')[1] for r in rows[1:]]
    assert groups.count('common') == 48 and groups.count('unique') == 16


def test_saliency_tool(checkpoints, tmp_path, monkeypatch):
    out = tmp_path / 'saliency'
    run_tool(
        'saliency',
        *checkpoints['decur'],
        '--out-dir',
        out,
        '--layer',
        'layer2.1.conv2',
        '--n-steps',
        4,
        '--max-samples',
        6,
        '--batch-size',
        4,
        '--num-examples',
        2,
        '--band-names',
        'rgb=r,g,b',
        '--cfg-options',
        *cfg_options(),
        monkeypatch=monkeypatch)
    for png in ('overlap', 'bands', 'examples'):
        nonempty(out / f'saliency_{png}.png', b'\x89PNG')
    summary = json.loads((out / 'saliency.json').read_text())
    assert summary['num_samples'] == 6
    assert summary['layer'] == dict(
        rgb='layer2.1.conv2', depth='layer2.1.conv2')
    rgb = summary['band_importance']['rgb']
    assert rgb['band_names'] == ['r', 'g', 'b']
    assert sum(rgb['common']['mean']) == pytest.approx(1, abs=1e-5)
    assert summary['band_importance']['depth']['band_names'] == ['depth']
    rows = (out / 'saliency_samples.csv').read_text().splitlines()
    assert len(rows) == 7


def test_deform_points_tool(checkpoints, tmp_path, monkeypatch):
    out = tmp_path / 'deform'
    run_tool(
        'deform_points',
        *checkpoints['rda'],
        '--out-dir',
        out,
        '--num-samples',
        2,
        '--cfg-options',
        *cfg_options(rda=True),
        monkeypatch=monkeypatch)
    for stage in ('layer3', 'layer4'):
        nonempty(out / f'deform_points_{stage}.png', b'\x89PNG')
    summary = json.loads((out / 'deform_points.json').read_text())
    assert summary['num_samples'] == 2
    assert summary['stages']['depth']['layer3']['grid'] == [4, 4]
    rows = (out / 'deform_points.csv').read_text().splitlines()
    assert len(rows) == 1 + 2 * 2 * 2 * (16 + 4)


def test_deform_points_tool_refuses_a_checkpoint_without_rda(
        checkpoints, tmp_path, monkeypatch):
    config, ckpt = checkpoints['decur']
    with pytest.raises(SystemExit) as e:
        run_tool(
            'deform_points',
            config,
            ckpt,
            '--out-dir',
            tmp_path,
            '--cfg-options',
            *cfg_options(),
            monkeypatch=monkeypatch)
    msg = str(e.value)
    assert ckpt in msg and "'rgb' backbone (ResNet18)" in msg
    assert 'no deformable-attention (RDA) stages' in msg
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize('tool', ['alignment', 'tsne', 'saliency'])
def test_common_unique_tools_refuse_a_model_without_the_split(
        tool, checkpoints, tmp_path, monkeypatch):
    config, ckpt = checkpoints['no_split']
    with pytest.raises(SystemExit) as e:
        run_tool(
            tool,
            config,
            ckpt,
            '--out-dir',
            tmp_path / 'out',
            '--cfg-options',
            *cfg_options(),
            monkeypatch=monkeypatch)
    msg = str(e.value)
    assert ckpt in msg
    assert 'needs a DeCUR model (a loss with num_common)' in msg
    assert 'MultiModalSelfSupervisor with loss NoSplitTestLoss' in msg

# Copyright (c) mmdecur contributors. All rights reserved.
"""projects/decur_fpn trains and tests from its own README commands."""
import importlib
import os
import os.path as osp
import re
import subprocess
import sys

import torch

from mmdecur.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
README = osp.join(ROOT, 'projects', 'decur_fpn', 'README.md')


def readme_commands():
    text = open(README).read()
    block = re.search(r'<!-- commands -->\s*```bash\n(.*?)```', text, re.S)
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_commands_train_and_test(tmp_path):
    # Run where the README says (the repository root), with data/ and
    # work_dirs/ landing in tmp_path: link the code in.
    for name in ('tools', 'configs', 'projects'):
        os.symlink(osp.join(ROOT, name), tmp_path / name)
    commands = readme_commands()
    assert len(commands) == 3
    for command in commands:
        args = command.split()
        assert args[0] == 'python'
        proc = subprocess.run(
            [sys.executable] + args[1:],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    metrics = tmp_path / 'work_dirs' / 'decur_fpn_tiny' / 'metrics.json'
    assert 'mIoU' in metrics.read_text()


def test_the_projects_head_is_a_top_down_pyramid():
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    importlib.import_module('projects.decur_fpn.decur_fpn')  # registers it
    head = MODELS.build(
        dict(
            type='FPNFusionHead',
            in_channels=[4, 8, 16],
            channels=6,
            num_classes=3,
            norm_cfg=None))
    feats = [torch.randn(2, c, s, s) for c, s in ((4, 16), (8, 8), (16, 4))]
    out = head(feats)
    assert out.shape == (2, 3, 16, 16)
    # The coarsest stage reaches the output (top-down path).
    feats[2].requires_grad_()
    head(feats).sum().backward()
    assert feats[2].grad.abs().sum() > 0

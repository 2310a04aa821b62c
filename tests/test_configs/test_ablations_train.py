# Copyright (c) mmdecur contributors. All rights reserved.
"""Every ablation / official-semantics config trains a few iterations on the
synthetic dataset (its data and backbone size swapped in, its switches
kept), and the switch it is about is really in effect."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmdecur.testing import DEMO_CONFIG, tiny_demo_options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    glob.glob(osp.join(ROOT, 'configs', 'decur', 'ablations', '*.py')) +
    glob.glob(osp.join(ROOT, 'configs', 'decur', '*_official.py')))
TINY_RDA = dict(
    layer3=dict(
        num_heads=2,
        head_channels=8,
        num_groups=2,
        offset_stride=2,
        offset_kernel_size=5,
        rpe_size=(2, 2)),
    layer4=dict(
        num_heads=4,
        head_channels=8,
        num_groups=2,
        offset_stride=1,
        offset_kernel_size=3,
        rpe_size=(1, 1)))


def on_synthetic_data(path, work_dir):
    cfg = Config.fromfile(path)
    demo = Config.fromfile(DEMO_CONFIG)
    demo.merge_from_dict(tiny_demo_options(num_samples=32, max_epochs=1))
    for key in ('train_dataloader', 'data_preprocessor', 'optim_wrapper',
                'param_scheduler', 'train_cfg', 'default_hooks'):
        cfg[key] = copy.deepcopy(demo[key])
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator'):
        cfg.pop(key, None)
    backbone = cfg.model.backbone
    if backbone.type == 'ResNet':
        backbone.update(depth=18, base_channels=4, stem_channels=4)
        if backbone.get('rda'):
            backbone.rda = TINY_RDA
    else:  # MiT
        backbone.update(arch='b0', pooled_channels=32)
    width = cfg.model.projector.get('out_channels', 8192)
    if cfg.model.projector.get('num_layers', 3):
        # Keep the width ablations' order of magnitude, not their cost.
        small = 32 if width == 8192 else width // 16
        cfg.model.projector.update(hid_channels=small, out_channels=small)
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    cfg.visualizer = dict(type='Visualizer', vis_backends=[])
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    return cfg


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_trains_a_few_iterations_with_its_switches(path, tmp_path):
    cfg = on_synthetic_data(path, tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    model = runner.model
    assert runner.iter == 2
    assert all(torch.isfinite(p).all() for p in model.parameters())
    loss, name = model.loss_module, osp.basename(path)
    if 'wo_intra' in name:
        assert not loss.intra
    if 'decoup' in name:
        assert not loss.decouple
    if '_common' in name:
        ratios = {'50': .5, '625': .625, '75': .75, '875': .875, '100': 1.}
        assert loss.common_ratio == ratios[name.split('_common')[1][:-3]]
    if name.endswith('_da.py'):
        assert not model.backbones['rgb'].rda_residual
    if name.endswith('no_proj.py'):
        assert isinstance(model.projectors['rgb'], torch.nn.Identity) or \
            len(model.projectors['rgb'].layers) == 0
    if name.endswith('_official.py'):
        assert model.projectors['rgb'] is model.projectors['depth']
        assert loss.loss_weights['intra'] == pytest.approx(1 / 3)

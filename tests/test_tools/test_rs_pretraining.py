# Copyright (c) mmdecur contributors. All rights reserved.
"""Short DeCUR runs through tools/train.py on SSL4EO-S12 and GeoNRW data in
the released layouts: they run end to end and lower the loss."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmdecur.testing import fake_data

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# Inherits the real config; only sizes shrink.
TINY = """
_base_ = '{config}'
model = dict(
    backbone=dict(depth=18, base_channels=8, stem_channels=8{rda}),
    projector=dict(hid_channels=64, out_channels=16))
train_dataloader = dict(
    batch_size=12, num_workers=0, persistent_workers=False,
    dataset=dict(data_root='{data_root}'{dataset}))
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=100))
train_cfg = dict(max_epochs={epochs})
# LARS's warm-up is tuned for 100 epochs of full-size networks; a few steps
# of a 1/8-width one want AdamW.
optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr={lr}, weight_decay=1e-4))
param_scheduler = []
"""
# ResNet-18 at 1/8 width has 32/64 channels in stages 3/4.
TINY_RDA = """,
        rda=dict(
            _delete_=True,
            layer3=dict(num_heads=4, head_channels=8, num_groups=2,
                        offset_stride=2, offset_kernel_size=5,
                        rpe_size=(2, 2)),
            layer4=dict(num_heads=8, head_channels=8, num_groups=2,
                        offset_stride=1, offset_kernel_size=3,
                        rpe_size=(1, 1)))"""

TINY_LR = 3e-3


def train(config,
          tmp_path,
          data_root,
          crop_paths,
          dataset='',
          rda='',
          epochs=12,
          options=()):
    cfg_text = TINY.format(
        config=osp.join(ROOT, config),
        rda=rda,
        data_root=data_root,
        dataset=dataset,
        epochs=epochs,
        lr=TINY_LR)
    # Smaller crops: pipeline lists are replaced wholesale in configs, so
    # patch them through --cfg-options.
    crops = [
        f'train_dataloader.dataset.pipeline.{p}.size=32' for p in crop_paths
    ] + list(options)
    cfg_file = tmp_path / 'tiny.py'
    cfg_file.write_text(cfg_text)
    work_dir = tmp_path / 'work'
    proc = subprocess.run(
        [
            sys.executable, 'tools/train.py',
            str(cfg_file), '--work-dir',
            str(work_dir), '--cfg-options'
        ] + crops,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = sorted(d for d in os.listdir(work_dir) if d[0].isdigit())[-1]
    with open(osp.join(work_dir, run, 'vis_data', 'scalars.json')) as f:
        return [json.loads(line)['loss'] for line in f if '"loss"' in line]


def assert_lowered(losses):
    assert len(losses) >= 20
    quarter = len(losses) // 4
    first = sum(losses[:quarter]) / quarter
    last = sum(losses[-quarter:]) / quarter
    assert last < 0.9 * first, [round(x) for x in losses]


@pytest.mark.parametrize('config,rda', [
    ('configs/decur/sar_optical_rn50.py', ''),
    ('configs/decur/sar_optical_rn50_rda.py', TINY_RDA),
])
def test_sar_optical_pretraining_lowers_the_loss(tmp_path, config, rda):
    ids = [f'{i:07d}' for i in range(24)]
    root = fake_data.make_ssl4eo(
        str(tmp_path / 'ssl4eo'), patch_ids=ids, random_values=True)
    losses = train(
        config,
        tmp_path,
        root, ['1.transforms.s1.1', '1.transforms.s2c.1'],
        rda=rda)
    assert_lowered(losses)


def test_three_modality_sar_optical_pretraining_lowers_the_loss(tmp_path):
    # S1 GRD + S2 L1C + S2 L2A: three encoders, every pair in the loss.
    import importlib.util
    ids = [f'{i:07d}' for i in range(24)]
    root = fake_data.make_ssl4eo(
        str(tmp_path / 'ssl4eo'),
        patch_ids=ids,
        modalities=('s1', 's2c', 's2a'),
        random_values=True)
    # The L2A statistics come from the data, as a user computes them.
    spec = importlib.util.spec_from_file_location(
        'compute_band_stats', osp.join(ROOT,
                                       'tools/misc/compute_band_stats.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    stats = str(tmp_path / 's2a_band_stats.json')
    config = 'configs/decur/sar_optical3_rn50.py'
    tool.main([
        osp.join(ROOT, config), '--modalities', 's2a', '--out', stats,
        '--max-samples', '8', '--no-progress', '--cfg-options',
        f'train_dataloader.dataset.data_root={root}'
    ])
    losses = train(
        config,
        tmp_path,
        root, [f'2.transforms.{m}.0' for m in ('s1', 's2c', 's2a')],
        options=[f'train_dataloader.dataset.pipeline.1.stats.s2a={stats}'])
    assert_lowered(losses)
    # Every modality pair has its own logged terms.
    work = tmp_path / 'work'
    run = sorted(d for d in os.listdir(work) if d[0].isdigit())[-1]
    with open(work / run / 'vis_data' / 'scalars.json') as f:
        keys = set(json.loads(f.readline()))
    for a, b in (('s1', 's2c'), ('s1', 's2a'), ('s2c', 's2a')):
        assert any(f'{a}_{b}' in k for k in keys), sorted(keys)


def test_rgb_dem_pretraining_lowers_the_loss(tmp_path):
    root = fake_data.make_geonrw_patches(str(tmp_path / 'geonrw'))
    losses = train(
        'configs/decur/rgb_dem_rn50.py',
        tmp_path,
        root, ['1.transforms.rgb.0', '1.transforms.dem.1'],
        dataset=", cities=['bonn']",
        epochs=20)
    assert_lowered(losses)

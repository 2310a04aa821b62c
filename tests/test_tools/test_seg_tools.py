# Copyright (c) mmdecur contributors. All rights reserved.
"""Every segmentation config family trains a few iterations on tiny data in
the released layouts, and tools/test.py (1 and 2 processes) reports mIoU/OA,
a per-class table, JSON and colour-coded predictions."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from mmdecur.testing import fake_data, find_free_port

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

COMMON = """
crop = (32, 32)
data_preprocessor = dict(size=crop)
train_pipeline = {train_pipeline}
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root='{train_root}', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False,
    dataset=dict(data_root='{test_root}'))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
"""
FAMILIES = dict(
    fcn_rgbd=dict(
        config='configs/fcn/fcn_rn50_nyudv2.py',
        model="""model = dict(
    backbone=dict(encoders=dict(depth=18, base_channels=8,
                                stem_channels=8)),
    decode_head=dict(stage_channels=(8, 16, 32)),
    test_cfg=dict(crop_size=(32, 32), stride=(16, 16)))""",
        crop_step=3,
        data='cmx40'),
    fcn_rgb_only=dict(
        config='configs/fcn/fcn_rn50_sunrgbd_rgb_frozen_1pct.py',
        model="""model = dict(
    backbone=dict(encoders=dict(depth=18, base_channels=8,
                                stem_channels=8)),
    decode_head=dict(stage_channels=(8, 16, 32)),
    test_cfg=dict(crop_size=(32, 32), stride=(16, 16)))""",
        crop_step=3,
        data='cmx37'),
    cmx=dict(
        config='configs/cmx/cmx_mitb2_sunrgbd.py',
        model="""model = dict(
    backbone=dict(arch='b0'),
    decode_head=dict(channels=16),
    test_cfg=dict(crop_size=(32, 32), stride=(16, 16)))""",
        crop_step=3,
        data='cmx37'),
    fcn_geonrw=dict(
        config='configs/fcn/fcn_rn50_geonrw.py',
        model="""model = dict(
    backbone=dict(encoders=dict(depth=18, base_channels=8,
                                stem_channels=8)),
    decode_head=dict(stage_channels=(8, 16, 32)))""",
        crop_step=3,
        data='geonrw'),
)


def make_data(kind, root):
    if kind.startswith('cmx'):
        fake_data.make_cmx_rgbd(str(root), num_classes=int(kind[3:]))
        return str(root), str(root)
    fake_data.make_geonrw_patches(
        str(root), city='bonn', num_patches=8, size=40)
    fake_data.make_geonrw_patches(
        str(root), city='herne', num_patches=2, size=40, seed=1)
    return str(root), str(root)


def write_config(family, tmp_path):
    spec = FAMILIES[family]
    train_root, test_root = make_data(spec['data'], tmp_path / 'data')
    step = spec['crop_step']
    pipeline = (f'_base_.train_pipeline[:{step}] + ['
                f'dict(_base_.train_pipeline[{step}], size=32)] + '
                f'_base_.train_pipeline[{step + 1}:]')
    text = (f"_base_ = '{osp.join(ROOT, spec['config'])}'\n" + spec['model'] +
            '\n' + COMMON.format(
                train_pipeline=pipeline,
                train_root=train_root,
                test_root=test_root))
    path = tmp_path / f'{family}.py'
    path.write_text(text)
    return str(path)


def run(args, **env):
    proc = subprocess.run(
        args,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, PYTHON=sys.executable, **env))
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module', params=list(FAMILIES))
def trained(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    config = write_config(request.param, tmp)
    work_dir = tmp / 'work'
    run([
        sys.executable, 'tools/train.py', config, '--work-dir',
        str(work_dir)
    ])
    return request.param, config, str(work_dir / 'epoch_2.pth'), tmp


def test_train_then_test_reports_miou_and_oa(trained):
    family, config, checkpoint, tmp = trained
    out_json, show_dir = tmp / 'metrics.json', tmp / 'vis'
    out = run([
        sys.executable, 'tools/test.py', config, checkpoint, '--work-dir',
        str(tmp / 'test'), '--out',
        str(out_json), '--show-dir',
        str(show_dir)
    ])
    metrics = json.loads(out_json.read_text())
    assert {'mIoU', 'aAcc', 'mAcc'} <= set(metrics)
    assert 0 <= metrics['mIoU'] <= 100 and 0 <= metrics['aAcc'] <= 100
    assert f"OA: {metrics['aAcc']:.2f}" in out
    # mmseg's per-class table, with the dataset's class names.
    first_class = 'forest' if family == 'fcn_geonrw' else 'wall'
    assert 'per class results' in out and first_class in out
    pngs = [p for p in os.listdir(show_dir) if p.endswith('.png')]
    assert len(pngs) >= 2


def test_tta_and_two_process_test_give_metrics(trained):
    family, config, checkpoint, tmp = trained
    if family != 'fcn_rgbd':
        pytest.skip('once is enough')
    single, double = tmp / 'one.json', tmp / 'two.json'
    run([
        sys.executable, 'tools/test.py', config, checkpoint, '--work-dir',
        str(tmp / 't1'), '--out',
        str(single)
    ])
    run([
        'bash', 'tools/dist_test.sh', config, checkpoint, '2', '--work-dir',
        str(tmp / 't2'), '--out',
        str(double)
    ],
        PORT=str(find_free_port()))
    one, two = (json.loads(p.read_text()) for p in (single, double))
    for key in ('mIoU', 'aAcc', 'mAcc'):
        assert one[key] == pytest.approx(two[key], abs=1e-6), key
    tta = tmp / 'tta.json'
    run([
        sys.executable, 'tools/test.py', config, checkpoint, '--work-dir',
        str(tmp / 't3'), '--out',
        str(tta), '--tta'
    ])
    assert 'mIoU' in json.loads(tta.read_text())

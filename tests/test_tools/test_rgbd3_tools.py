# Copyright (c) mmdecur contributors. All rights reserved.
"""RGB + HHA + raw depth end to end on tiny data in the CMX layout:
tools/misc/check_dataset.py names bad depth files, a three-modality DeCUR
pretraining through tools/train.py lowers the loss, and the three-encoder
FCN trains and tools/test.py reports mIoU."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from test_rs_pretraining import assert_lowered, train
from test_seg_tools import COMMON, ROOT, run

from mmdecur.testing import fake_data

PRETRAIN = 'configs/decur/rgbd3_rn50.py'
FCN = 'configs/fcn/fcn_rn50_nyudv2_rgb_hha_depth.py'


def test_check_dataset_names_missing_and_corrupt_depth_files(tmp_path):
    root = fake_data.make_cmx_rgbd(
        str(tmp_path), num_train=5, num_test=1, depth='uint16')
    depth = tmp_path / 'Depth'
    (depth / '0000.png').unlink()
    (depth / '0001.png').write_bytes(b'\x89PNG broken')
    assert cv2.imwrite(
        str(depth / '0002.png'), np.zeros((48, 64, 3), np.uint8))
    proc = run_check(PRETRAIN, root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = proc.stdout
    assert '3 problem(s)' in text
    assert f'{tmp_path}/RGB/0000.jpg has no depth image' in text
    assert '[unreadable]' in text and f'{depth}/0001.png' in text
    assert f'depth image {depth}/0002.png has 3 band(s), expected 1' in text
    assert '0003.png' not in text and '0004.png' not in text
    # The two-modality FCN config does not read depth: nothing to report.
    fcn_two = run_check('configs/fcn/fcn_rn50_nyudv2.py', root)
    assert fcn_two.returncode == 0, fcn_two.stdout + fcn_two.stderr
    assert run_check(FCN, root).returncode == 1


def run_check(config, data_root):
    return subprocess.run([
        sys.executable, 'tools/misc/check_dataset.py', config, '--cfg-options',
        f'train_dataloader.dataset.data_root={data_root}'
    ],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    """A short three-modality DeCUR run on a tiny CMX layout with depth."""
    tmp = tmp_path_factory.mktemp('rgbd3')
    root = fake_data.make_cmx_rgbd(
        str(tmp / 'data'),
        num_train=24,
        num_test=4,
        num_classes=40,
        depth='uint16')
    losses = train(
        PRETRAIN, tmp, root,
        ['1.transforms.rgb.0', '1.transforms.hha.0', '1.transforms.depth.1'])
    return root, losses, str(tmp / 'work' / 'epoch_12.pth')


def test_three_modality_pretraining_lowers_the_loss(pretrained):
    _, losses, checkpoint = pretrained
    assert_lowered(losses)
    state = torch.load(checkpoint, weights_only=False)['state_dict']
    assert {k.split('.')[1]
            for k in state
            if k.startswith('backbones.')} == {'rgb', 'hha', 'depth'}


def test_pretrained_three_encoder_fcn_trains_and_reports_miou(
        pretrained, tmp_path):
    root, _, checkpoint = pretrained
    step = 4  # [load images, load label, depth scale, scale, CROP, ...]
    pipeline = (f'_base_.train_pipeline[:{step}] + ['
                f'dict(_base_.train_pipeline[{step}], size=32)] + '
                f'_base_.train_pipeline[{step + 1}:]')
    config = tmp_path / 'fcn3.py'
    config.write_text(f"_base_ = '{osp.join(ROOT, FCN)}'\n" + """model = dict(
    backbone=dict(encoders=dict(depth=18, base_channels=8,
                                stem_channels=8)),
    decode_head=dict(stage_channels=(8, 16, 32)),
    test_cfg=dict(crop_size=(32, 32), stride=(16, 16)))
""" + COMMON.format(train_pipeline=pipeline, train_root=root, test_root=root))
    init = tmp_path / 'decur_init.pth'
    run([
        sys.executable, 'tools/model_converters/decur_to_downstream.py',
        checkpoint,
        str(config),
        str(init)
    ])
    record = torch.load(init, weights_only=False)['meta']
    assert record['modality_map'] == dict(rgb='rgb', hha='hha', depth='depth')
    work_dir = tmp_path / 'work'
    run([
        sys.executable,
        'tools/train.py',
        str(config),
        '--work-dir',
        str(work_dir),
        '--cfg-options',
        f'load_from={init}',
        'train_dataloader.dataset.label_fraction=0.34'  # 8 of 24
    ])
    metrics_file = tmp_path / 'metrics.json'
    out = run([
        sys.executable, 'tools/test.py',
        str(config),
        str(work_dir / 'epoch_2.pth'), '--work-dir',
        str(tmp_path / 'test'), '--out',
        str(metrics_file)
    ])
    metrics = json.loads(metrics_file.read_text())
    assert 0 <= metrics['mIoU'] <= 100 and 'per class results' in out
    # Three encoders, the depth one on one band.
    weights = torch.load(
        work_dir / 'epoch_2.pth', weights_only=False)['state_dict']
    assert {
        k.split('.')[2]
        for k in weights if k.startswith('backbone.encoders.')
    } == {'rgb', 'hha', 'depth'}
    assert weights['backbone.encoders.depth.conv1.weight'].shape[1] == 1
    assert weights['backbone.encoders.rgb.conv1.weight'].shape[1] == 3

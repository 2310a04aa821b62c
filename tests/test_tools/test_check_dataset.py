# Copyright (c) mmdecur contributors. All rights reserved.
"""tools/misc/check_dataset.py lists every bad file of a config's dataset."""
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def write(path, shape=(12, 16, 3)):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), np.full(shape, 90, np.uint8))


def run_check(config, data_root, *extra):
    return subprocess.run([
        sys.executable, 'tools/misc/check_dataset.py', config, '--cfg-options',
        f'train_dataloader.dataset.data_root={data_root}', *extra
    ],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)


def test_sunrgbd_problems_are_listed_in_one_pass(tmp_path):
    for name in 'abcd':
        write(tmp_path / 'sunrgbd_image' / f'{name}.jpg')
        if name != 'a':
            write(tmp_path / 'sunrgbd_hha' / f'{name}.png')
    (tmp_path / 'sunrgbd_image' / 'b.jpg').write_bytes(b'truncated')
    write(tmp_path / 'sunrgbd_hha' / 'c.png', shape=(12, 16))  # 1 band
    out_json = tmp_path / 'problems.json'
    proc = run_check('configs/decur/rgbd_mitb2.py', tmp_path, '--out',
                     str(out_json))
    assert proc.returncode == 1, proc.stderr
    text = proc.stdout
    assert '3 problem(s): ' in text
    assert 'a.jpg has no HHA image' in text
    assert '[unreadable]' in text and 'b.jpg' in text
    assert '[bands]' in text and 'c.png has 1 band(s), expected 3' in text
    assert out_json.exists()


def test_a_clean_dataset_passes(tmp_path):
    for name in 'ab':
        write(tmp_path / 'sunrgbd_image' / f'{name}.jpg')
        write(tmp_path / 'sunrgbd_hha' / f'{name}.jpg')
    proc = run_check('configs/decur/rgbd_rn50.py', tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '0 problem(s)' in proc.stdout

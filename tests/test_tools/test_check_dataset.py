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
    proc = subprocess.run([
        sys.executable, 'tools/misc/check_dataset.py',
        'configs/decur/rgbd_mitb2.py', '--out',
        str(out_json), '--cfg-options',
        f'train_dataloader.dataset.data_root={tmp_path}'
    ],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)
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


def test_ssl4eo_missing_and_mis_sized_bands(tmp_path):
    from mmdecur.testing.fake_data import make_ssl4eo
    root = tmp_path / 'ssl4eo'
    make_ssl4eo(str(root), patch_ids=('0000001', '0000002', '0000003'))
    seasons = sorted((root / 's2c' / '0000002').iterdir())
    (seasons[1] / 'B5.tif').unlink()
    cv2.imwrite(str(seasons[2] / 'B1.tif'), np.zeros((10, 10), np.uint16))
    s1 = sorted((root / 's1' / '0000003').iterdir())
    (s1[0] / 'VH.tif').write_bytes(b'\x00' * 10)
    proc = run_check('configs/decur/sar_optical_rn50.py', root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = proc.stdout
    assert '3 problem(s)' in text
    assert 'B5.tif' in text and 'B1.tif is 10x10, expected 44x44' in text
    assert 'VH.tif' in text and '[unreadable]' in text


def test_geonrw_dem_that_is_not_float(tmp_path):
    from mmdecur.testing.fake_data import make_geonrw_patches
    root = tmp_path / 'geonrw'
    make_geonrw_patches(str(root), num_patches=3, size=16)
    dem = root / 'bonn' / '364_5620_2_dem.tif'
    cv2.imwrite(str(dem), np.zeros((16, 16), np.uint16))
    (root / 'bonn' / '364_5620_3_rgb.png').unlink()  # orphan DEM: ignored
    (root / 'bonn' / '364_5620_1_dem.tif').unlink()  # rgb without DEM
    proc = run_check('configs/decur/rgb_dem_rn50.py', root,
                     'train_dataloader.dataset.cities=[bonn]')
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert '2 problem(s)' in proc.stdout
    assert '364_5620_2_dem.tif holds uint16 data, expected float' in \
        proc.stdout
    assert '364_5620_1_dem.tif' in proc.stdout


def test_ssl4eo_third_modality_problems_and_statistics(tmp_path):
    import importlib.util
    import shutil

    from mmdecur.datasets.band_stats import save_band_stats
    from mmdecur.testing.fake_data import make_ssl4eo
    root = tmp_path / 'ssl4eo3'
    make_ssl4eo(
        str(root),
        patch_ids=('0000001', '0000002', '0000003', '0000004'),
        modalities=('s1', 's2c', 's2a'))
    s2a = sorted((root / 's2a' / '0000002').iterdir())
    (s2a[1] / 'B11.tif').unlink()
    cv2.imwrite(str(s2a[3] / 'B9.tif'), np.zeros((10, 10), np.uint16))
    shutil.rmtree(root / 's2a' / '0000004')
    config = 'configs/decur/sar_optical3_rn50.py'
    stats_key = 'train_dataloader.dataset.pipeline.1.stats.s2a'
    absent = tmp_path / 'absent.json'
    # No L2A statistics yet: listed with the file problems, in one pass.
    proc = run_check(config, root, f'{stats_key}={absent}')
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = proc.stdout
    assert '4 problem(s)' in text and '1 statistics' in text
    assert f"[statistics] statistics file of modality 's2a' not found: " \
        f'{absent}' in text and 'compute_band_stats.py' in text
    # Problems of the third modality are listed like the others'.
    assert 'band B11 of s2a location 0000002 is missing' in text
    assert 'B9.tif is 10x10, expected 44x44' in text
    assert 'no s2a folder for location 4: missing partner' in text
    # With statistics, only the file problems remain.
    stats = tmp_path / 's2a.json'
    save_band_stats(str(stats), dict(s2a=dict(mean=[1.] * 12, std=[1.] * 12)))
    spec = importlib.util.spec_from_file_location(
        'check_dataset', osp.join(ROOT, 'tools/misc/check_dataset.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    _, problems = tool.check(
        osp.join(ROOT, config),
        cfg_options={
            'train_dataloader.dataset.data_root': str(root),
            stats_key: str(stats)
        })
    assert sorted(p.kind for p in problems) == ['missing', 'missing', 'size']
    assert all('/s2a/' in p.path for p in problems)

# Copyright (c) mmdecur contributors. All rights reserved.
"""tools/misc/compute_band_stats.py on tiny SSL4EO-S12 data of known values."""
import glob
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmdecur.datasets.transforms import StatsScale
from mmdecur.testing import fake_data as data

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'misc', 'compute_band_stats.py')
CONFIG3 = osp.join(ROOT, 'configs', 'decur', 'sar_optical3_rn50.py')
MODS3 = ('s1', 's2c', 's2a')
PIXELS = 264 * 264


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load('compute_band_stats', TOOL)


@pytest.fixture(scope='module')
def constant(tmp_path_factory):
    """4 locations x 4 seasons, every band file a known constant."""
    return data.make_ssl4eo(
        str(tmp_path_factory.mktemp('const')), modalities=MODS3)


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    return data.make_ssl4eo(
        str(tmp_path_factory.mktemp('random')),
        patch_ids=[f'{i:07d}' for i in range(5)],
        modalities=MODS3,
        random_values=True)


def run(root, *args):
    return tool.main([
        CONFIG3, '--no-progress', *args, '--cfg-options',
        f'train_dataloader.dataset.data_root={root}'
    ])


def test_constant_bands_give_the_hand_computed_statistics(constant, tmp_path):
    out = str(tmp_path / 'stats.json')
    result = run(constant, '--modalities', 's1', 's2a', '--out', out)
    with open(out) as f:
        stats = json.load(f)['modalities']
    assert list(stats) == ['s1', 's2a']
    # Band b of location l, season s holds base + 100 l + 10 s + b (S1: its
    # negative - 0.5): over l, s in 0..3 the mean is base + 165 + b and the
    # variance 100^2 var(l) + 10^2 var(s) = 1.25 * 10100.
    std = np.sqrt(1.25 * 10100)
    for m, base, sign, shift in (('s1', 0, -1, -0.5), ('s2a', 3000, 1, 0)):
        entry = stats[m]
        n = len(entry['bands'])
        want = [sign * (base + 165 + b) + shift for b in range(n)]
        np.testing.assert_allclose(entry['mean'], want, rtol=1e-12)
        np.testing.assert_allclose(entry['std'], [std] * n, rtol=1e-12)
        assert entry['count'] == [16 * PIXELS] * n
        assert entry['source']['samples'] == 4
        assert entry['source']['images'] == 16
    assert stats['s2a']['bands'][-2:] == ['B11', 'B12']
    assert stats['s2a']['min'][0] == 3000 and stats['s2a']['max'][0] == 3330
    assert result['num_read'] == 4 and result['problems'] == []


def test_random_scenes_match_numpy_on_the_band_files(scenes, tmp_path):
    # A NaN S1 pixel, and L2A zeros declared nodata, do not count.
    vv = glob.glob(osp.join(scenes, 's1', '0000003', '*', 'VV.tif'))[0]
    img = cv2.imread(vv, cv2.IMREAD_UNCHANGED)
    img[5, 7] = np.nan
    assert cv2.imwrite(vv, img)
    out = str(tmp_path / 'stats.json')
    run(scenes, '--modalities', 's1', 's2a', '--out', out, '--nodata', 's2a=0')
    stats = StatsScale(dict(s1=out, s2a=out)).stats
    with open(out) as f:
        entries = json.load(f)['modalities']
    # Independent truth: the 264 px band files, read directly.
    for m, band, b in (('s1', 'VV', 0), ('s1', 'VH', 1), ('s2a', 'B4', 3),
                       ('s2a', 'B8', 7)):
        files = sorted(glob.glob(osp.join(scenes, m, '*', '*', f'{band}.tif')))
        assert len(files) == 20
        x = np.concatenate([
            cv2.imread(f, cv2.IMREAD_UNCHANGED).ravel() for f in files
        ]).astype(np.float64)
        x = x[np.isfinite(x)]
        if m == 's2a':
            assert (x == 0).any()
            x = x[x != 0]
        mean, std = stats[m]
        np.testing.assert_allclose(mean[b], x.mean(), rtol=1e-10)
        np.testing.assert_allclose(std[b], x.std(), rtol=1e-9)
        assert entries[m]['count'][b] == x.size
    assert entries['s1']['count'][0] == 20 * PIXELS - 1
    assert entries['s2a']['nodata'] == 0


def test_workers_and_subsets(scenes, tmp_path):
    one = run(scenes, '--modalities', 's2c', '--out',
              str(tmp_path / 'a.json'))['stats']['s2c']
    two = run(scenes, '--modalities', 's2c', '--out', str(tmp_path / 'b.json'),
              '--num-workers', '2')['stats']['s2c']
    np.testing.assert_allclose(two['mean'], one['mean'], rtol=1e-12)
    np.testing.assert_allclose(two['std'], one['std'], rtol=1e-12)
    assert two['count'] == one['count']
    sub = run(scenes, '--modalities', 's2c', '--out', str(tmp_path / 'c.json'),
              '--max-samples', '2', '--seed', '3')['stats']['s2c']
    assert sub['count'] == [2 * 4 * PIXELS] * 13
    assert sub['source']['samples'] == 2 and sub['source']['seed'] == 3
    assert tool.pick_samples(5, 2, 3) == sorted(tool.pick_samples(5, 2, 3))
    assert sub['mean'] != one['mean']


def test_default_modalities_and_out_come_from_the_config(constant, tmp_path):
    # The config's StatsScale reads s2a from a file: that file is written.
    target = str(tmp_path / 'from_config.json')
    result = tool.main([
        CONFIG3, '--no-progress', '--cfg-options',
        f'train_dataloader.dataset.data_root={constant}',
        f'train_dataloader.dataset.pipeline.1.stats.s2a={target}'
    ])
    assert result['out'] == target and list(result['stats']) == ['s2a']
    # ... and the config's StatsScale now reads it.
    StatsScale(dict(s2a=target)).check_bands('s2a', 12)
    with pytest.raises(SystemExit, match='give --out'):
        tool.main([
            CONFIG3, '--modalities', 's1', '--cfg-options',
            f'train_dataloader.dataset.data_root={constant}'
        ])
    with pytest.raises(SystemExit, match='not MODALITY=VALUE'):
        tool.parse_nodata(['s2a'])


def test_cli_prints_a_config_snippet(constant, tmp_path):
    out = str(tmp_path / 'cli.json')
    proc = subprocess.run([
        sys.executable, TOOL, CONFIG3, '--modalities', 's2a', '--out', out,
        '--cfg-options', f'train_dataloader.dataset.data_root={constant}'
    ],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert f"s2a_stats = '{out}'" in proc.stdout
    assert 's2a_stats = dict(  # B1, B2' in proc.stdout
    assert '    mean=[3165, 3166,' in proc.stdout

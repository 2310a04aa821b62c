# Copyright (c) mmdecur contributors. All rights reserved.
"""tools/dataset_converters/geonrw_tiles.py: GeoNRW tiles -> patches."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmdecur.datasets import GeoNRWDataset

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'tools', 'dataset_converters', 'geonrw_tiles.py')
TILE, PATCH = 40, 10  # 16 patches per tile, as 1000 / 250
JP2_LOSSLESS = [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 1000]

spec = importlib.util.spec_from_file_location('geonrw_tiles', SCRIPT)
geonrw_tiles = importlib.util.module_from_spec(spec)
spec.loader.exec_module(geonrw_tiles)


def tile_arrays(seed, size=TILE):
    """Random RGB (in RGB order), float32 DEM and 0..10 labels."""
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    dem = rng.normal(100, 30, (size, size)).astype(np.float32)
    seg = rng.integers(0, 11, (size, size), dtype=np.uint8)
    return rgb, dem, seg


def write_tile(root,
               city,
               stem,
               seed,
               size=TILE,
               grey_flag=False,
               rgb_bands=3,
               parts=('rgb', 'dem', 'seg')):
    folder = osp.join(root, city)
    os.makedirs(folder, exist_ok=True)
    rgb, dem, seg = tile_arrays(seed, size)
    base = osp.join(folder, stem)
    if 'rgb' in parts:
        img = rgb[..., ::-1] if rgb_bands == 3 else rgb[..., 0]
        ok, buf = cv2.imencode('.jp2', np.ascontiguousarray(img), JP2_LOSSLESS)
        data = bytearray(buf.tobytes())
        if grey_flag:  # greyscale colour space on 3-band data
            colr = data.find(b'colr')
            data[colr + 10] = 17
        with open(base + '_rgb.jp2', 'wb') as f:
            f.write(data)
    if 'dem' in parts:
        assert cv2.imwrite(base + '_dem.tif', dem,
                           [cv2.IMWRITE_TIFF_COMPRESSION, 5])
    if 'seg' in parts:
        assert cv2.imwrite(base + '_seg.tif', seg)
    return rgb, dem, seg


def patches_of(arr):
    """Row-major patches k = 1..16 of a tile."""
    n = TILE // PATCH
    return [
        arr[r * PATCH:(r + 1) * PATCH, c * PATCH:(c + 1) * PATCH]
        for r in range(n) for c in range(n)
    ]


def convert(src, out, *extra):
    return geonrw_tiles.main([
        str(src),
        str(out), '--patch-size',
        str(PATCH), '--tile-size',
        str(TILE), '--num-workers', '0', *extra
    ])


def read(path):
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, path
    return img


def test_cuts_row_major_lossless(tmp_path, capsys):
    src, out = tmp_path / 'src', tmp_path / 'out'
    rgb, dem, seg = write_tile(src, 'bonn', '364_5620', 0)
    grey_rgb, _, _ = write_tile(src, 'herne', '370_5710', 1, grey_flag=True)
    assert convert(src, out) == 0
    assert 'converted 2, skipped 0' in capsys.readouterr().out
    files = sorted(os.listdir(out / 'bonn'))
    assert len(files) == 48 and not [f for f in files if 'tmp' in f]
    for k, (p_rgb, p_dem, p_seg) in enumerate(
            zip(patches_of(rgb), patches_of(dem), patches_of(seg)), 1):
        base = out / 'bonn' / f'364_5620_{k}'
        np.testing.assert_array_equal(
            read(f'{base}_rgb.png')[..., ::-1], p_rgb)
        got_dem = read(f'{base}_dem.tif')
        assert got_dem.dtype == np.float32
        np.testing.assert_array_equal(got_dem, p_dem)
        np.testing.assert_array_equal(read(f'{base}_seg.png'), p_seg)
    # The grey-flagged JP2 keeps its three distinct bands.
    np.testing.assert_array_equal(
        read(out / 'herne' / '370_5710_16_rgb.png')[..., ::-1],
        patches_of(grey_rgb)[15])

    # The output is the dataset's 'patches' layout.
    ds = GeoNRWDataset(
        str(out),
        layout='patches',
        cities=['bonn', 'herne'],
        pipeline=[
            dict(
                type='LoadModalities',
                modalities=dict(
                    rgb=dict(color_order='rgb', channels=3),
                    dem=dict(dtype='float', channels=1)))
        ])
    assert len(ds) == 32
    info = ds.get_data_info(6)
    assert info['city'] == 'bonn' and info['tile'] == '364_5620'
    assert info['patch_index'] == 7
    np.testing.assert_array_equal(ds[6]['imgs']['rgb'], patches_of(rgb)[6])
    np.testing.assert_array_equal(ds[6]['imgs']['dem'][..., 0],
                                  patches_of(dem)[6])


def test_resumes_and_reports_bad_tiles(tmp_path, capsys):
    src, out = tmp_path / 'src', tmp_path / 'out'
    write_tile(src, 'bonn', '364_5620', 0)
    write_tile(src, 'bonn', '365_5620', 1)
    write_tile(src, 'bonn', '366_5620', 2, parts=('rgb', 'dem'))
    write_tile(src, 'bonn', '367_5620', 3, rgb_bands=1)
    write_tile(src, 'bonn', '368_5620', 4, size=48)
    assert convert(src, out) == 1
    cap = capsys.readouterr()
    assert 'converted 2, skipped 0 (already done), bad 3' in cap.out
    err = cap.err
    assert '3 bad tile(s)' in err
    assert osp.join(str(src), 'bonn', '366_5620_seg.tif') in err
    assert '367_5620_rgb.jp2 has 1 band(s), expected 3' in err
    assert '368_5620_rgb.jp2 is 48x48, expected 40x40' in err
    assert not any(
        f.startswith(('366', '367', '368')) for f in os.listdir(out / 'bonn'))

    # Rerun: finished tiles are skipped unread, an incomplete one redone.
    done = out / 'bonn' / '364_5620_3_rgb.png'
    mtime = os.stat(done).st_mtime_ns
    os.remove(out / 'bonn' / '365_5620_7_dem.tif')
    os.remove(src / 'bonn' / '366_5620_rgb.jp2')
    os.remove(src / 'bonn' / '367_5620_rgb.jp2')
    os.remove(src / 'bonn' / '368_5620_rgb.jp2')
    assert convert(src, out) == 0
    assert 'converted 1, skipped 1' in capsys.readouterr().out
    assert os.stat(done).st_mtime_ns == mtime
    np.testing.assert_array_equal(
        read(out / 'bonn' / '365_5620_7_dem.tif'),
        patches_of(tile_arrays(1)[1])[6])


def test_rejects_patch_size_not_dividing_tiles(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        geonrw_tiles.main(
            [str(tmp_path),
             str(tmp_path / 'o'), '--patch-size', '300'])
    assert e.value.code == 2
    assert 'not a multiple of --patch-size 300' in capsys.readouterr().err


def test_cli_with_workers(tmp_path):
    src, out = tmp_path / 'src', tmp_path / 'out'
    write_tile(src, 'bonn', '364_5620', 0)
    write_tile(src, 'koeln', '350_5640', 1)
    cmd = [
        sys.executable, SCRIPT,
        str(src),
        str(out), '--patch-size', '20', '--tile-size',
        str(TILE), '--num-workers', '2'
    ]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert '2 tiles -> 4 patches each' in proc.stdout
    assert sorted(os.listdir(out / 'koeln')) == sorted(f'350_5640_{k}_{kind}'
                                                       for k in range(1, 5)
                                                       for kind in ('rgb.png',
                                                                    'dem.tif',
                                                                    'seg.png'))

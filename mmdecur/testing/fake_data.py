# Copyright (c) mmdecur contributors. All rights reserved.
"""Tiny datasets written in the released on-disk layouts (tests, benchmarks).

Values are chosen so that reading them back checks band order and position:
every SSL4EO-S12 band file is a distinct constant (location, date-ordered
season, band); GeoNRW RGB bands read back as (v, v+1, v+2) plus a ramp;
every BigEarthNet band file is a distinct constant (patch, band).
"""
import json
import os
import os.path as osp

import cv2
import numpy as np

from mmdecur.datasets.bigearthnet import BIGEARTHNET_43_CLASSES
from mmdecur.datasets.ssl4eo_s12 import SSL4EO_S12_BANDS

# A 6-digit id (some releases) and 7-digit ids with gaps.
PATCH_IDS = ('000007', '0000042', '0000043', '0001000')
# Per location, seasons in DATE order. S1 product ids interleave S1A and
# S1B, so their name order (S1A first) is not their date order.
S1_SEASONS = (
    'S1B_IW_GRDH_1SDV_{y}0105T054210_{y}0105T054235_019668_025289_1A2B',
    'S1A_IW_GRDH_1SDV_{y}0403T054245_{y}0403T054310_032105_03B6A3_9C1D',
    'S1B_IW_GRDH_1SDV_{y}0702T054218_{y}0702T054243_022293_02A4F1_77E0',
    'S1A_IW_GRDH_1SDV_{y}1010T054250_{y}1010T054315_034730_040A10_05F2',
)
S2_SEASONS = (
    '{y}0110T101021_{y}0110T101557_T32TNR',
    '{y}0409T100549_{y}0409T101025_T32TNR',
    '{y}0713T101031_{y}0713T101349_T32TNR',
    '{y}1016T101039_{y}1016T101344_T32TNR',
)
SIZES = dict(
    B1=44,
    B2=264,
    B3=264,
    B4=264,
    B5=132,
    B6=132,
    B7=132,
    B8=264,
    B8A=132,
    B9=44,
    B10=44,
    B11=132,
    B12=132,
    VV=264,
    VH=264)
LZW = [cv2.IMWRITE_TIFF_COMPRESSION, 5]


def band_value(modality, loc, season, band):
    """The constant of a band file: location, DATE-order season, band."""
    if modality == 's1':
        return -float(loc * 100 + season * 10 + band) - 0.5
    return (3 if modality == 's2a' else 1) * 1000 + loc * 100 + season * 10 + \
        band


def season_folders(modality, loc):
    year = 2019 + loc % 2
    names = S1_SEASONS if modality == 's1' else S2_SEASONS
    return [n.format(y=year) for n in names]


def write_band(path, value, size, lzw=False):
    dtype = np.float32 if isinstance(value, float) else np.uint16
    img = np.full((size, size), value, dtype)
    assert cv2.imwrite(str(path), img, LZW if lzw else [])


def expected_bands(modality, loc, season):
    """The band constants make_ssl4eo writes for one location/season."""
    bands = SSL4EO_S12_BANDS[modality]
    return np.array(
        [band_value(modality, loc, season, b) for b in range(len(bands))])


def ssl4eo_config_with_crop(crop=32):
    """The SSL4EO-S12 base dataset config with smaller crops (fast tests)."""
    from mmengine.config import Config
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    cfg = Config.fromfile(
        osp.join(root, 'configs/_base_/datasets/ssl4eo_s12.py'))
    for view in cfg.train_pipeline[1]['transforms'].values():
        for t in view:
            if t['type'] == 'RandomResizedCropND':
                t['size'] = crop
    return cfg


def _scene(rng, size=264):
    """One location's ground truth in [0, 1]: a brightness level of its own
    (which survives any crop) plus a smooth random field."""
    cells = max(2, size // 33)
    coarse = rng.random((cells, cells)).astype(np.float32)
    field = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC)
    return 0.7 * rng.random() + 0.3 * field


def make_ssl4eo(root,
                patch_ids=PATCH_IDS,
                modalities=('s1', 's2c'),
                random_values=False,
                seed=0):
    """A tiny SSL4EO-S12 in exactly the released layout.

    Every band file is constant (``band_value``) unless ``random_values``:
    then each location has its own random scene (a level plus a smooth
    field) that all its seasons and modalities show, with per-band gains
    (S2 L2A lower than L1C) and pixel noise: learnable common content for
    benchmarks and short training runs. Any of 's1', 's2c', 's2a'.
    Location 1 is LZW-compressed. Season folders hold a ``metadata.json``.
    """
    rng = np.random.default_rng(seed)
    for loc, pid in enumerate(patch_ids):
        scene = _scene(rng)
        for m in modalities:
            for s, folder in enumerate(season_folders(m, loc)):
                path = osp.join(root, m, pid, folder)
                os.makedirs(path, exist_ok=True)
                with open(osp.join(path, 'metadata.json'), 'w') as f:
                    f.write('{"cloud_cover": 3.2}')
                for b, band in enumerate(SSL4EO_S12_BANDS[m]):
                    value = band_value(m, loc, s, b)
                    file = osp.join(path, f'{band}.tif')
                    if not random_values:
                        write_band(file, value, SIZES[band], lzw=loc == 1)
                        continue
                    size = SIZES[band]
                    field = cv2.resize(scene, (size, size))
                    noise = rng.normal(0, 0.05, (size, size))
                    if m == 's1':  # dB around DeCUR's mean
                        img = (-25 + 20 * field + 5 * noise).astype(np.float32)
                    else:  # S2; L2A (surface reflectance) darker than L1C
                        gain = 2000 if m == 's2a' else 3000
                        img = (gain * (field + noise) * (1 + 0.1 * b)).clip(
                            0, 10000).astype(np.uint16)
                    assert cv2.imwrite(file, img)
    return root


SIZE = 40  # OpenJPEG needs >= 32 px for its default 6 resolutions
JP2_LOSSLESS = [cv2.IMWRITE_JPEG2000_COMPRESSION_X1000, 1000]
TIF_LZW = [cv2.IMWRITE_TIFF_COMPRESSION, 5]


def rgb_of(value, size=SIZE):
    """RGB image whose bands read back as (value, value+1, value+2) plus a
    horizontal ramp, so that band order and position are both checked."""
    ramp = np.arange(size, dtype=np.uint8)[None, :]
    rgb = np.stack([value + ramp + b for b in range(3)], -1)
    return np.broadcast_to(rgb, (size, size, 3)).astype(np.uint8)


def dem_of(value, size=SIZE):
    return (value + 0.25 * np.arange(size * size, dtype=np.float32)).reshape(
        size, size)


def write(path, img, params=()):
    os.makedirs(osp.dirname(path), exist_ok=True)
    # cv2 writes 3-band data as BGR: reverse so the file holds RGB.
    img = img[..., ::-1] if img.ndim == 3 and img.shape[2] == 3 else img
    assert cv2.imwrite(str(path), np.ascontiguousarray(img), list(params))


def write_tile(root, city, stem, value, parts=('rgb', 'dem', 'seg')):
    folder = osp.join(root, city)
    if 'rgb' in parts:
        write(osp.join(folder, f'{stem}_rgb.jp2'), rgb_of(value), JP2_LOSSLESS)
    if 'dem' in parts:
        write(osp.join(folder, f'{stem}_dem.tif'), dem_of(value), TIF_LZW)
    if 'seg' in parts:
        seg = np.full((SIZE, SIZE), value % 11, np.uint8)
        write(osp.join(folder, f'{stem}_seg.tif'), seg)


def write_patch(root, city, stem, value, size=10):
    folder = osp.join(root, city)
    write(osp.join(folder, f'{stem}_rgb.png'), rgb_of(value, size))
    write(osp.join(folder, f'{stem}_dem.tif'), dem_of(value, size))
    write(
        osp.join(folder, f'{stem}_seg.png'),
        np.full((size, size), value % 11, np.uint8))


def make_geonrw_patches(root, city='bonn', num_patches=24, size=40, seed=0):
    """GeoNRW patches (converter layout) with learnable content: every patch
    shows its own random scene in both RGB (tinted) and the DEM (heights),
    plus noise; labels are that scene quantised to 0..10."""
    rng = np.random.default_rng(seed)
    for i in range(num_patches):
        scene = _scene(rng, size)
        tint = rng.random(3)
        rgb = (255 * scene[..., None] * (0.5 + 0.5 * tint)).astype(np.uint8)
        dem = (40 + 60 * scene + rng.normal(0, 1, scene.shape)).astype(
            np.float32)
        seg = np.rint(10 * scene).astype(np.uint8)
        stem = osp.join(root, city, f'364_5620_{i + 1}')
        write(f'{stem}_rgb.png', rgb)
        write(f'{stem}_dem.tif', dem)
        write(f'{stem}_seg.png', seg)
    return root


# Raw depth of the tiny CMX layout: the scene (in [0, 1]) as millimetres
# (uint16) or as 0..255 levels (uint8), and a sparse grid of unmeasured
# pixels (stored 0), as real depth sensors leave.
CMX_DEPTH_MM = (500., 4000.)  # near, span
CMX_DEPTH_LEVELS = (20., 200.)


def cmx_depth_of(scene, dtype='uint16'):
    """The raw depth map ``make_cmx_rgbd`` writes for a scene (H×W)."""
    near, span = CMX_DEPTH_MM if dtype == 'uint16' else CMX_DEPTH_LEVELS
    depth = np.rint(near + span * scene).astype(dtype)
    rows, cols = np.mgrid[:scene.shape[0], :scene.shape[1]]
    depth[(rows % 7 == 3) & (cols % 9 == 4)] = 0  # no measurement
    return depth


def make_cmx_rgbd(root,
                  num_train=8,
                  num_test=4,
                  num_classes=40,
                  size=(48, 64),
                  seed=0,
                  depth=None):
    """A tiny NYUDv2/SUN-RGBD in the CMX layout (RGB/, HHA/, Label/,
    train.txt, test.txt) whose labels follow the images: class = the scene
    quantised into ``num_classes`` levels (stored + 1; 0 = void on a
    border strip), so a segmentor can learn them.

    ``depth='uint16'`` (millimetres) or ``'uint8'`` also writes the raw
    depth of every scene as 1-band ``Depth/<name>.png``
    (:func:`cmx_depth_of`); the other files do not change with it.
    """
    if depth not in (None, 'uint16', 'uint8'):
        raise ValueError(f"depth must be None, 'uint16' or 'uint8', got "
                         f'{depth!r}')
    rng = np.random.default_rng(seed)
    names = [f'{i:04d}' for i in range(num_train + num_test)]
    for name in names:
        scene = _scene(rng, max(size))[:size[0], :size[1]]
        level = np.clip((scene * num_classes).astype(int), 0, num_classes - 1)
        rgb = (255 * scene[..., None] * rng.random(3)).astype(np.uint8)
        hha = np.stack(
            [255 * scene, 255 - 255 * scene,
             np.full_like(scene, 128)], -1).astype(np.uint8)
        label = (level + 1).astype(np.uint8)
        label[:2] = 0  # void
        write(osp.join(root, 'RGB', f'{name}.jpg'), rgb)
        write(osp.join(root, 'HHA', f'{name}.jpg'), hha)
        write(osp.join(root, 'Label', f'{name}.png'), label)
        if depth is not None:
            write(
                osp.join(root, 'Depth', f'{name}.png'),
                cmx_depth_of(scene, depth))
    with open(osp.join(root, 'train.txt'), 'w') as f:
        f.write('\n'.join(names[:num_train]) + '\n')
    with open(osp.join(root, 'test.txt'), 'w') as f:
        f.write('\n'.join(names[num_train:]) + '\n')
    return root


# BigEarthNet-MM v1.0: the S2 band files (no B10) and their stored sizes.
BIGEARTHNET_S2_FILES = ('B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08',
                        'B8A', 'B09', 'B11', 'B12')
BIGEARTHNET_SIZES = dict(
    B01=20,
    B02=120,
    B03=120,
    B04=120,
    B05=60,
    B06=60,
    B07=60,
    B08=120,
    B8A=60,
    B09=20,
    B11=60,
    B12=60)


def bigearthnet_s2_value(patch, band):
    """The constant of an S2 band file of BigEarthNet patch ``patch``."""
    return 1000 * (patch + 1) + 10 * BIGEARTHNET_S2_FILES.index(band)


def bigearthnet_s1_values(patch):
    """The (VV, VH) dB constants of S1 patch ``patch``."""
    return -10.5 - patch, -20.25 - patch


def write_bigearthnet_patch(root, patch, s2, s1, labels):
    """One S2 + S1 patch pair in the released layout, label JSONs included
    (with the archive's keys and typos). Every band is the constant of
    :func:`bigearthnet_s2_value` / :func:`bigearthnet_s1_values`; odd S2
    bands and the S1 bands are LZW-compressed."""
    s2_dir = osp.join(root, 'BigEarthNet-v1.0', s2)
    s1_dir = osp.join(root, 'BigEarthNet-S1-v1.0', s1)
    os.makedirs(s2_dir)
    os.makedirs(s1_dir)
    for i, band in enumerate(BIGEARTHNET_S2_FILES):
        size = BIGEARTHNET_SIZES[band]
        img = np.full((size, size), bigearthnet_s2_value(patch, band),
                      np.uint16)
        assert cv2.imwrite(
            osp.join(s2_dir, f'{s2}_{band}.tif'), img, LZW if i % 2 else [])
    for band, value in zip(('VV', 'VH'), bigearthnet_s1_values(patch)):
        assert cv2.imwrite(
            osp.join(s1_dir, f'{s1}_{band}.tif'),
            np.full((120, 120), value, np.float32), LZW)
    with open(osp.join(s2_dir, f'{s2}_labels_metadata.json'), 'w') as f:
        json.dump(
            dict(
                labels=list(labels),
                coordinates=dict(
                    ulx=600000, uly=5100000, lrx=601200, lry=5098800),
                projection='PROJCS["WGS 84 / UTM zone 32N", ...]',
                tile_source='S2A_MSIL1C_20170613T101031_N0205_R022_T32TNT',
                acquisition_date='2017-06-13 10:10:31'), f)
    with open(osp.join(s1_dir, f'{s1}_labels_metadata.json'), 'w') as f:
        json.dump(
            dict(
                labels=list(labels),
                coordinates=dict(
                    ulx=600000, uly=5100000, lrx=601200, lly=5098800),
                projection='PROJCS["WGS 84 / UTM zone 32N", ...]',
                corresponding_s2_patch=s2,
                scene_source='S1A_IW_GRDH_1SDV_20170613T165043',
                acquisition_time='2017-06-13T16:50:43'), f)


def make_bigearthnet(root, num_train=8, num_val=2, num_test=4, seed=0):
    """A tiny BigEarthNet-MM v1.0 in the released layout: S2 and S1 patch
    folders and ``splits/{train,val,test}.csv``.

    Patch ``i`` (counted over train, val, test) has constant bands (see
    :func:`write_bigearthnet_patch`) and 1-3 random CORINE labels (43-class
    names, seeded); the first S2 name drops the hour's leading zero, as
    some released names do.

    Returns:
        dict: split -> list of (S2 name, S1 name, CORINE labels).
    """
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'splits'), exist_ok=True)
    rows, patch = {}, 0
    for split, count in (('train', num_train), ('val', num_val), ('test',
                                                                  num_test)):
        rows[split] = []
        for _ in range(count):
            hour = '94031' if patch == 0 else '101031'
            s2 = f'S2A_MSIL2A_20170613T{hour}_{patch}_{patch % 7}'
            s1 = f'S1A_IW_GRDH_1SDV_20170613T165043_33UUP_{patch}_{patch % 7}'
            picks = rng.choice(
                len(BIGEARTHNET_43_CLASSES),
                size=int(rng.integers(1, 4)),
                replace=False)
            labels = [BIGEARTHNET_43_CLASSES[i] for i in sorted(picks)]
            write_bigearthnet_patch(root, patch, s2, s1, labels)
            rows[split].append((s2, s1, labels))
            patch += 1
        with open(osp.join(root, 'splits', f'{split}.csv'), 'w') as f:
            f.write(''.join(f'{s2},{s1}\n' for s2, s1, _ in rows[split]))
    return rows

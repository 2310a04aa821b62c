# Copyright (c) mmdecur contributors. All rights reserved.
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest

import mmdecur  # noqa: F401
from mmdecur.datasets import (BIGEARTHNET_19_CLASSES, BIGEARTHNET_43_CLASSES,
                              BIGEARTHNET_43_TO_19, BIGEARTHNET_S2_BANDS,
                              BigEarthNetMMDataset, FileContentError,
                              UnreadableFileError, bigearthnet_19_labels,
                              label_fraction_indices, labels_to_multi_hot)
from mmdecur.registry import DATASETS
from mmdecur.testing.fake_data import BIGEARTHNET_SIZES as SIZES
from mmdecur.testing.fake_data import bigearthnet_s1_values as s1_values
from mmdecur.testing.fake_data import bigearthnet_s2_value as s2_value
from mmdecur.testing.fake_data import write_bigearthnet_patch as write_patch

# 13-band SSL4EO order -> file band (None = B10).
SSL4EO_TO_FILE = ('B01', 'B02', 'B03', 'B04', 'B05', 'B06', 'B07', 'B08',
                  'B8A', 'B09', None, 'B11', 'B12')
# (S2 name, S1 name, CORINE labels, expected 19-class indices)
PATCHES = dict(
    train=[
        ('S2A_MSIL2A_20170613T101031_0_45',
         'S1A_IW_GRDH_1SDV_20170613T165043_33UUP_0_45', [
             'Discontinuous urban fabric', 'Non-irrigated arable land',
             'Pastures'
         ], [0, 2, 4]),
        # Two members of one group, plus a dropped class.
        ('S2A_MSIL2A_20170613T101031_0_46',
         'S1A_IW_GRDH_1SDV_20170613T165043_33UUP_0_46', [
             'Continuous urban fabric', 'Discontinuous urban fabric',
             'Road and rail networks and associated land'
         ], [0]),
        # The hour lost its leading zero in the S2 name.
        ('S2B_MSIL2A_20180525T94031_34_77',
         'S1B_IW_GRDH_1SDV_20180525T052555_29SND_34_77', [
             'Vineyards', 'Olive groves', 'Sea and ocean', 'Estuaries',
             'Airports'
         ], [3, 18]),
        ('S2A_MSIL2A_20171221T112501_50_12',
         'S1A_IW_GRDH_1SDV_20171221T174418_29SPC_50_12', [
             'Transitional woodland/shrub', 'Mixed forest',
             'Natural grassland', 'Sparsely vegetated areas'
         ], [10, 11, 13]),
    ],
    val=[('S2A_MSIL2A_20170717T113321_35_81',
          'S1A_IW_GRDH_1SDV_20170717T183050_29SNC_35_81', ['Bare rock'], [])],
    test=[('S2B_MSIL2A_20180421T100029_70_3',
           'S1B_IW_GRDH_1SDV_20180421T170051_34VFM_70_3',
           ['Salines', 'Peatbogs'], [15, 16])])
EXTRA = ('S2A_MSIL2A_20170613T101031_99_99',
         'S1A_IW_GRDH_1SDV_20170613T165043_33UUP_99_99', ['Pastures'], [4])

LOAD = dict(
    type='LoadBands',
    modalities=dict(
        s2=dict(size=120, interpolation='bilinear', dtype='uint16'),
        s1=dict(size=120, dtype='float')))


def write_tif(path, img, params=()):
    assert cv2.imwrite(path, img, list(params))


@pytest.fixture
def ben(tmp_path):
    os.makedirs(tmp_path / 'splits')
    patch = 0
    for split, rows in PATCHES.items():
        for s2, s1, labels, _ in rows:
            write_patch(str(tmp_path), patch, s2, s1, labels)
            patch += 1
        (tmp_path / 'splits' / f'{split}.csv').write_text(''.join(
            f'{s2},{s1}\n' for s2, s1, _, _ in rows))
    write_patch(str(tmp_path), patch, *EXTRA[:3])  # in no split csv
    return tmp_path


def test_label_nomenclature():
    assert len(BIGEARTHNET_43_CLASSES) == len(set(BIGEARTHNET_43_CLASSES))
    assert len(BIGEARTHNET_43_CLASSES) == 43
    assert set(BIGEARTHNET_43_TO_19) == set(BIGEARTHNET_43_CLASSES)
    dropped = {k for k, v in BIGEARTHNET_43_TO_19.items() if v is None}
    assert dropped == {
        'Road and rail networks and associated land', 'Port areas', 'Airports',
        'Mineral extraction sites', 'Dump sites', 'Construction sites',
        'Green urban areas', 'Sport and leisure facilities', 'Bare rock',
        'Burnt areas', 'Intertidal flats'
    }
    assert sorted(set(BIGEARTHNET_43_TO_19.values()) - {None}) == list(
        range(19))
    assert len(BIGEARTHNET_19_CLASSES) == 19
    assert BIGEARTHNET_19_CLASSES[0] == 'Urban fabric'
    assert BIGEARTHNET_19_CLASSES[12] == (
        'Moors, heathland and sclerophyllous vegetation')
    assert BIGEARTHNET_19_CLASSES[18] == 'Marine waters'
    for split_rows in PATCHES.values():
        for _, _, names, want in split_rows:
            assert bigearthnet_19_labels(names) == want
    with pytest.raises(ValueError, match=r"x\.json.*'Snow'"):
        bigearthnet_19_labels(['Pastures', 'Snow'], 'x.json')
    hot = labels_to_multi_hot([3, 18])
    assert hot.dtype == np.float32 and hot.shape == (19, )
    assert hot.nonzero()[0].tolist() == [3, 18] and hot.sum() == 2
    assert labels_to_multi_hot([]).sum() == 0
    with pytest.raises(ValueError):
        labels_to_multi_hot([19])


def test_data_info_follows_the_csv(ben):
    ds = DATASETS.build(
        dict(type='BigEarthNetMMDataset', data_root=str(ben), split='train'))
    assert len(ds) == 4
    for i, (s2, s1, _, labels) in enumerate(PATCHES['train']):
        info = ds.get_data_info(i)
        assert (info['s2_name'], info['s1_name']) == (s2, s1)
        assert info['gt_label'] == labels
    s2, s1 = PATCHES['train'][2][:2]
    info = ds.get_data_info(2)
    s2_dir = osp.join(str(ben), 'BigEarthNet-v1.0', s2)
    s1_dir = osp.join(str(ben), 'BigEarthNet-S1-v1.0', s1)
    assert info['band_paths']['s2'] == [
        None if b is None else osp.join(s2_dir, f'{s2}_{b}.tif')
        for b in SSL4EO_TO_FILE
    ]
    assert info['band_paths']['s2'][10] is None
    assert info['band_paths']['s1'] == [
        osp.join(s1_dir, f'{s1}_VV.tif'),
        osp.join(s1_dir, f'{s1}_VH.tif')
    ]
    assert info['band_sizes']['s2'] == [
        None if b is None else (SIZES[b], SIZES[b]) for b in SSL4EO_TO_FILE
    ]
    assert info['band_sizes']['s1'] == [(120, 120)] * 2
    assert info['labels_json'] == osp.join(s2_dir,
                                           f'{s2}_labels_metadata.json')
    assert ds.metainfo['classes'] == BIGEARTHNET_19_CLASSES
    assert ds.metainfo['bands']['s1'] == ('VV', 'VH')
    assert ds.metainfo['bands']['s2'] == BIGEARTHNET_S2_BANDS
    # The extra patch on disk is in no split.
    names = set()
    for split in ('train', 'val', 'test'):
        split_ds = BigEarthNetMMDataset(str(ben), split=split)
        names |= {
            split_ds.get_data_info(i)['s2_name']
            for i in range(len(split_ds))
        }
    assert EXTRA[0] not in names and len(names) == 6
    assert BigEarthNetMMDataset(
        str(ben), split='val').get_data_info(0)['gt_label'] == []


def test_bands_read_in_order(ben):
    ds = BigEarthNetMMDataset(str(ben), split='train', pipeline=[LOAD])
    out = ds[1]
    s2, s1 = out['imgs']['s2'], out['imgs']['s1']
    assert s2.shape == (120, 120, 13) and s2.dtype == np.uint16
    for i, band in enumerate(SSL4EO_TO_FILE):
        want = 0 if band is None else s2_value(1, band)
        # Constants stay constant through bilinear resampling.
        assert (s2[..., i] == want).all(), (i, band)
    assert s1.shape == (120, 120, 2) and s1.dtype == np.float32
    vv, vh = s1_values(1)
    assert (s1[..., 0] == vv).all() and (s1[..., 1] == vh).all()
    assert out['value_ranges']['s2'] == (0.0, 65535.0)

    official = BigEarthNetMMDataset(
        str(ben), split='train', s1_band_order=('VH', 'VV'), pipeline=[LOAD])
    assert official.metainfo['bands']['s1'] == ('VH', 'VV')
    s1 = official[1]['imgs']['s1']
    assert (s1[..., 0] == vh).all() and (s1[..., 1] == vv).all()
    for order in (('VV', ), ('VV', 'VV'), 'VVVH', ('HH', 'HV')):
        with pytest.raises(ValueError, match='s1_band_order'):
            BigEarthNetMMDataset(str(ben), s1_band_order=order)


def test_label_fraction_subsets(ben):
    rows = [r[0] for r in PATCHES['train']]

    def names(fraction, seed=0):
        ds = BigEarthNetMMDataset(str(ben), label_fraction=fraction, seed=seed)
        return [ds.get_data_info(i)['s2_name'] for i in range(len(ds))]

    half = names(0.5)
    assert half == [rows[i] for i in label_fraction_indices(4, 0.5, 0)]
    assert half == names(0.5)  # deterministic
    quarter = names(0.25)
    assert len(quarter) == 1 and set(quarter) <= set(half)
    assert names(1.0) == rows
    assert len(names(0.01)) == 1
    with pytest.raises(ValueError, match='label_fraction'):
        BigEarthNetMMDataset(str(ben), label_fraction=0)


def test_listing_problems(ben):
    train_csv = ben / 'splits' / 'train.csv'
    rows = train_csv.read_text()
    # Row 0: S2 folder gone; row 1: S1 partner folder named wrongly.
    s2_0 = PATCHES['train'][0][0]
    os.rename(ben / 'BigEarthNet-v1.0' / s2_0, ben / 'moved')
    s1_1 = PATCHES['train'][1][1]
    train_csv.write_text(rows.replace(s1_1, s1_1 + 'X'))
    with pytest.raises(FileNotFoundError) as e:
        BigEarthNetMMDataset(str(ben))
    msg = str(e.value)
    assert '2 problem(s) affecting 2 of 4 samples' in msg
    assert osp.join(str(ben), 'BigEarthNet-v1.0', s2_0) in msg
    assert osp.join(str(ben), 'BigEarthNet-S1-v1.0', s1_1 + 'X') in msg
    with pytest.warns(UserWarning, match='skipping'):
        ds = BigEarthNetMMDataset(str(ben), skip_bad_samples=True)
    assert len(ds) == 2 and len(ds.problems) == 2

    # Unknown label name / unreadable label file: errors naming the JSON.
    train_csv.write_text(rows)
    os.rename(ben / 'moved', ben / 'BigEarthNet-v1.0' / s2_0)
    json_2 = ben / 'BigEarthNet-v1.0' / PATCHES['train'][2][0] / (
        PATCHES['train'][2][0] + '_labels_metadata.json')
    meta = json.loads(json_2.read_text())
    json_2.write_text(json.dumps(dict(meta, labels=['Vineyards', 'Snow'])))
    with pytest.raises(FileContentError, match=f"{json_2}.*'Snow'"):
        BigEarthNetMMDataset(str(ben))
    json_2.write_text('{"labels": [')
    with pytest.raises(FileContentError, match=f'Cannot read {json_2}'):
        BigEarthNetMMDataset(str(ben))


def test_split_file_errors(ben):
    with pytest.raises(FileNotFoundError, match='holdout.csv'):
        BigEarthNetMMDataset(str(ben), split='holdout')
    (ben / 'splits' / 'bad.csv').write_text('a,b\n\nonly_s2\n')
    with pytest.raises(FileContentError, match='bad.csv, line 3'):
        BigEarthNetMMDataset(str(ben), split='bad')


def test_band_file_problems_and_verify(ben):
    (s2_0, s1_0), (s2_1, _), (s2_2,
                              _), (_,
                                   s1_3) = [r[:2] for r in PATCHES['train']]
    s2_root = ben / 'BigEarthNet-v1.0'
    missing = s2_root / s2_0 / f'{s2_0}_B03.tif'
    os.remove(missing)
    wrong_size = s2_root / s2_1 / f'{s2_1}_B05.tif'
    write_tif(str(wrong_size), np.zeros((120, 120), np.uint16))
    corrupt = s2_root / s2_2 / f'{s2_2}_B11.tif'
    corrupt.write_bytes(b'II*\x00 not really a tiff')
    # An S1 JSON that names another S2 patch than the csv pairs it with.
    s1_json = ben / 'BigEarthNet-S1-v1.0' / s1_3 / (
        f'{s1_3}_labels_metadata.json')
    meta = json.loads(s1_json.read_text())
    s1_json.write_text(json.dumps(dict(meta, corresponding_s2_patch='other')))

    ds = BigEarthNetMMDataset(str(ben), pipeline=[LOAD])
    with pytest.raises(FileNotFoundError, match=str(missing)):
        ds[0]
    with pytest.raises(
            FileContentError, match=f'{wrong_size} is 120x120, '
            'expected 60x60'):
        ds[1]
    with pytest.raises(UnreadableFileError, match=str(corrupt)):
        ds[2]
    ds[3]  # its bands are fine
    problems = ds.verify(progress=False)
    assert [(p.path, p.kind)
            for p in problems] == [(str(missing), 'missing'),
                                   (str(wrong_size), 'size'),
                                   (str(corrupt), 'unreadable'),
                                   (str(s1_json), 'partner')]
    assert "'other'" in problems[3].message
    assert PATCHES['train'][3][0] in problems[3].message

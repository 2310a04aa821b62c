# Copyright (c) mmdecur contributors. All rights reserved.
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate

import mmdecur  # noqa: F401
from mmdecur.datasets import (GEONRW_CLASSES, GEONRW_TEST_CITIES,
                              GEONRW_TRAIN_CITIES, FileContentError,
                              GeoNRWDataset, UnreadableFileError,
                              geonrw_label_to_train_id, jp2_grey_flag_to_srgb)
from mmdecur.registry import DATASETS, MODELS
from mmdecur.testing.fake_data import (JP2_LOSSLESS, SIZE, dem_of, rgb_of,
                                       write, write_patch, write_tile)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
LOAD = dict(
    type='LoadModalities',
    modalities=dict(
        rgb=dict(color_order='rgb', channels=3),
        dem=dict(dtype='float', channels=1)))


def all_city_folders(root):
    for city in GEONRW_TRAIN_CITIES + GEONRW_TEST_CITIES:
        os.makedirs(osp.join(root, city), exist_ok=True)


def test_constants():
    assert len(GEONRW_TRAIN_CITIES) == 40 and len(GEONRW_TEST_CITIES) == 3
    assert not set(GEONRW_TRAIN_CITIES) & set(GEONRW_TEST_CITIES)
    assert set(GEONRW_TEST_CITIES) == {'duesseldorf', 'herne', 'neuss'}
    assert {'koeln', 'muenster', 'guetersloh'} <= set(GEONRW_TRAIN_CITIES)
    assert len(GEONRW_CLASSES) == 10
    assert GEONRW_CLASSES[0] == 'forest' and GEONRW_CLASSES[-1] == 'buildings'


@pytest.fixture
def tiles(tmp_path):
    all_city_folders(tmp_path)
    write_tile(tmp_path, 'aachen', '300_5600', 10)
    write_tile(tmp_path, 'aachen', '99_5601', 20)  # numerically first
    write_tile(tmp_path, 'koeln', '350_5640', 30)
    write_tile(tmp_path, 'herne', '370_5710', 40)
    # A city in no split, and files that are no sample: all ignored.
    write_tile(tmp_path, 'atlantis', '1_2', 50)
    (tmp_path / 'aachen' / '300_5600_rgb.jp2.aux.xml').write_text('<x/>')
    (tmp_path / 'aachen' / 'readme.txt').write_text('-')
    return tmp_path


def test_tiles_layout_and_splits(tiles):
    train = DATASETS.build(
        dict(type='GeoNRWDataset', data_root=str(tiles), pipeline=[LOAD]))
    assert len(train) == 3
    infos = [train.get_data_info(i) for i in range(3)]
    assert [(i['city'], i['tile']) for i in infos] == [('aachen', '99_5601'),
                                                       ('aachen', '300_5600'),
                                                       ('koeln', '350_5640')]
    info = infos[1]
    folder = osp.join(str(tiles), 'aachen')
    assert info['img_paths'] == dict(
        rgb=osp.join(folder, '300_5600_rgb.jp2'),
        dem=osp.join(folder, '300_5600_dem.tif'))
    assert info['seg_map_path'] == osp.join(folder, '300_5600_seg.tif')
    assert 'patch_index' not in info
    assert train.metainfo['classes'] == GEONRW_CLASSES
    assert train.metainfo['modalities'] == ('rgb', 'dem')

    out = train[1]
    np.testing.assert_array_equal(out['imgs']['rgb'], rgb_of(10))
    assert out['imgs']['dem'].dtype == np.float32
    np.testing.assert_array_equal(out['imgs']['dem'][..., 0], dem_of(10))
    assert out['value_ranges']['rgb'] == (0.0, 255.0)

    test = GeoNRWDataset(str(tiles), split='test')
    assert [test.get_data_info(i)['city']
            for i in range(len(test))] == ['herne']
    custom = GeoNRWDataset(str(tiles), cities=['atlantis', 'koeln'])
    assert [custom.get_data_info(i)['tile']
            for i in range(2)] == ['1_2', '350_5640']


def test_patches_layout(tmp_path):
    all_city_folders(tmp_path)
    for k in (10, 2, 1):
        write_patch(tmp_path, 'herne', f'370_5710_{k}', k)
    write_patch(tmp_path, 'atlantis', '1_2_1', 99)  # in no split
    ds = GeoNRWDataset(
        str(tmp_path),
        split='test',
        layout='patches',
        with_label=False,
        pipeline=[LOAD])
    assert len(ds) == 3
    infos = [ds.get_data_info(i) for i in range(3)]
    assert [i['patch_index'] for i in infos] == [1, 2, 10]
    assert {i['tile'] for i in infos} == {'370_5710'}
    assert infos[2]['name'] == '370_5710_10'
    assert infos[2]['img_paths']['rgb'].endswith('herne/370_5710_10_rgb.png')
    assert 'seg_map_path' not in infos[0]
    out = ds[2]
    np.testing.assert_array_equal(out['imgs']['rgb'], rgb_of(10, 10))
    np.testing.assert_array_equal(out['imgs']['dem'][..., 0], dem_of(10, 10))
    labelled = GeoNRWDataset(str(tmp_path), split='test', layout='patches')
    assert labelled.get_data_info(0)['seg_map_path'].endswith(
        '370_5710_1_seg.png')


def test_missing_partners(tiles):
    os.remove(tiles / 'aachen' / '300_5600_dem.tif')
    os.remove(tiles / 'koeln' / '350_5640_seg.tif')
    with pytest.raises(FileNotFoundError) as e:
        GeoNRWDataset(str(tiles))
    msg = str(e.value)
    assert '2 problem(s) affecting 2 of 3 samples' in msg
    assert str(tiles / 'aachen' / '300_5600_dem.tif') in msg
    assert str(tiles / 'aachen' / '300_5600_rgb.jp2') in msg
    assert str(tiles / 'koeln' / '350_5640_seg.tif') in msg
    # Without labels only the DEM is missing.
    with pytest.raises(FileNotFoundError, match='1 problem'):
        GeoNRWDataset(str(tiles), with_label=False)
    with pytest.warns(UserWarning, match='skipping'):
        ds = GeoNRWDataset(str(tiles), skip_bad_samples=True)
    assert [ds.get_data_info(i)['tile'] for i in range(len(ds))] == ['99_5601']
    assert len(ds.problems) == 2


def test_missing_city_and_root(tiles):
    # A subset of the cities is fine (logged); no city at all is an error.
    before = len(GeoNRWDataset(str(tiles), split='test'))
    os.rmdir(tiles / 'neuss')
    assert len(GeoNRWDataset(str(tiles), split='test')) == before
    with pytest.raises(FileNotFoundError, match='none of the 1 test cities'):
        GeoNRWDataset(str(tiles), split='test', cities=['neuss'])
    with pytest.raises(FileNotFoundError, match='root'):
        GeoNRWDataset(str(tiles / 'nowhere'))
    with pytest.raises(ValueError, match='split'):
        GeoNRWDataset(str(tiles), split='val')
    with pytest.raises(ValueError, match='layout'):
        GeoNRWDataset(str(tiles), layout='lmdb')


def test_bad_names_are_reported(tiles):
    write(tiles / 'bonn' / '300_rgb.jp2', rgb_of(0), JP2_LOSSLESS)
    with pytest.raises(ValueError, match='300_rgb.jp2'):
        GeoNRWDataset(str(tiles))


def test_bad_files_name_the_file(tiles):
    aachen = tiles / 'aachen'
    # A 1-band JP2 where RGB is expected.
    write(aachen / '300_5600_rgb.jp2', rgb_of(10)[..., 0], JP2_LOSSLESS)
    # An integer DEM.
    write(aachen / '99_5601_dem.tif', np.zeros((SIZE, SIZE), np.uint16))
    # A corrupt DEM.
    (tiles / 'koeln' / '350_5640_dem.tif').write_bytes(b'II*\x00garbage')
    ds = GeoNRWDataset(str(tiles), pipeline=[LOAD])
    with pytest.raises(FileContentError, match='300_5600_rgb.jp2.*1 band'):
        ds[1]
    with pytest.raises(FileContentError, match='99_5601_dem.tif.*uint16'):
        ds[0]
    with pytest.raises(UnreadableFileError, match='350_5640_dem.tif'):
        ds[2]
    problems = ds.verify(progress=False)
    assert sorted((osp.basename(p.path), p.kind)
                  for p in problems) == [('300_5600_rgb.jp2', 'bands'),
                                         ('350_5640_dem.tif', 'unreadable'),
                                         ('99_5601_dem.tif', 'dtype')]


def test_label_to_train_id():
    label = np.array([[0, 1, 2], [5, 10, 0]], np.uint8)
    out = geonrw_label_to_train_id(label)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, [[255, 0, 1], [4, 9, 255]])
    np.testing.assert_array_equal(
        geonrw_label_to_train_id(np.arange(11, dtype=np.int32)),
        [255] + list(range(10)))
    with pytest.raises(ValueError, match=r'\[11, 200\]'):
        geonrw_label_to_train_id(np.array([3, 11, 200, 11], np.uint8))
    with pytest.raises(ValueError, match='integer'):
        geonrw_label_to_train_id(np.zeros(3, np.float32))


def _grey_flagged(rgb):
    ok, buf = cv2.imencode('.jp2', rgb[..., ::-1].copy(), JP2_LOSSLESS)
    data = bytearray(buf.tobytes())
    colr = data.find(b'colr')
    assert data[colr + 4] == 1 and data[colr + 10] == 16  # enumerated sRGB
    data[colr + 10] = 17  # what some GDAL-written GeoNRW tiles carry
    return buf.tobytes(), bytes(data)


def test_jp2_grey_flag_to_srgb():
    rgb = rgb_of(60)
    good, grey = _grey_flagged(rgb)
    fixed = jp2_grey_flag_to_srgb(grey)
    assert fixed == good
    img = cv2.imdecode(np.frombuffer(fixed, np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(img[..., ::-1], rgb)
    # Nothing to fix: a proper RGB JP2, a 1-band JP2, a non-JP2 file.
    assert jp2_grey_flag_to_srgb(good) is good
    _, one_band = cv2.imencode('.jp2', rgb[..., 0].copy(), JP2_LOSSLESS)
    assert jp2_grey_flag_to_srgb(one_band.tobytes()) == one_band.tobytes()
    assert jp2_grey_flag_to_srgb(b'\x89PNG....') == b'\x89PNG....'
    assert jp2_grey_flag_to_srgb(grey[:40]) == grey[:40]  # truncated


def test_pretrain_config_runs(tmp_path):
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/datasets/geonrw_pretrain.py'))
    all_city_folders(tmp_path)
    for k in (1, 2):
        write_patch(tmp_path, 'bonn', f'364_5620_{k}', 30 * k)
    dataset_cfg = dict(cfg.train_dataloader.dataset, data_root=str(tmp_path))
    ds = DATASETS.build(dataset_cfg)
    assert len(ds) == 2 and cfg.train_dataloader.batch_size == 64
    batch = default_collate([ds[0], ds[1]])
    rgb_views, dem_views = batch['inputs']['rgb'], batch['inputs']['dem']
    assert len(rgb_views) == len(dem_views) == 2
    assert rgb_views[0].shape == (2, 3, 224, 224)
    assert dem_views[1].shape == (2, 1, 224, 224)
    assert dem_views[0].dtype == rgb_views[0].dtype == torch.uint8
    preprocessor = MODELS.build(cfg.data_preprocessor)
    assert preprocessor.num_bands('dem') == 1
    out = preprocessor(batch, training=True)
    assert out['inputs']['dem'][0].shape == (2, 1, 224, 224)

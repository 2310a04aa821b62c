# Copyright (c) mmdecur contributors. All rights reserved.
"""tools/dataset_converters/ssl4eo_s12_to_lmdb.py and the LMDB dataset."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import lmdb
import numpy as np
import pytest

from mmdecur.datasets import (SSL4EO_S12_BANDS, SSL4EOS12Dataset,
                              SSL4EOS12LMDBDataset)
from mmdecur.datasets.errors import (FileContentError, MissingFileError,
                                     UnreadableFileError)
from mmdecur.datasets.transforms import LoadSeasons, StatsScale
from mmdecur.datasets.transforms.seasons import (close_lmdb, decode_array,
                                                 encode_array, open_lmdb)
from mmdecur.registry import DATASETS
from mmdecur.testing import fake_data as data

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'dataset_converters', 'ssl4eo_s12_to_lmdb.py')


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tool = _load('ssl4eo_s12_to_lmdb', TOOL)


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return data.make_ssl4eo(str(tmp_path_factory.mktemp('ssl4eo')))


@pytest.fixture(scope='module')
def converted(tiny, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('lmdb') / 'ssl4eo.lmdb')
    stats = tool.convert(tiny, out, progress=False)
    return out, stats


def assert_same_arrays(raw_root, lmdb_path, modalities=('s1', 's2c')):
    raw = SSL4EOS12Dataset(raw_root, modalities=modalities)
    db = SSL4EOS12LMDBDataset(lmdb_path, modalities=modalities)
    assert len(raw) == len(db)
    reader = LoadSeasons(modalities)
    for i in range(len(raw)):
        a, b = raw.get_data_info(i), db.get_data_info(i)
        assert a['patch_id'] == b['patch_id']
        assert b['lmdb_path'] == lmdb_path
        for m in modalities:
            assert len(a['seasons'][m]) == len(b['seasons'][m]) == 4
            for k, (sa,
                    sb) in enumerate(zip(a['seasons'][m], b['seasons'][m])):
                assert sa['date'] == sb['date']
                assert sa['folder'].endswith(sb['folder'])
                assert sb['lmdb_key'] == f'{m}/{a["patch_id"]}/{k}'
                x, y = reader.read(a, m, k), reader.read(b, m, k)
                assert x.dtype == y.dtype and x.shape == y.shape
                assert np.array_equal(x, y) and y.flags.writeable


def test_lmdb_dataset_returns_the_raw_arrays(tiny, converted):
    out, stats = converted
    assert stats['converted'] == 4 and stats['skipped'] == 0
    assert stats['bad'] == []
    assert stats['index'] == list(data.PATCH_IDS)
    assert_same_arrays(tiny, out)
    # Constant bands survive: band order checked through the LMDB too.
    db = SSL4EOS12LMDBDataset(out)
    img = LoadSeasons().read(db.get_data_info(1), 's2c', 2)
    assert (img == data.expected_bands('s2c', 1, 2)).all()
    assert len(SSL4EOS12LMDBDataset(out, patch_ids=[43, 7])) == 2
    with pytest.raises(ValueError, match='s2a'):
        SSL4EOS12LMDBDataset(out, modalities=('s1', 's2a'))


def test_lmdb_read_errors_name_the_key(converted):
    out, _ = converted
    db = SSL4EOS12LMDBDataset(out)
    assert db.verify(progress=False) == []
    info = db.get_data_info(0)
    info['seasons']['s1'][2]['lmdb_key'] = 's1/0009999/2'
    with pytest.raises(MissingFileError, match='s1/0009999/2') as e:
        LoadSeasons().read(info, 's1', 2)
    assert e.value.path == f'{out}::s1/0009999/2'
    with pytest.raises(UnreadableFileError, match='in LMDB x'):
        decode_array(b'\x93NUMPY junk', 'in LMDB x')
    arr = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    for a in (arr, np.asfortranarray(arr)):
        back = decode_array(memoryview(encode_array(a)))
        assert back.dtype == a.dtype and np.array_equal(back, a)
        assert back.flags.writeable and back.flags.owndata


def test_format_is_self_describing(converted):
    out, _ = converted
    env = open_lmdb(out)  # the process's one handle
    with env.begin() as txn:
        info = json.loads(txn.get(b'__info__'))
        assert info['format'] == 'mmdecur-ssl4eo-s12-lmdb'
        assert info['modalities']['s1']['bands'] == ['VV', 'VH']
        meta = json.loads(txn.get(b'meta/0000042'))
        assert meta['dates']['s1'][0] == '2020-01-05T05:42:10'
        value = txn.get(b's2c/0000042/3')
        assert value[:6] == b'\x93NUMPY'  # np.save bytes


def test_same_pipeline_output_from_raw_and_lmdb(tiny, converted):
    cfg = data.ssl4eo_config_with_crop(crop=24)
    outs = []
    for type_, root in (('SSL4EOS12Dataset', tiny), ('SSL4EOS12LMDBDataset',
                                                     converted[0])):
        ds = DATASETS.build(
            dict(type=type_, data_root=root, pipeline=cfg.train_pipeline))
        np.random.seed(3)
        outs.append([ds[i]['inputs'] for i in range(len(ds))])
    for a, b in zip(*outs):
        for m in ('s1', 's2c'):
            for va, vb in zip(a[m], b[m]):
                assert va.shape[0] == (2 if m == 's1' else 13)
                assert (va == vb).all()


def test_cli_converts_and_resumes(tiny, tmp_path):
    out = str(tmp_path / 'cli.lmdb')
    cmd = [
        sys.executable, TOOL, tiny, out, '--num-workers', '2', '--map-size',
        '64M', '--commit-every', '3'
    ]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'converted 4, skipped 0' in proc.stdout
    # Second run: nothing to do.
    stats = tool.main([tiny, out, '--map-size', '64M', '--no-progress'])
    assert stats['converted'] == 0 and stats['skipped'] == 4
    assert_same_arrays(tiny, out)


def test_interrupted_run_leaves_whole_locations_and_resumes(
        tiny, tmp_path, monkeypatch):
    out = str(tmp_path / 'part.lmdb')
    calls = []
    real = tool._read_location

    def flaky(info):
        calls.append(info['patch_id'])
        if len(calls) == 3:
            raise KeyboardInterrupt  # e.g. Ctrl-C mid-location
        return real(info)

    monkeypatch.setattr(tool, '_read_location', flaky)
    with pytest.raises(KeyboardInterrupt):
        tool.convert(tiny, out, commit_every=1, progress=False)
    monkeypatch.setattr(tool, '_read_location', real)
    close_lmdb(out)
    env = lmdb.open(out, lock=False, map_size=1 << 30)
    with env.begin() as txn:
        keys = [k.decode() for k in txn.cursor().iternext(values=False)]
    assert '__info__' in keys and '__index__' not in keys
    metas = {k for k in keys if k.startswith('meta/')}
    assert metas == {'meta/000007', 'meta/0000042'}
    # Only whole locations: 8 seasons each.
    assert sorted(k for k in keys if k[:2] == 's1' or k[:3] == 's2c') == \
        sorted(f'{m}/{p}/{k}' for p in ('000007', '0000042')
               for m in ('s1', 's2c') for k in range(4))
    # A stray season key without meta (not complete) gets rewritten.
    with env.begin(write=True) as txn:
        txn.put(b's1/0000043/0', b'junk')
    env.close()
    with pytest.raises(MissingFileError, match='did not finish'):
        SSL4EOS12LMDBDataset(out)
    stats = tool.convert(tiny, out, progress=False)
    assert stats['skipped'] == 2 and stats['converted'] == 2
    assert_same_arrays(tiny, out)
    with pytest.raises(ValueError, match='same arguments'):
        tool.convert(tiny, out, modalities=('s1', ), progress=False)


def test_bad_locations_are_skipped_and_counted_or_fatal(tiny, tmp_path):
    import shutil
    root = str(tmp_path / 'raw')
    shutil.copytree(tiny, root)
    os.remove(
        osp.join(root, 's1', '0000043',
                 data.season_folders('s1', 2)[1], 'VV.tif'))
    size_bad = osp.join(root, 's2c', '0001000',
                        data.season_folders('s2c', 3)[2], 'B9.tif')
    data.write_band(size_bad, 5, 132)
    with pytest.warns(UserWarning) as record:
        stats = tool.convert(root, str(tmp_path / 'a.lmdb'), progress=False)
    assert any('skipped 2 bad location(s)' in str(w.message) for w in record)
    assert stats['converted'] == 2
    assert sorted(pid for pid, _ in stats['bad']) == ['0000043', '0001000']
    kinds = {pid: [p.kind for p in ps] for pid, ps in stats['bad']}
    assert kinds == {'0000043': ['missing'], '0001000': ['size']}
    assert stats['index'] == ['000007', '0000042']
    assert len(SSL4EOS12LMDBDataset(str(tmp_path / 'a.lmdb'))) == 2
    # --strict: the listing problem is fatal, naming the file ...
    with pytest.raises(MissingFileError, match='VV.tif'):
        tool.convert(root, str(tmp_path / 'b.lmdb'), strict=True)
    # ... and so is a read problem.
    with pytest.raises(FileContentError, match='B9.tif is 132x132'):
        tool.convert(
            root,
            str(tmp_path / 'c.lmdb'),
            patch_ids=str(_ids(tmp_path, ['42', '1000'])),
            strict=True,
            progress=False)


def _ids(tmp_path, ids):
    path = tmp_path / 'ids.txt'
    path.write_text('\n'.join(ids) + '\n')
    return path


def test_lmdb_in_forked_dataloader_workers(converted):
    from mmengine.dataset import pseudo_collate
    from torch.utils.data import DataLoader
    out, _ = converted
    ds = SSL4EOS12LMDBDataset(
        out, pipeline=[LoadSeasons(season='first', num_views=1)])
    ds[0]  # the main process holds an open handle when workers fork
    loader = DataLoader(
        ds,
        batch_size=2,
        num_workers=2,
        collate_fn=pseudo_collate,
        multiprocessing_context='fork')
    ids = [pid for batch in loader for pid in batch['patch_id']]
    assert ids == list(data.PATCH_IDS)
    assert ds[1]['imgs']['s1'].shape == (264, 264, 2)  # reopened lazily


@pytest.fixture(scope='module')
def prescaled(tiny, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('lmdb_u8') / 'ssl4eo_u8.lmdb')
    cfg = osp.join(ROOT, 'configs/_base_/datasets/ssl4eo_s12.py')
    stats = tool.main([tiny, out, '--no-progress', '--prescale', cfg])
    return out, stats, tool.prescale_from_config(cfg)


def test_prescaled_lmdb_holds_the_scaled_seasons(tiny, prescaled):
    out, stats, scale_cfg = prescaled
    assert stats['converted'] == 4 and scale_cfg['type'] == 'StatsScale'
    scale = tool.build_scaler(scale_cfg)
    assert isinstance(scale, StatsScale)
    raw = SSL4EOS12Dataset(tiny)
    db = SSL4EOS12LMDBDataset(out)
    assert set(db.prescaled) == {'s1', 's2c'}
    assert db.prescaled['s2c'] == scale.spec('s2c')
    reader = LoadSeasons()
    for i in range(len(raw)):
        a, b = raw.get_data_info(i), db.get_data_info(i)
        assert b['prescaled'] == db.prescaled
        for m in ('s1', 's2c'):
            for k in range(4):
                stored = reader.read(b, m, k)
                assert stored.dtype == np.uint8
                assert np.array_equal(stored,
                                      scale.apply(m, reader.read(a, m, k)))


def _info_bytes(path):
    with open_lmdb(path).begin() as txn:
        return bytes(txn.get(b'__info__'))


def test_same_pipeline_output_from_raw_and_prescaled_lmdb(
        tiny, converted, prescaled):
    cfg = data.ssl4eo_config_with_crop(crop=24)
    outs = []
    for type_, root in (('SSL4EOS12Dataset', tiny), ('SSL4EOS12LMDBDataset',
                                                     prescaled[0]),
                        ('SSL4EOS12LMDBDataset', converted[0])):
        ds = DATASETS.build(
            dict(type=type_, data_root=root, pipeline=cfg.train_pipeline))
        np.random.seed(7)
        outs.append([ds[i]['inputs'] for i in range(len(ds))])
    assert 'prescaled' in json.loads(_info_bytes(prescaled[0]))
    assert 'prescaled' not in json.loads(_info_bytes(converted[0]))
    for a, b, c in zip(*outs):
        for m in ('s1', 's2c'):
            for va, vb, vc in zip(a[m], b[m], c[m]):
                assert va.dtype == vb.dtype
                assert (va == vb).all() and (va == vc).all()


def test_prescaled_lmdb_refuses_another_scaling(tiny, prescaled, tmp_path):
    out, _, scale_cfg = prescaled
    other = dict(scale_cfg, num_std=3)
    pipeline = [
        dict(type='LoadSeasons', num_views=1),
        dict(
            type='MultiModalMultiView',
            num_views=1,
            transforms=dict(s1=[other], s2c=[other])),
    ]
    ds = DATASETS.build(
        dict(type='SSL4EOS12LMDBDataset', data_root=out, pipeline=pipeline))
    with pytest.raises(ValueError, match='already scaled when converted'):
        ds[0]
    crop_first = [
        dict(type='LoadSeasons', num_views=1),
        dict(
            type='MultiModalMultiView',
            num_views=1,
            transforms=dict(
                s1=[dict(type='RandomResizedCropND', size=16), scale_cfg],
                s2c=[scale_cfg])),
    ]
    ds = DATASETS.build(
        dict(type='SSL4EOS12LMDBDataset', data_root=out, pipeline=crop_first))
    with pytest.raises(ValueError, match='after a resize or crop'):
        ds[0]
    # Resuming a conversion with another scaling is refused too.
    with pytest.raises(ValueError, match='use the same arguments'):
        tool.convert(tiny, out, progress=False, prescale=other)
    with pytest.raises(ValueError, match='no StatsScale'):
        tool.prescale_from_config(
            osp.join(ROOT, 'configs/_base_/datasets/geonrw_pretrain.py'))


# Three modalities: S1 GRD + S2 L1C + S2 L2A.
MODS3 = ('s1', 's2c', 's2a')
CONFIG3 = osp.join(ROOT, 'configs/decur/sar_optical3_rn50.py')


@pytest.fixture(scope='module')
def scenes3(tmp_path_factory):
    # Random scenes: resampled 20/60 m bands are not constant, so equality
    # is a real bit-for-bit check.
    return data.make_ssl4eo(
        str(tmp_path_factory.mktemp('ssl4eo3')),
        patch_ids=('0000005', '0000010', '0000011'),
        modalities=MODS3,
        random_values=True)


@pytest.fixture(scope='module')
def s2a_stats(tmp_path_factory):
    from mmdecur.datasets.band_stats import save_band_stats
    path = str(tmp_path_factory.mktemp('stats') / 's2a.json')
    save_band_stats(
        path,
        dict(
            s2a=dict(
                bands=list(SSL4EO_S12_BANDS['s2a']),
                mean=[900. + 60 * b for b in range(12)],
                std=[300. + 20 * b for b in range(12)])))
    return path


def test_three_modality_lmdb_is_bit_identical(scenes3, tmp_path):
    out = str(tmp_path / 'three.lmdb')
    stats = tool.convert(scenes3, out, modalities=MODS3, progress=False)
    assert stats['converted'] == 3 and stats['bad'] == []
    assert_same_arrays(scenes3, out, MODS3)
    db = SSL4EOS12LMDBDataset(out, modalities=MODS3)
    assert db.metainfo['modalities'] == MODS3
    assert tuple(db.metainfo['bands']['s2a']) == SSL4EO_S12_BANDS['s2a']
    with open_lmdb(out).begin() as txn:
        info = json.loads(txn.get(b'__info__'))
        meta = json.loads(txn.get(b'meta/0000010'))
    assert list(info['modalities']) == list(MODS3)
    assert info['modalities']['s2a']['bands'] == list(SSL4EO_S12_BANDS['s2a'])
    assert meta['season_folders']['s2a'] == data.season_folders('s2a', 1)
    # Any subset of the stored modalities reads back too.
    assert_same_arrays(scenes3, out, ('s1', 's2a'))


def test_lmdb_location_lacking_the_third_modality(scenes3, tmp_path):
    import shutil
    root = str(tmp_path / 'raw')
    shutil.copytree(scenes3, root)
    shutil.rmtree(osp.join(root, 's2a', '0000010'))
    with pytest.warns(UserWarning) as record:
        stats = tool.convert(
            root, str(tmp_path / 'a.lmdb'), modalities=MODS3, progress=False)
    assert any('skipped 1 bad location' in str(w.message) for w in record)
    assert stats['index'] == ['0000005', '0000011']
    (pid, problems), = stats['bad']
    assert pid == '0000010' and 'no s2a folder' in problems[0].message
    with pytest.raises(MissingFileError, match='no s2a folder'):
        tool.convert(
            root, str(tmp_path / 'b.lmdb'), modalities=MODS3, strict=True)


def test_prescale_with_three_statistics(scenes3, s2a_stats, tmp_path):
    out = str(tmp_path / 'three_u8.lmdb')
    override = f'train_dataloader.dataset.pipeline.1.stats.s2a={s2a_stats}'
    # The modalities default to the --prescale config's.
    stats = tool.main([
        scenes3, out, '--no-progress', '--prescale', CONFIG3, '--cfg-options',
        override
    ])
    assert stats['converted'] == 3
    scale_cfg = tool.prescale_from_config(
        CONFIG3,
        cfg_options={
            'train_dataloader.dataset.pipeline.1.stats.s2a': s2a_stats
        })
    scale = tool.build_scaler(scale_cfg)
    db = SSL4EOS12LMDBDataset(out, modalities=MODS3)
    assert set(db.prescaled) == set(MODS3)
    assert db.prescaled['s2a']['mean'] == [900. + 60 * b for b in range(12)]
    assert db.prescaled['s2c'] == scale.spec('s2c')
    raw = SSL4EOS12Dataset(scenes3, modalities=MODS3)
    reader = LoadSeasons(MODS3)
    for i in range(len(raw)):
        a, b = raw.get_data_info(i), db.get_data_info(i)
        for m in MODS3:
            for k in range(4):
                stored = reader.read(b, m, k)
                assert stored.dtype == np.uint8
                assert np.array_equal(stored,
                                      scale.apply(m, reader.read(a, m, k)))
    # The three-modality training pipeline gives identical samples from the
    # GeoTIFFs, a raw-value LMDB and the pre-scaled one.
    raw_lmdb = str(tmp_path / 'three.lmdb')
    tool.convert(scenes3, raw_lmdb, modalities=MODS3, progress=False)
    from mmengine.config import Config
    cfg = Config.fromfile(CONFIG3)
    cfg.merge_from_dict(
        {'train_dataloader.dataset.pipeline.1.stats.s2a': s2a_stats},
        allow_list_keys=True)
    pipeline = cfg.train_dataloader.dataset.pipeline
    for view in pipeline[2]['transforms'].values():
        view[0]['size'] = 24  # RandomResizedCropND
    outs = []
    for type_, root in (('SSL4EOS12Dataset', scenes3),
                        ('SSL4EOS12LMDBDataset', out), ('SSL4EOS12LMDBDataset',
                                                        raw_lmdb)):
        ds = DATASETS.build(
            dict(
                type=type_,
                data_root=root,
                modalities=MODS3,
                pipeline=pipeline))
        np.random.seed(11)
        outs.append([ds[i]['inputs'] for i in range(len(ds))])
    for a, b, c in zip(*outs):
        for m in MODS3:
            assert len(a[m]) == 2
            for va, vb, vc in zip(a[m], b[m], c[m]):
                assert va.shape[0] == len(SSL4EO_S12_BANDS[m])
                assert (va == vb).all() and (va == vc).all()


def test_prescale_refuses_statistics_of_another_band_count(scenes3, tmp_path):
    from mmdecur.datasets.band_stats import StatisticsError, save_band_stats
    wrong = str(tmp_path / 'l1c_as_l2a.json')
    save_band_stats(wrong, dict(s2a=dict(mean=[1.] * 13, std=[1.] * 13)))
    with pytest.raises(StatisticsError) as e:
        tool.main([
            scenes3,
            str(tmp_path / 'x.lmdb'), '--no-progress', '--prescale', CONFIG3,
            '--cfg-options',
            f'train_dataloader.dataset.pipeline.1.stats.s2a={wrong}'
        ])
    assert wrong in str(e.value) and "'s2a'" in str(e.value)
    assert '13 bands, but its data has 12' in str(e.value)
    # Without the statistics file, the error says how to compute it.
    with pytest.raises(StatisticsError, match='compute_band_stats.py'):
        tool.main([
            scenes3,
            str(tmp_path / 'y.lmdb'), '--no-progress', '--prescale', CONFIG3,
            '--cfg-options', 'train_dataloader.dataset.pipeline.1.stats.s2a='
            f'{tmp_path}/absent.json'
        ])

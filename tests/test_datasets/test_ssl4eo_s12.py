# Copyright (c) mmdecur contributors. All rights reserved.
"""SSL4EO-S12 in its released layout: listing, seasons, bands, bad input."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.config import Config

import mmdecur  # noqa: F401
from mmdecur.datasets import (SSL4EO_S12_BANDS, SSL4EOS12Dataset,
                              parse_season_date, read_patch_ids)
from mmdecur.datasets.errors import (FileContentError, MissingFileError,
                                     UnreadableFileError)
from mmdecur.datasets.transforms import LoadSeasons
from mmdecur.registry import DATASETS
from mmdecur.testing.fake_data import (PATCH_IDS, S1_SEASONS, S2_SEASONS,
                                       expected_bands, make_ssl4eo,
                                       season_folders, ssl4eo_config_with_crop,
                                       write_band)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(ROOT, 'configs/_base_/datasets/ssl4eo_s12.py')


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    return str(make_ssl4eo(str(tmp_path_factory.mktemp('ssl4eo'))))


@pytest.fixture
def tiny_copy(tiny, tmp_path):
    """A private copy to break."""
    dst = str(tmp_path / 'ssl4eo')
    shutil.copytree(tiny, dst)
    return dst


def test_band_layout_and_dates():
    assert SSL4EO_S12_BANDS['s1'] == ('VV', 'VH')
    assert SSL4EO_S12_BANDS['s2c'] == ('B1', 'B2', 'B3', 'B4', 'B5', 'B6',
                                       'B7', 'B8', 'B8A', 'B9', 'B10', 'B11',
                                       'B12')
    assert 'B10' not in SSL4EO_S12_BANDS['s2a']
    assert len(SSL4EO_S12_BANDS['s2a']) == 12
    assert parse_season_date(S1_SEASONS[0].format(y=2020)) == \
        '2020-01-05T05:42:10'
    assert parse_season_date(S2_SEASONS[3].format(y=2021)) == \
        '2021-10-16T10:10:39'
    assert parse_season_date('metadata') is None
    assert parse_season_date('20201399T000000_x') is None  # not a date


def test_data_info_lists_folders_sorted_by_date(tiny):
    ds = SSL4EOS12Dataset(tiny)
    assert len(ds) == 4
    assert [ds.get_data_info(i)['patch_id'] for i in range(4)] == \
        list(PATCH_IDS)
    info = ds.get_data_info(1)
    assert info['patch_id'] == '0000042'
    assert set(info['seasons']) == {'s1', 's2c'}
    s1 = info['seasons']['s1']
    # Date order, not name order (S1A would sort first).
    assert [osp.basename(s['folder']) for s in s1] == season_folders('s1', 1)
    assert sorted(osp.basename(s['folder']) for s in s1) != \
        [osp.basename(s['folder']) for s in s1]
    dates = [s['date'] for s in s1]
    assert dates == sorted(dates) and dates[0] == '2020-01-05T05:42:10'
    assert [osp.basename(p) for p in s1[0]['band_paths']] == \
        ['VV.tif', 'VH.tif']
    assert s1[0]['band_sizes'] == [(264, 264)] * 2
    s2 = info['seasons']['s2c'][2]
    assert s2['folder'] == osp.join(tiny, 's2c', '0000042',
                                    season_folders('s2c', 1)[2])
    assert [osp.basename(p)[:-4] for p in s2['band_paths']] == \
        list(SSL4EO_S12_BANDS['s2c'])
    assert [h for h, _ in s2['band_sizes']] == [
        44, 264, 264, 264, 132, 132, 132, 264, 132, 44, 44, 132, 132
    ]
    assert ds.metainfo['modalities'] == ('s1', 's2c')


def test_every_season_reads_bands_in_order(tiny):
    ds = SSL4EOS12Dataset(tiny)
    reader = LoadSeasons()
    for loc in range(4):  # location 1 is LZW-compressed
        info = ds.get_data_info(loc)
        for m, dtype in (('s1', np.float32), ('s2c', np.uint16)):
            for k in range(4):
                img = reader.read(info, m, k)
                n = len(SSL4EO_S12_BANDS[m])
                assert img.shape == (264, 264, n) and img.dtype == dtype
                # Constant bands stay constant through resampling.
                assert (img == expected_bands(m, loc, k)).all()


def test_s2a_has_no_b10(tmp_path):
    root = make_ssl4eo(
        str(tmp_path), patch_ids=('0000005', ), modalities=('s1', 's2a'))
    ds = SSL4EOS12Dataset(root, modalities=('s1', 's2a'))
    img = LoadSeasons(('s1', 's2a')).read(ds.get_data_info(0), 's2a', 3)
    assert img.shape == (264, 264, 12)
    assert (img == expected_bands('s2a', 0, 3)).all()
    with pytest.raises(ValueError, match="'s2b'"):
        SSL4EOS12Dataset(root, modalities=('s1', 's2b'))


def test_patch_ids_restrict_and_match_numerically(tiny, tmp_path):
    ds = SSL4EOS12Dataset(tiny, patch_ids=[1000, '7'])
    assert [ds.get_data_info(i)['patch_id']
            for i in range(2)] == ['0001000', '000007']
    ids = tmp_path / 'ids.txt'
    ids.write_text('# train split\n42\n\n0000043,extra\n')
    assert read_patch_ids(str(ids)) == [42, 43]
    ds = SSL4EOS12Dataset(tiny, patch_ids=str(ids))
    assert [d['patch_id'] for d in ds] == ['0000042', '0000043']
    with pytest.raises(MissingFileError, match='0000099'):
        SSL4EOS12Dataset(tiny, patch_ids=[42, 99])


def test_season_modes(tiny):
    ds = SSL4EOS12Dataset(tiny)
    info = ds.get_data_info(2)

    def check(out):
        for m in ('s1', 's2c'):
            assert len(out['imgs'][m]) == 2
            for v, k in enumerate(out['season_indices'][m]):
                assert (out['imgs'][m][v] == expected_bands(m, 2, k)).all()
                assert out['img_paths'][m][v] == \
                    info['seasons'][m][k]['folder']

    np.random.seed(0)
    random = LoadSeasons(season='random')
    views_differ = modalities_differ = 0
    for _ in range(20):
        out = random(dict(info))
        check(out)
        s1, s2 = out['season_indices']['s1'], out['season_indices']['s2c']
        views_differ += s1[0] != s1[1]
        modalities_differ += s1[0] != s2[0]
    # Independent per view and per modality.
    assert views_differ > 0 and modalities_differ > 0
    assert out['value_ranges'] == dict(s1=None, s2c=(0., 65535.))

    same = LoadSeasons(season='same')
    drawn = set()
    for _ in range(20):
        out = same(dict(info))
        check(out)
        assert out['season_indices']['s1'] == out['season_indices']['s2c']
        drawn.update(out['season_indices']['s1'])
    assert len(drawn) > 1

    first = LoadSeasons(season='first', num_views=1)
    out = first(dict(info))
    assert out['season_indices'] == dict(s1=[0], s2c=[0])
    assert out['imgs']['s1'].shape == (264, 264, 2)  # one array, no list
    assert out['img_paths']['s2c'] == info['seasons']['s2c'][0]['folder']
    with pytest.raises(ValueError, match='season'):
        LoadSeasons(season='all')


def test_missing_band_file_names_it(tiny_copy):
    folder = season_folders('s2c', 2)[1]
    band = osp.join(tiny_copy, 's2c', '0000043', folder, 'B8A.tif')
    os.remove(band)
    with pytest.raises(MissingFileError) as e:
        SSL4EOS12Dataset(tiny_copy)
    assert band in str(e.value) and '1 of 4 samples' in str(e.value)
    with pytest.warns(UserWarning, match='skipping'):
        ds = SSL4EOS12Dataset(tiny_copy, skip_bad_samples=True)
    assert [d['patch_id'] for d in ds] == ['000007', '0000042', '0001000']
    assert list(ds.bad_locations) == ['0000043']


def test_missing_partner_modality(tiny_copy):
    shutil.rmtree(osp.join(tiny_copy, 's2c', '0001000'))
    with pytest.raises(FileNotFoundError) as e:
        SSL4EOS12Dataset(tiny_copy)
    msg = str(e.value)
    assert osp.join(tiny_copy, 's2c', '0001000') in msg
    assert 'missing partner' in msg
    with pytest.warns(UserWarning):
        ds = SSL4EOS12Dataset(tiny_copy, skip_bad_samples=True)
    assert len(ds) == 3
    with pytest.raises(MissingFileError, match='s2a folder not found'):
        SSL4EOS12Dataset(tiny_copy, modalities=('s1', 's2a'))


def test_season_folder_problems(tiny_copy):
    s1 = osp.join(tiny_copy, 's1', '0000042')
    shutil.rmtree(osp.join(s1, season_folders('s1', 1)[0]))
    os.makedirs(osp.join(tiny_copy, 's2c', '000007', 'undated'))
    with pytest.raises(FileContentError) as e:
        SSL4EOS12Dataset(tiny_copy)
    msg = str(e.value)
    assert 'has 3 s1 seasons, expected 4' in msg
    assert 'undated' in msg and 'no <YYYYMMDD>T<HHMMSS> date' in msg
    # Any count is fine when the modalities agree, not otherwise.
    with pytest.raises(FileContentError, match='season counts differ'):
        SSL4EOS12Dataset(tiny_copy, patch_ids=[42], num_seasons=None)


def test_bad_files_are_clear_errors_when_read(tiny_copy):
    s2 = osp.join(tiny_copy, 's2c', '0000042', season_folders('s2c', 1)[0])
    write_band(osp.join(s2, 'B5.tif'), 7, 264)  # a 20 m band at 10 m
    s1 = osp.join(tiny_copy, 's1', '0001000', season_folders('s1', 3)[0])
    with open(osp.join(s1, 'VH.tif'), 'wb') as f:
        f.write(b'II*\x00 truncated')
    ds = SSL4EOS12Dataset(
        tiny_copy, pipeline=[LoadSeasons(season='first', num_views=1)])
    with pytest.raises(
            FileContentError, match=r'B5\.tif is 264x264, '
            r'expected 132x132') as e:
        ds[1]
    assert e.value.path == osp.join(s2, 'B5.tif') and e.value.kind == 'size'
    with pytest.raises(UnreadableFileError, match=r'VH\.tif'):
        ds[3]
    # Skipping replaces a sample that fails to load by another one.
    lenient = SSL4EOS12Dataset(
        tiny_copy,
        skip_bad_samples=True,
        pipeline=[LoadSeasons(season='first', num_views=1)])
    assert lenient[1]['patch_id'] in ('000007', '0000043')
    assert lenient._num_skipped >= 1


def test_verify_reads_every_season_in_one_pass(tiny_copy):
    s2 = osp.join(tiny_copy, 's2c', '0000042', season_folders('s2c', 1)[3])
    write_band(osp.join(s2, 'B1.tif'), 7, 132)
    s1 = osp.join(tiny_copy, 's1', '0001000', season_folders('s1', 3)[2])
    with open(osp.join(s1, 'VV.tif'), 'wb') as f:
        f.write(b'garbage')
    os.remove(
        osp.join(tiny_copy, 's2c', '000007',
                 season_folders('s2c', 0)[0], 'B12.tif'))
    with pytest.warns(UserWarning):
        ds = SSL4EOS12Dataset(tiny_copy, skip_bad_samples=True)
    problems = ds.verify(progress=False)
    assert sorted(p.kind for p in problems) == \
        ['missing', 'size', 'unreadable']
    assert {osp.relpath(p.path, tiny_copy)
            for p in problems} == {
                osp.relpath(osp.join(s2, 'B1.tif'), tiny_copy),
                osp.relpath(osp.join(s1, 'VV.tif'), tiny_copy),
                osp.join('s2c', '000007',
                         season_folders('s2c', 0)[0], 'B12.tif')
            }


def test_base_config_pipeline_packs_two_views_per_modality(tiny):
    cfg = ssl4eo_config_with_crop()
    assert cfg.train_dataloader.batch_size == 64
    assert cfg.train_dataloader.drop_last
    assert cfg.train_pipeline[0] == dict(
        type='LoadSeasons',
        modalities=('s1', 's2c'),
        num_views=2,
        season='random')
    pre = cfg.data_preprocessor.modalities
    assert pre.s2c.std == [255.] * 13 and pre.s1.mean == [0.] * 2
    dataset = cfg.train_dataloader.dataset
    dataset.update(data_root=tiny, pipeline=cfg.train_pipeline)
    ds = DATASETS.build(dataset)
    np.random.seed(1)
    out = ds[0]
    for m, bands in (('s1', 2), ('s2c', 13)):
        views = out['inputs'][m]
        assert len(views) == 2
        for v in views:
            assert v.shape == (bands, 32, 32) and str(v.dtype) == \
                'torch.uint8'
    lmdb_cfg = Config.fromfile(CONFIG.replace('.py', '_lmdb.py'))
    assert lmdb_cfg.train_dataloader.dataset.type == 'SSL4EOS12LMDBDataset'
    assert lmdb_cfg.train_dataloader.dataset.pipeline[0]['type'] == \
        'LoadSeasons'


def test_stats_scale_maps_constant_bands(tiny):
    cfg = ssl4eo_config_with_crop()
    ds = SSL4EOS12Dataset(
        tiny,
        pipeline=[
            LoadSeasons('s1', season='first', num_views=1),
            dict(type='StatsScale', stats=dict(s1=cfg.s1_stats))
        ])
    out = ds[1]
    mean, std = np.array(cfg.s1_stats['mean']), np.array(cfg.s1_stats['std'])
    want = np.clip(
        np.rint(
            (expected_bands('s1', 1, 0) - (mean - 2 * std)) / (4 * std) * 255),
        0, 255)
    assert (out['imgs']['s1'] == want).all()
    assert out['imgs']['s1'].dtype == np.uint8


# Three modalities: S1 GRD + S2 L1C + S2 L2A.
MODS3 = ('s1', 's2c', 's2a')
CONFIG3 = osp.join(ROOT, 'configs/_base_/datasets/ssl4eo_s12_3mod.py')


@pytest.fixture(scope='module')
def tiny3(tmp_path_factory):
    return str(
        make_ssl4eo(str(tmp_path_factory.mktemp('ssl4eo3')), modalities=MODS3))


@pytest.fixture
def tiny3_copy(tiny3, tmp_path):
    dst = str(tmp_path / 'ssl4eo3')
    shutil.copytree(tiny3, dst)
    return dst


def write_stats(path, modality='s2a', num_bands=12, bands=None):
    from mmdecur.datasets.band_stats import save_band_stats
    entry = dict(
        mean=[1000. + 10 * b for b in range(num_bands)],
        std=[500. + b for b in range(num_bands)])
    if bands is not None:
        entry['bands'] = list(bands)
    save_band_stats(str(path), {modality: entry})
    return str(path)


def test_three_modalities_list_pair_and_read_in_order(tiny3):
    ds = SSL4EOS12Dataset(tiny3, modalities=MODS3)
    assert len(ds) == 4
    assert ds.metainfo['modalities'] == MODS3
    assert {
        m: tuple(b)
        for m, b in ds.metainfo['bands'].items()
    } == SSL4EO_S12_BANDS
    reader = LoadSeasons(MODS3)
    for loc in range(4):
        info = ds.get_data_info(loc)
        assert list(info['seasons']) == list(MODS3)
        for m in MODS3:
            seasons = info['seasons'][m]
            # Season k of every modality is the k-th by date.
            assert [osp.basename(s['folder'])
                    for s in seasons] == season_folders(m, loc)
            for k in range(4):
                img = reader.read(info, m, k)
                assert img.shape == (264, 264, len(SSL4EO_S12_BANDS[m]))
                assert (img == expected_bands(m, loc, k)).all()
    s2a = ds.get_data_info(2)['seasons']['s2a'][1]
    assert s2a['folder'] == osp.join(tiny3, 's2a', '0000043',
                                     season_folders('s2a', 2)[1])
    assert [osp.basename(p)[:-4] for p in s2a['band_paths']] == \
        ['B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B9', 'B11',
         'B12']
    # Each modality reads its own files: L1C and L2A constants differ.
    assert not np.array_equal(
        expected_bands('s2c', 2, 1)[:12], expected_bands('s2a', 2, 1))


def test_three_modality_season_modes(tiny3):
    ds = SSL4EOS12Dataset(tiny3, modalities=MODS3)
    info = ds.get_data_info(3)

    def check(out, num_views=2):
        for m in MODS3:
            ks = out['season_indices'][m]
            assert len(ks) == num_views
            views = out['imgs'][m] if num_views > 1 else [out['imgs'][m]]
            for v, k in enumerate(ks):
                assert (views[v] == expected_bands(m, 3, k)).all()

    np.random.seed(0)
    random = LoadSeasons(MODS3, season='random')
    differ = {
        pair: 0
        for pair in (('s1', 's2c'), ('s1', 's2a'), ('s2c', 's2a'))
    }
    views_differ = {m: 0 for m in MODS3}
    for _ in range(30):
        out = random(dict(info))
        check(out)
        ks = out['season_indices']
        for a, b in differ:
            differ[a, b] += ks[a][0] != ks[b][0]
        for m in MODS3:
            views_differ[m] += ks[m][0] != ks[m][1]
    # Independent per view and per modality, for every pair.
    assert all(differ.values()) and all(views_differ.values())

    same = LoadSeasons(MODS3, season='same')
    drawn = set()
    for _ in range(20):
        out = same(dict(info))
        check(out)
        ks = out['season_indices']
        assert ks['s1'] == ks['s2c'] == ks['s2a']
        drawn.update(ks['s1'])
    assert len(drawn) > 1

    out = LoadSeasons(MODS3, season='first', num_views=1)(dict(info))
    check(out, num_views=1)
    assert out['season_indices'] == dict(s1=[0], s2c=[0], s2a=[0])

    # One shared index needs one season count per modality.
    short = dict(info, seasons=dict(info['seasons']))
    short['seasons']['s2a'] = info['seasons']['s2a'][:3]
    with pytest.raises(FileContentError, match="season='same'.*'s2a': 3"):
        same(short)


def test_location_lacking_the_third_modality(tiny3_copy):
    missing = osp.join(tiny3_copy, 's2a', '0000042')
    shutil.rmtree(missing)
    band = osp.join(tiny3_copy, 's2a', '0001000',
                    season_folders('s2a', 3)[2], 'B11.tif')
    os.remove(band)
    with pytest.raises(MissingFileError) as e:
        SSL4EOS12Dataset(tiny3_copy, modalities=MODS3)
    msg = str(e.value)
    assert f'{missing}: no s2a folder for location 42' in msg
    assert "missing partner (location has ['s1', 's2c'])" in msg
    assert band in msg and 'band B11 of s2a location 0001000' in msg
    assert '2 of 4 samples' in msg
    with pytest.warns(UserWarning, match='skipping'):
        ds = SSL4EOS12Dataset(
            tiny3_copy, modalities=MODS3, skip_bad_samples=True)
    assert [d['patch_id'] for d in ds] == ['000007', '0000043']
    assert sorted(ds.bad_locations) == ['0000042', '0001000']
    # The two-modality view of the same data is complete.
    assert len(SSL4EOS12Dataset(tiny3_copy)) == 4


def test_three_modality_config_builds_and_packs(tiny3, tmp_path):
    cfg = Config.fromfile(CONFIG3)
    assert cfg.modalities == MODS3
    assert list(cfg.data_preprocessor.modalities) == list(MODS3)
    assert cfg.data_preprocessor.modalities.s2a.std == [255.] * 12
    # What differs from ssl4eo_s12.py is the modality list and one
    # StatsScale with three statistics before the views.
    base = Config.fromfile(CONFIG)
    assert cfg.train_pipeline[1]['stats']['s2a'] == cfg.s2a_stats
    assert cfg.train_pipeline[1]['stats']['s2c'] == base.s2c_stats
    views = cfg.train_pipeline[2]['transforms']
    assert views['s1'] == base.s1_view[1:]
    assert views['s2a'] == views['s2c'] == base.s2c_view[1:]
    dataset = cfg.train_dataloader.dataset
    assert dataset.modalities == MODS3
    pipeline = copy_pipeline(cfg.train_pipeline, crop=32)
    # Until the L2A statistics exist, building is an error naming the file,
    # the modality and how to compute them.
    from mmdecur.datasets.band_stats import StatisticsError
    with pytest.raises(StatisticsError) as e:
        DATASETS.build(dict(dataset, data_root=tiny3, pipeline=pipeline))
    assert cfg.s2a_stats in str(e.value) and "'s2a'" in str(e.value)
    assert 'compute_band_stats.py' in str(e.value)
    pipeline[1]['stats']['s2a'] = write_stats(tmp_path / 's2a.json')
    ds = DATASETS.build(dict(dataset, data_root=tiny3, pipeline=pipeline))
    np.random.seed(1)
    out = ds[0]
    for m in MODS3:
        views = out['inputs'][m]
        assert len(views) == 2
        for v in views:
            assert v.shape == (len(SSL4EO_S12_BANDS[m]), 32, 32)
            assert str(v.dtype) == 'torch.uint8'


def copy_pipeline(pipeline, crop):
    import copy
    pipeline = copy.deepcopy(pipeline)
    for t in pipeline:
        for view in (t.get('transforms') or {}).values():
            for step in view:
                if step['type'] == 'RandomResizedCropND':
                    step['size'] = crop
    return pipeline


def test_scaling_once_before_the_views_equals_scaling_in_each(tiny3, tmp_path):
    stats = Config.fromfile(CONFIG).stats_scale['stats']
    stats = dict(stats, s2a=write_stats(tmp_path / 's2a.json'))
    scale = dict(type='StatsScale', stats=stats)
    per_view = copy_pipeline(Config.fromfile(CONFIG3).train_pipeline, crop=24)
    before = per_view.pop(1)
    assert before['type'] == 'StatsScale'
    for view in per_view[1]['transforms'].values():
        view.insert(0, scale)
    once = copy_pipeline(Config.fromfile(CONFIG3).train_pipeline, crop=24)
    once[1] = scale
    outs = []
    for pipeline in (per_view, once):
        ds = SSL4EOS12Dataset(tiny3, modalities=MODS3, pipeline=pipeline)
        np.random.seed(5)
        outs.append([ds[i]['inputs'] for i in range(len(ds))])
    for a, b in zip(*outs):
        for m in MODS3:
            for va, vb in zip(a[m], b[m]):
                assert va.dtype == vb.dtype and (va == vb).all()


def test_pipeline_that_does_not_fit_the_modalities(tiny3, tmp_path):
    from mmdecur.datasets.band_stats import StatisticsError
    s1_s2c = Config.fromfile(CONFIG).stats_scale['stats']
    good = write_stats(tmp_path / 's2a.json')

    def view(stats):
        return [dict(type='StatsScale', stats=stats)]

    def build(stats_of, load=MODS3, views=MODS3):
        return SSL4EOS12Dataset(
            tiny3,
            modalities=MODS3,
            pipeline=[
                dict(type='LoadSeasons', modalities=load),
                dict(
                    type='MultiModalMultiView',
                    transforms={m: view(stats_of(m))
                                for m in views}),
            ])

    build(lambda m: dict(s1_s2c, s2a=good))  # fits
    # The s2a view scales with statistics that lack s2a.
    with pytest.raises(
            StatisticsError,
            match="'s2a' view pipeline.*"
            'without statistics for modality .s2a.') as e:
        build(lambda m: s1_s2c)
    assert e.value.modality == 's2a' and 'compute_band_stats' in str(e.value)
    # A loaded modality that no StatsScale scales.
    with pytest.raises(StatisticsError, match="modality 's2a'.*unscaled"):
        SSL4EOS12Dataset(
            tiny3,
            modalities=MODS3,
            pipeline=[
                dict(type='LoadSeasons', modalities=MODS3),
                dict(type='StatsScale', stats=s1_s2c)
            ])
    # Statistics of another band count: the file and the modality named.
    l1c_like = write_stats(tmp_path / 'wrong.json', num_bands=13)
    with pytest.raises(StatisticsError) as e:
        build(lambda m: dict(s1_s2c, s2a=l1c_like))
    assert l1c_like in str(e.value) and "'s2a'" in str(e.value)
    assert 'give 13 bands, but its data has 12' in str(e.value)
    assert e.value.path == l1c_like
    # Band names, where the file has them, must be the modality's.
    renamed = write_stats(
        tmp_path / 'names.json', bands=[f'B{i}' for i in range(1, 13)])
    with pytest.raises(StatisticsError, match="are for bands.*'B10'"):
        build(lambda m: dict(s1_s2c, s2a=renamed))
    # No statistics at all, or a stats file that is not there.
    with pytest.raises(
            StatisticsError,
            match="no statistics for modality "
            "'s2a'.*compute_band_stats.py"):
        build(lambda m: dict(s1_s2c, s2a=None))
    absent = str(tmp_path / 'absent.json')
    with pytest.raises(StatisticsError, match=f"'s2a' not found: {absent}"):
        build(lambda m: dict(s1_s2c, s2a=absent))
    # Modality lists that disagree with the dataset's.
    with pytest.raises(ValueError, match=r"loads modalities \['s2b'\]"):
        SSL4EOS12Dataset(
            tiny3,
            modalities=('s1', 's2c'),
            pipeline=[dict(type='LoadSeasons', modalities=('s1', 's2b'))])
    with pytest.raises(
            ValueError,
            match=r"view pipelines for \['s1', 's2c'\]"
            r", but LoadSeasons loads \['s1', 's2c', 's2a'\]"):
        build(lambda m: dict(s1_s2c, s2a=good), views=('s1', 's2c'))


def test_sar_optical3_configs_build_three_encoders(tiny3, tmp_path):
    from mmdecur.apis import load_config
    from mmdecur.registry import MODELS
    small = {
        'model.backbone.depth': 18,
        'model.backbone.base_channels': 8,
        'model.backbone.stem_channels': 8,
        'model.projector.hid_channels': 32,
        'model.projector.out_channels': 16,
    }
    cfg = load_config(
        osp.join(ROOT, 'configs/decur/sar_optical3_rn50.py'), small)
    model_cfg = dict(cfg.model, data_preprocessor=cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    assert list(model.modalities) == list(MODS3)
    assert {
        m: b.conv1.in_channels
        for m, b in model.backbones.items()
    } == dict(
        s1=2, s2c=13, s2a=12)
    # The dataset names its modalities in the model's order.
    import copy
    dataset = copy.deepcopy(dict(cfg.train_dataloader.dataset))
    dataset.update(data_root=tiny3)
    dataset['pipeline'][1]['stats']['s2a'] = write_stats(tmp_path / 's.json')
    ds = DATASETS.build(dataset)
    assert list(ds.metainfo['modalities']) == list(model.modalities)
    lmdb = load_config(
        osp.join(ROOT, 'configs/decur/sar_optical3_rn50_lmdb.py'))
    assert lmdb.train_dataloader.dataset.type == 'SSL4EOS12LMDBDataset'
    assert lmdb.train_dataloader.dataset.modalities == MODS3
    assert lmdb.train_dataloader.dataset.pipeline == \
        cfg.train_dataloader.dataset.pipeline
    assert lmdb.model == load_config(
        osp.join(ROOT, 'configs/decur/sar_optical3_rn50.py')).model

# Copyright (c) mmdecur contributors. All rights reserved.
"""Streaming per-band statistics, the stats file, and StatsScale reading it."""
import json

import numpy as np
import pytest

from mmdecur.datasets.band_stats import (RunningBandStats, StatisticsError,
                                         load_band_stats, save_band_stats,
                                         stats_file_references)
from mmdecur.datasets.transforms import StatsScale


def test_running_stats_equal_numpy_over_all_pixels():
    rng = np.random.default_rng(0)
    images = [
        rng.normal([3, -7, 100], [1, 2, 30], (h, w, 3))
        for h, w in ((5, 7), (1, 1), (12, 3), (9, 9))
    ]
    acc = RunningBandStats(3)
    for img in images:
        acc.update(img.astype(np.float32))
    pixels = np.concatenate([
        i.astype(np.float32).reshape(-1, 3) for i in images
    ]).astype(np.float64)
    np.testing.assert_allclose(acc.mean, pixels.mean(0), rtol=1e-12)
    np.testing.assert_allclose(acc.std, pixels.std(0), rtol=1e-10)
    assert acc.count.tolist() == [len(pixels)] * 3
    assert acc.min.tolist() == pixels.min(0).tolist()
    assert acc.max.tolist() == pixels.max(0).tolist()
    assert acc.num_images == 4


def test_large_offset_keeps_the_variance():
    # Sum-of-squares accumulation loses every digit of this variance.
    rng = np.random.default_rng(1)
    chunks = [1e9 + rng.normal(0, 1, (100, 100, 1)) for _ in range(20)]
    acc = RunningBandStats(1)
    for c in chunks:
        acc.update(c)
    full = np.concatenate([c.ravel() for c in chunks])
    np.testing.assert_allclose(acc.std, [full.std()], rtol=1e-6)
    n = full.size
    naive = np.sqrt(np.sum(full**2) / n - (np.sum(full) / n)**2)
    assert abs(naive - full.std()) > 0.1  # what it protects against


def test_invalid_pixels_and_nodata_are_left_out_and_merge_is_exact():
    img = np.array([[[1., 0.], [np.nan, 2.]], [[3., np.inf], [0., 4.]]],
                   np.float32)
    acc = RunningBandStats(2, nodata=0)
    acc.update(img)
    assert acc.count.tolist() == [2, 2]  # band 0: 1, 3; band 1: 2, 4
    np.testing.assert_allclose(acc.mean, [2., 3.])
    np.testing.assert_allclose(acc.std, [1., 1.])
    # Two halves merged = the whole.
    rng = np.random.default_rng(2)
    data = rng.integers(0, 10000, (30, 8, 4)).astype(np.uint16)
    a, b, whole = RunningBandStats(4), RunningBandStats(4), RunningBandStats(4)
    for i, row in enumerate(data):
        (a if i < 11 else b).update(row[None])
        whole.update(row[None])
    a.merge(b)
    np.testing.assert_allclose(a.mean, whole.mean, rtol=1e-13)
    np.testing.assert_allclose(a.std, whole.std, rtol=1e-12)
    flat = data.reshape(-1, 4).astype(np.float64)
    np.testing.assert_allclose(a.std, flat.std(0), rtol=1e-12)
    empty = RunningBandStats(1, nodata=5)
    empty.update(np.full((2, 2), 5, np.uint16))
    assert empty.as_dict()['min'] == [None] and empty.count.tolist() == [0]
    with pytest.raises(ValueError, match='3 bands, expected 4'):
        a.update(np.zeros((2, 2, 3)))


def test_stats_file_round_trip_and_statsscale_from_it(tmp_path):
    acc = RunningBandStats(2)
    acc.update(np.array([[[1., 10.], [3., 30.]]]))
    path = str(tmp_path / 'stats.json')
    entry = acc.as_dict(['VV', 'VH'])
    assert save_band_stats(path, dict(s1=entry)) == ['s1']
    other = dict(mean=[5.], std=[2.], bands=['dem'])
    # Updating keeps the modalities already there.
    assert save_band_stats(path, dict(dem=other)) == ['s1', 'dem']
    with open(path) as f:
        data = json.load(f)
    assert data['format'] == 'mmdecur-band-stats' and data['version'] == 1
    loaded = load_band_stats(path, 's1')
    assert loaded == dict(mean=[2., 20.], std=[1., 10.], bands=['VV', 'VH'])
    by_file = StatsScale(dict(s1=path))
    inline = StatsScale(dict(s1=dict(mean=[2., 20.], std=[1., 10.])))
    assert by_file.spec('s1') == inline.spec('s1')
    assert by_file.sources['s1'] == path and by_file.band_names['s1'] == ('VV',
                                                                          'VH')
    x = np.array([[[0., 0.], [2., 40.], [5., 25.]]], np.float32)
    out = by_file(dict(imgs=dict(s1=x)))['imgs']['s1']
    assert (out == inline(dict(imgs=dict(s1=x)))['imgs']['s1']).all()
    # (x - (mean - 2 std)) / (4 std) * 255, clipped
    assert out.tolist() == [[[0, 0], [128, 255], [255, 159]]]
    with pytest.raises(
            StatisticsError,
            match='x.tif has 3 bands but 2 '
            f'mean/std values are configured \\(in {path}\\)'):
        by_file.apply('s1', np.zeros((2, 2, 3), np.float32), 'x.tif')
    by_file.check_bands('s1', 2, ['VV', 'VH'])
    with pytest.raises(
            StatisticsError,
            match="statistics file .* of "
            "modality 's1' give 2 bands, but its data has 3"):
        by_file.check_bands('s1', 3)


def test_stats_file_errors_name_file_and_modality(tmp_path):
    path = tmp_path / 'stats.json'
    save_band_stats(str(path), dict(s1=dict(mean=[1., 2.], std=[1., 1.])))
    with pytest.raises(
            StatisticsError,
            match=r"has no modality 's2a' \(it "
            r"has \['s1'\]\).*--modalities s2a") as e:
        StatsScale(dict(s2a=str(path)))
    assert e.value.path == str(path) and e.value.modality == 's2a'
    (tmp_path / 'bad.json').write_text('{"format": "x"}')
    with pytest.raises(
            StatisticsError,
            match="bad.json .*modality 's1'.* "
            'is not a stats file'):
        load_band_stats(str(tmp_path / 'bad.json'), 's1')
    (tmp_path / 'junk.json').write_text('{')
    with pytest.raises(StatisticsError, match='not readable JSON'):
        load_band_stats(str(tmp_path / 'junk.json'), 's1')
    save_band_stats(
        str(tmp_path / 'short.json'),
        dict(s1=dict(mean=[1., 2.], std=[1.], bands=['VV', 'VH'])))
    with pytest.raises(StatisticsError, match='mean=2, std=1, bands=2'):
        load_band_stats(str(tmp_path / 'short.json'), 's1')
    save_band_stats(
        str(tmp_path / 'flat.json'), dict(s1=dict(mean=[1.], std=[0.])))
    with pytest.raises(
            StatisticsError,
            match="'s1' \\(from .*flat.json\\) "
            'needs finite means and one positive std'):
        StatsScale(dict(s1=str(tmp_path / 'flat.json')))
    with pytest.raises(
            StatisticsError,
            match="no statistics for modality "
            "'s2a'; compute them with"):
        StatsScale(dict(s2a=None))
    with pytest.raises(StatisticsError, match='not overwriting'):
        save_band_stats(str(tmp_path / 'bad.json'), dict(s1=dict()))


def test_statsscale_scales_per_view_lists_once_per_image():
    scale = StatsScale(dict(s1=dict(mean=[0.], std=[1.])))
    a = np.full((2, 2, 1), -2., np.float32)
    b = np.full((2, 2, 1), 2., np.float32)
    out = scale(
        dict(imgs=dict(s1=[a, b, a]), img_paths=dict(s1=['p', 'q', 'p'])))
    views = out['imgs']['s1']
    assert [int(v[0, 0, 0]) for v in views] == [0, 255, 0]
    assert views[0] is views[2]  # one image drawn by two views
    assert out['value_ranges']['s1'] == (0., 255.)


def test_stats_file_references_in_a_pipeline():
    pipeline = [
        dict(type='LoadSeasons'),
        dict(
            type='StatsScale',
            stats=dict(s1=dict(mean=[0], std=[1]), s2a='a.json')),
        dict(
            type='MultiModalMultiView',
            transforms=dict(s2a=[
                dict(
                    type='StatsScale', stats=dict(s2a='a.json', s2c='c.json'))
            ])),
    ]
    assert stats_file_references(pipeline) == dict(
        s2a=['a.json'], s2c=['c.json'])

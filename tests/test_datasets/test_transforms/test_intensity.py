# Copyright (c) mmdecur contributors. All rights reserved.
import numpy as np
import pytest

from mmdecur.datasets.transforms import PercentileScale, StatsScale


def test_stats_scale_is_decurs_mu_two_sigma_formula():
    mean, std = [-12.548, -20.192], [5.257, 5.912]
    x = np.array([[[-12.548 - 2 * 5.257, -20.192], [-12.548 + 2 * 5.257, 100.],
                   [np.nan, -np.inf]]], np.float32)  # (1, 3, 2)
    out = StatsScale(dict(s1=dict(mean=mean, std=std)))(dict(imgs=dict(s1=x)))
    assert out['imgs']['s1'].dtype == np.uint8
    np.testing.assert_array_equal(out['imgs']['s1'],
                                  [[[0, 128], [255, 255], [0, 0]]])
    assert out['value_ranges']['s1'] == (0., 255.)
    flt = StatsScale(
        dict(s1=dict(mean=mean, std=std)), out_dtype='float32')(
            dict(imgs=dict(s1=x)))
    np.testing.assert_allclose(
        flt['imgs']['s1'][0, :2], [[0., 0.5], [1., 1.]], atol=1e-6)


def test_stats_scale_band_count_must_match():
    with pytest.raises(ValueError, match='has 3 bands but 2'):
        StatsScale(dict(s1=dict(mean=[0, 0], std=[1, 1])))(
            dict(imgs=dict(s1=np.zeros((2, 2, 3), np.float32))))


def test_percentile_scale_per_band_and_constant_band():
    ramp = np.arange(101, dtype=np.float32).reshape(101, 1, 1)
    img = np.concatenate([ramp, np.full_like(ramp, 7.)], axis=2)
    out = PercentileScale(
        'dem', low=10, high=90,
        out_dtype='float32')(dict(imgs=dict(dem=img)))['imgs']['dem']
    np.testing.assert_allclose(
        out[[0, 10, 50, 90, 100], 0, 0], [0., 0., 0.5, 1., 1.], atol=1e-6)
    assert (out[..., 1] == 0).all()

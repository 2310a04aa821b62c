# Copyright (c) mmdecur contributors. All rights reserved.
import numpy as np
import pytest
import torch

from mmdecur.analysis import (alignment_per_dim, alignment_summary,
                              linear_probe, plot_alignment_histogram)


def test_identical_dims_cost_zero_and_independent_dims_about_one():
    g = torch.Generator().manual_seed(0)
    n = 4000
    common = torch.randn(n, 6, generator=g)
    z1 = torch.cat([common, torch.randn(n, 2, generator=g)], 1)
    z2 = torch.cat([common, torch.randn(n, 2, generator=g)], 1)
    per_dim = alignment_per_dim(z1, z2)
    np.testing.assert_allclose(per_dim['loss'][:6], 0, atol=1e-8)
    np.testing.assert_allclose(per_dim['loss'][6:], 1, atol=0.1)
    summary = alignment_summary(per_dim, 6, np.linspace(0, 1, 11))
    assert summary['common']['histogram'][0] == 6
    assert summary['unique']['histogram'][-1] + summary['unique']['histogram'][
        -2] == 2
    assert summary['unique']['mean_abs_correlation'] < 0.05


def test_anticorrelated_dims_exceed_one_and_land_in_the_last_bin():
    z = torch.randn(100, 1)
    per_dim = alignment_per_dim(z, -z)
    assert per_dim['loss'][0] == pytest.approx(4.0, abs=1e-4)  # BN eps
    summary = alignment_summary(per_dim, 1, np.linspace(0, 1, 5))
    assert summary['common']['histogram'] == [0, 0, 0, 1]


def test_probe_recovers_a_linearly_encoded_class_and_not_noise():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 600)
    informative = np.eye(4)[labels] + 0.1 * rng.normal(size=(600, 4))
    noise = rng.normal(size=(600, 4))
    assert linear_probe(informative, labels) > 0.95
    assert linear_probe(noise, labels) < 0.4


def test_histogram_png(tmp_path):
    out = tmp_path / 'hist.png'
    plot_alignment_histogram({
        'common': np.zeros(3),
        'unique': np.ones(2)
    }, str(out), np.linspace(0, 1, 11))
    assert out.read_bytes()[:4] == b'\x89PNG'

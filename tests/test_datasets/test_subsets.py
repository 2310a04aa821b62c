# Copyright (c) mmdecur contributors. All rights reserved.
import numpy as np
import pytest

from mmdecur.datasets import label_fraction_indices


def test_counts_sorted_and_unique():
    for n, fraction, count in ((1000, 0.01, 10), (1000, 0.1, 100),
                               (250, 0.01, 3), (10, 0.25, 3), (7, 0.01, 1),
                               (5, 1.0, 5), (0, 0.5, 0)):
        idx = label_fraction_indices(n, fraction, seed=3)
        assert idx.dtype == np.int64
        assert len(idx) == count, (n, fraction)
        assert (np.diff(idx) > 0).all()  # sorted, unique
        assert idx.size == 0 or (idx.min() >= 0 and idx.max() < n)
    np.testing.assert_array_equal(label_fraction_indices(6, 1.0), np.arange(6))


def test_deterministic_and_nested():
    n = 5000
    subsets = {
        f: label_fraction_indices(n, f, seed=7)
        for f in (0.01, 0.1, 0.5, 1.0)
    }
    again = label_fraction_indices(n, 0.1, seed=7)
    np.testing.assert_array_equal(subsets[0.1], again)
    assert np.isin(subsets[0.01], subsets[0.1]).all()
    assert np.isin(subsets[0.1], subsets[0.5]).all()
    assert np.isin(subsets[0.5], subsets[1.0]).all()
    # Another seed draws another subset (of the same size).
    other = label_fraction_indices(n, 0.1, seed=8)
    assert len(other) == 500 and not np.array_equal(other, subsets[0.1])
    # The stream is NumPy's frozen legacy one: the subset is pinned.
    assert label_fraction_indices(10, 0.3, seed=0).tolist() == [2, 4, 8]


def test_bad_arguments():
    for fraction in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match='fraction'):
            label_fraction_indices(10, fraction)
    with pytest.raises(ValueError, match='num_samples'):
        label_fraction_indices(-1, 0.5)
    with pytest.raises(ValueError, match='num_samples'):
        label_fraction_indices(2.5, 0.5)

# Copyright (c) mmdecur contributors. All rights reserved.
"""Deterministic, nested label-fraction subsets (1 % ⊂ 10 % ⊂ 100 %)."""
import math

import numpy as np

__all__ = ['label_fraction_indices']


def label_fraction_indices(num_samples: int,
                           fraction: float,
                           seed: int = 0) -> np.ndarray:
    """Indices of a seeded random ``fraction`` of ``num_samples`` samples.

    All fractions drawn with the same seed share one random permutation and
    take a prefix of it, so the subsets are nested: with one seed the 1 %
    subset lies inside the 10 % subset, which lies inside the full set. A
    transfer result at a smaller fraction thus never sees a sample the
    larger fraction does not.

    The count is ``floor(fraction * num_samples + 0.5)`` (round half up,
    unlike Python's round-half-even), at least 1 for a non-empty set;
    ``fraction=1`` gives every index.

    Args:
        num_samples (int): Size of the full set (e.g. the rows of a split
            file, in file order).
        fraction (float): Fraction to keep, in (0, 1].
        seed (int): Seed of the permutation. Defaults to 0.

    Returns:
        np.ndarray: The chosen indices, sorted ascending (int64), so a
        subset keeps the full set's order.

    Examples:
        >>> small = label_fraction_indices(1000, 0.01, seed=0)
        >>> large = label_fraction_indices(1000, 0.1, seed=0)
        >>> len(small), len(large), bool(np.isin(small, large).all())
        (10, 100, True)
    """
    if isinstance(num_samples, bool) or int(num_samples) != num_samples \
            or num_samples < 0:
        raise ValueError(f'num_samples must be a non-negative int, got '
                         f'{num_samples!r}')
    num_samples = int(num_samples)
    fraction = float(fraction)
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f'fraction must be in (0, 1], got {fraction}')
    if fraction == 1.0 or num_samples == 0:
        return np.arange(num_samples, dtype=np.int64)
    count = max(1, math.floor(fraction * num_samples + 0.5))
    # One permutation per seed, whatever the fraction: subsets are prefixes.
    # RandomState, not default_rng: its stream is frozen by NumPy's
    # compatibility policy, so a subset is the same on every NumPy version.
    order = np.random.RandomState(seed).permutation(num_samples)
    return np.sort(order[:count]).astype(np.int64)

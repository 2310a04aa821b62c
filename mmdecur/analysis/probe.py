# Copyright (c) mmdecur contributors. All rights reserved.
"""Linear probes on (subsets of) embedding dimensions."""
import numpy as np


def linear_probe(features: np.ndarray,
                 labels: np.ndarray,
                 train_fraction: float = 0.7,
                 seed: int = 0) -> float:
    """Held-out accuracy of a linear probe (ridge-regression classifier).

    A closed-form linear classifier on standardised features: fast enough to
    run over many (modality, dimension group, factor) combinations at the
    end of every validation.

    Args:
        features (np.ndarray): (N, D) features.
        labels (np.ndarray): (N,) integer classes.
        train_fraction (float): Fraction used to fit. Defaults to 0.7.
        seed (int): Split seed. Defaults to 0.

    Returns:
        float: Accuracy on the held-out samples.
    """
    from sklearn.linear_model import RidgeClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    labels = np.asarray(labels).astype(int)
    order = np.random.default_rng(seed).permutation(len(labels))
    split = int(round(train_fraction * len(labels)))
    train, test = order[:split], order[split:]
    if len(np.unique(labels[train])) < 2 or len(test) == 0:
        raise ValueError('a linear probe needs >= 2 classes in the training '
                         'part and a non-empty test part')
    probe = make_pipeline(StandardScaler(), RidgeClassifier(alpha=1.0))
    probe.fit(features[train], labels[train])
    return float(probe.score(features[test], labels[test]))

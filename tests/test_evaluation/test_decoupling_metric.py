# Copyright (c) mmdecur contributors. All rights reserved.
import numpy as np
import pytest
import torch

from mmdecur.evaluation import DecouplingMetric


def test_metric_over_a_constructed_split():
    rng = np.random.default_rng(0)
    n = 400
    hue = rng.integers(0, 4, n)
    common = rng.normal(size=(n, 3))
    rgb = np.concatenate([common, np.eye(4)[hue] * 3], 1)
    depth = np.concatenate([common, rng.normal(size=(n, 4))], 1)
    metric = DecouplingMetric()
    metric.dataset_meta = dict(
        modalities=('rgb', 'depth'),
        factor_names=('hue', ),
        num_classes=dict(hue=4))
    samples = [
        dict(
            embedding_rgb=torch.tensor(rgb[i], dtype=torch.float32),
            embedding_depth=torch.tensor(depth[i], dtype=torch.float32),
            gt_factors=torch.tensor([float(hue[i])]),
            dim_common=3) for i in range(n)
    ]
    metric.process({}, samples)
    out = metric.evaluate(n)
    assert out['decoupling/common_align_loss'] == pytest.approx(0, abs=1e-6)
    assert out['decoupling/unique_abs_corr'] < 0.15
    assert out['decoupling/probe_hue_rgb_unique'] > 0.95
    assert out['decoupling/probe_hue_depth_unique'] < 0.45

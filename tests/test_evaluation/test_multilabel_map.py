# Copyright (c) mmdecur contributors. All rights reserved.
"""Micro/macro mAP: hand-computed values (an absent class, ties), agreement
with scikit-learn and mmpretrain, and whole-split (not per-batch) results."""
import math

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmpretrain.evaluation.metrics.multi_label import _average_precision
from mmpretrain.structures import DataSample
from sklearn.metrics import average_precision_score

from mmdecur.evaluation import MultiLabelMAP, average_precision, multilabel_map

# 4 samples x 3 classes; class 2 has no positive in this "split".
SCORES = [
    [0.90, 0.20, 0.40],
    [0.60, 0.70, 0.10],
    [0.30, 0.80, 0.50],
    [0.10, 0.05, 0.35],
]
TARGETS = [
    [1, 0, 0],
    [0, 1, 0],
    [1, 1, 0],
    [0, 0, 0],
]


def test_micro_and_macro_by_hand():
    # Micro: all 12 (sample, class) pairs ranked by score, highest first.
    # The two 0.10 scores are tied, both negatives.
    ranked = [(0.90, 1), (0.80, 1), (0.70, 1), (0.60, 0), (0.50, 0), (0.40, 0),
              (0.35, 0), (0.30, 1), (0.20, 0), (0.10, 0), (0.10, 0), (0.05, 0)]
    flat = sorted(((s, t) for row_s, row_t in zip(SCORES, TARGETS)
                   for s, t in zip(row_s, row_t)),
                  key=lambda p: -p[0])
    assert flat == ranked
    # Precision at each positive's rank: 1/1, 2/2, 3/3, 4/8; 4 positives.
    micro = (1 / 1 + 2 / 2 + 3 / 3 + 4 / 8) / 4
    assert micro == 0.875
    # Class 0: 0.9 (+), 0.6 (-), 0.3 (+), 0.1 (-): precisions 1/1, 2/3.
    ap0 = (1 / 1 + 2 / 3) / 2
    # Class 1: 0.8 (+), 0.7 (+), 0.2 (-), 0.05 (-): precisions 1/1, 2/2.
    ap1 = (1 / 1 + 2 / 2) / 2
    # Class 2 has no positive: no AP, left out of the macro mean.
    macro = (ap0 + ap1) / 2

    out = multilabel_map(torch.tensor(SCORES), torch.tensor(TARGETS))
    assert out['micro'] == pytest.approx(micro)
    assert out['macro'] == pytest.approx(macro)  # 11 / 12
    assert out['per_class'][:2] == pytest.approx([ap0, ap1])
    assert math.isnan(out['per_class'][2]) and out['absent'] == [2]
    assert average_precision(np.array(SCORES), np.array(TARGETS)) == \
        pytest.approx(micro)


def test_ties_form_one_threshold():
    scores = [0.8, 0.5, 0.5, 0.2]
    targets = [1, 0, 1, 0]
    # Thresholds 0.8: P = 1/1, R = 1/2; 0.5 (both tied): P = 2/3, R = 2/2;
    # 0.2: no new positive (recall gain 0).
    want = (1 / 2 - 0) * 1 + (2 / 2 - 1 / 2) * (2 / 3)
    assert average_precision(scores, targets) == pytest.approx(want)
    # The order of the tied pair does not matter.
    assert average_precision([0.8, 0.5, 0.5, 0.2],
                             [1, 1, 0, 0]) == pytest.approx(want)
    assert average_precision(scores, targets) == pytest.approx(
        average_precision_score(targets, scores))
    # All scores tied: AP = the positive rate.
    assert average_precision([0.3] * 4, [1, 0, 0, 0]) == pytest.approx(0.25)


def test_agrees_with_sklearn_and_mmpretrain():
    rng = np.random.default_rng(0)
    scores = rng.random((50, 6))
    targets = (rng.random((50, 6)) < 0.3).astype(np.float32)
    targets[:, 4] = 0  # an absent class
    scores[:, 5] = np.round(scores[:, 5], 1)  # many ties
    out = multilabel_map(scores, targets)
    assert out['micro'] == pytest.approx(
        average_precision_score(targets.ravel(), scores.ravel()))
    present = [c for c in range(6) if c != 4]
    assert out['macro'] == pytest.approx(
        np.mean([
            average_precision_score(targets[:, c], scores[:, c])
            for c in present
        ]))
    assert out['absent'] == [4]
    for c in range(4):  # tie-free: mmpretrain's per-class AP
        assert out['per_class'][c] == pytest.approx(
            _average_precision(
                torch.tensor(scores[:, c]), torch.tensor(targets[:,
                                                                 c])).item())


def samples(scores, targets, as_score=False):
    out = []
    for s, t in zip(scores, targets):
        sample = DataSample().set_pred_score(torch.tensor(s))
        if as_score:
            sample.set_gt_score(torch.tensor(t, dtype=torch.float32))
        else:
            sample.set_gt_label([i for i, v in enumerate(t) if v])
        out.append(sample.to_dict())
    return out


def test_metric_is_over_the_whole_split_not_per_batch():
    evaluator = Evaluator(MultiLabelMAP(classwise=True, prefix='test-split'))
    data = samples(SCORES, TARGETS)
    batches = [(0, 1), (1, 4)]
    for start, end in batches:
        evaluator.process(data[start:end])
    out = evaluator.evaluate(4)
    assert out['test-split/mAP_micro'] == pytest.approx(87.5)
    assert out['test-split/mAP_macro'] == pytest.approx(100 * 11 / 12)
    assert out['test-split/num_absent_classes'] == 1
    classwise = out['test-split/AP_classwise']
    assert classwise[:2] == pytest.approx([100 * 5 / 6, 100.0])
    assert classwise[2] is None
    # The mean of per-batch micro APs (the official code's number) differs.
    per_batch = np.mean([
        average_precision(SCORES[start:end], TARGETS[start:end])
        for start, end in batches
    ])
    assert per_batch == pytest.approx((1 + (1 + 1 + 3 / 6) / 3) / 2)

    # gt_score targets give the same; the default prefix.
    metric = Evaluator(MultiLabelMAP())
    metric.process(samples(SCORES, TARGETS, as_score=True))
    out = metric.evaluate(4)
    assert out['multi-label/mAP_micro'] == pytest.approx(87.5)
    assert 'multi-label/AP_classwise' not in out


def test_bad_inputs():
    with pytest.raises(ValueError, match='finite'):
        average_precision([0.5, float('nan')], [1, 0])
    with pytest.raises(ValueError, match='0 or 1'):
        average_precision([0.5, 0.2], [1, 2])
    with pytest.raises(ValueError, match='2 scores but 3 targets'):
        average_precision([0.5, 0.2], [1, 0, 0])
    assert math.isnan(average_precision([0.5, 0.2], [0, 0]))
    with pytest.raises(ValueError, match=r'\(N, C\)'):
        multilabel_map([0.5, 0.2], [1, 0])

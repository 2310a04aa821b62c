# Copyright (c) mmdecur contributors. All rights reserved.
"""mIoU / OA of a known prediction, computed by hand, against the metric the
segmentation configs use (mmseg's IoUMetric): ignore label 255 respected,
classes absent from the ground truth handled as mmseg does."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmdecur.registry import METRICS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GT = np.array([[0, 0, 1, 1], [0, 255, 1, 1], [2, 2, 255, 255]])


def evaluate(pred):
    cfg = Config.fromfile(osp.join(ROOT, 'configs/fcn/fcn_rn50_nyudv2.py'))
    metric = METRICS.build(cfg.test_evaluator)
    metric.dataset_meta = dict(classes=('a', 'b', 'c', 'd'))
    s = SegDataSample()
    s.pred_sem_seg = PixelData(data=torch.as_tensor(pred)[None])
    s.gt_sem_seg = PixelData(data=torch.as_tensor(GT)[None])
    metric.process({}, [s.to_dict()])
    return metric.compute_metrics(metric.results)


def test_known_prediction_gives_hand_computed_miou_and_oa():
    # 9 valid pixels; 6 right: (0,0) (0,2) (0,3) (1,0) (1,2) (2,0).
    # a: gt 3, pred 4, both 2 -> 2/5; b: gt 4, pred 4, both 3 -> 3/5;
    # c: gt 2, pred 1, both 1 -> 1/2. d is absent from the ground truth and
    # predicted only on ignored pixels: 0/0, left out of the mean.
    pred = np.array([[0, 1, 1, 1], [0, 3, 1, 0], [2, 0, 3, 3]])
    out = evaluate(pred)
    assert out['aAcc'] == pytest.approx(100 * 6 / 9, abs=0.01)
    assert out['mIoU'] == pytest.approx(
        100 * (2 / 5 + 3 / 5 + 1 / 2) / 3, abs=0.01)


def test_a_class_absent_from_the_ground_truth_but_predicted_counts_zero():
    # As above, but pixel (2,1) (gt c) is predicted as d: d gets IoU 0/1 and
    # enters the mean; c becomes 1/2 (gt 2, pred 1, both 1).
    pred = np.array([[0, 1, 1, 1], [0, 3, 1, 0], [2, 3, 3, 3]])
    out = evaluate(pred)
    # a: gt 3, pred 3 ((0,0) (1,0) (1,3)), both 2 -> 2/4.
    assert out['aAcc'] == pytest.approx(100 * 6 / 9, abs=0.01)
    assert out['mIoU'] == pytest.approx(
        100 * (2 / 4 + 3 / 5 + 1 / 2 + 0) / 4, abs=0.01)

# Copyright (c) mmdecur contributors. All rights reserved.
"""Micro and macro mean average precision over a whole split."""
import math
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.structures import label_to_onehot

from mmdecur.registry import METRICS

__all__ = ['MultiLabelMAP', 'average_precision', 'multilabel_map']

ArrayLike = Union[torch.Tensor, np.ndarray, Sequence]


def average_precision(scores: ArrayLike, targets: ArrayLike) -> float:
    r"""Average precision of one ranking (any shape; flattened).

    The step-wise area under the precision-recall curve, one point per
    distinct score (threshold)::

        AP = \sum_k (R_k - R_{k-1}) P_k

    with ``P_k``/``R_k`` the precision/recall of predicting "positive" for
    every score >= the k-th highest distinct score, and ``R_0 = 0``. Without
    tied scores this is the mean, over the positives, of the precision at
    each positive's rank (mmpretrain's ``_average_precision``); tied scores
    form one threshold, so the result does not depend on how a sort orders
    them (the definition of scikit-learn's ``average_precision_score`` and
    torchmetrics' ``average_precision``, which the official DeCUR code
    used).

    Args:
        scores (ArrayLike): Scores, higher = more likely positive.
        targets (ArrayLike): 1 (positive) or 0 (negative), same shape.

    Returns:
        float: AP in [0, 1]; NaN when there is no positive (undefined).

    Raises:
        ValueError: Shapes differ, a score is not finite, or a target is not
            0/1.
    """
    scores = torch.as_tensor(scores, dtype=torch.float64).flatten()
    targets = torch.as_tensor(targets, dtype=torch.float64).flatten()
    if scores.shape != targets.shape:
        raise ValueError(f'{scores.numel()} scores but {targets.numel()} '
                         'targets')
    if not bool(torch.isfinite(scores).all()):
        raise ValueError('average precision needs finite scores (the model '
                         'produced NaN/inf)')
    if not bool(((targets == 0) | (targets == 1)).all()):
        raise ValueError('targets must be 0 or 1')
    num_pos = float(targets.sum())
    if num_pos == 0:
        return math.nan
    order = torch.argsort(scores, descending=True, stable=True)
    scores, targets = scores[order], targets[order]
    true_pos = torch.cumsum(targets, 0)
    ranks = torch.arange(1, scores.numel() + 1, dtype=torch.float64)
    # One threshold per distinct score: the last position of each tie group.
    last = torch.ones_like(scores, dtype=torch.bool)
    last[:-1] = scores[1:] != scores[:-1]
    precision = true_pos[last] / ranks[last]
    recall = true_pos[last] / num_pos
    recall_gain = torch.diff(recall, prepend=recall.new_zeros(1))
    return float((recall_gain * precision).sum())


def multilabel_map(scores: ArrayLike, targets: ArrayLike) -> Dict:
    """Micro and macro mAP of an (N, C) score matrix.

    - micro: :func:`average_precision` of all N x C (sample, class) pairs
      ranked together (the paper's BigEarthNet metric);
    - macro: the mean over classes of the per-class AP, over the classes
      with at least one positive among the N samples. A class absent from
      the split has no defined AP; it is excluded (counting it as 0, as
      mmpretrain's ``AveragePrecision`` does, would make the score depend on
      which classes a split happens to lack).

    Args:
        scores (ArrayLike): (N, C) scores.
        targets (ArrayLike): (N, C) 0/1 targets.

    Returns:
        dict: ``micro`` and ``macro`` (floats in [0, 1]; macro is NaN if no
        class has a positive), ``per_class`` (list of C floats, NaN for
        absent classes) and ``absent`` (indices of the absent classes).
    """
    scores = torch.as_tensor(scores, dtype=torch.float64)
    targets = torch.as_tensor(targets, dtype=torch.float64)
    if scores.dim() != 2 or scores.shape != targets.shape:
        raise ValueError('scores and targets must both be (N, C), got '
                         f'{tuple(scores.shape)} and {tuple(targets.shape)}')
    per_class = [
        average_precision(scores[:, c], targets[:, c])
        for c in range(scores.shape[1])
    ]
    present = [ap for ap in per_class if not math.isnan(ap)]
    return dict(
        micro=average_precision(scores, targets),
        macro=sum(present) / len(present) if present else math.nan,
        per_class=per_class,
        absent=[c for c, ap in enumerate(per_class) if math.isnan(ap)])


@METRICS.register_module()
class MultiLabelMAP(BaseMetric):
    """Micro and macro mAP (%) of multi-label scores over the whole split.

    Every sample's scores (``pred_score``, e.g. sigmoid outputs of
    mmpretrain's ``MultiLabelLinearClsHead``) and targets (``gt_score``, or
    the multi-hot of ``gt_label``) are kept; the APs are computed once, at
    the end, from all of them (gathered from every rank by
    :class:`~mmengine.evaluator.BaseMetric`), not averaged over batches as
    the official DeCUR code did. See :func:`multilabel_map` for the
    definitions.

    Keys (with the prefix, e.g. ``multi-label/mAP_micro``):

    - ``mAP_micro``: AP of all (sample, class) pairs ranked together, in %;
    - ``mAP_macro``: mean per-class AP in %, over the classes with at least
      one positive in the split;
    - ``num_absent_classes``: how many classes were excluded from the macro
      mean (no positive in the split);
    - ``AP_classwise`` (if ``classwise``): per-class AP in %, None for
      absent classes.

    Args:
        classwise (bool): Also report the per-class APs. Defaults to False.
        collect_device (str): 'cpu' or 'gpu', for gathering across ranks.
            Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix (e.g. the split's name).
            Defaults to 'multi-label'.
    """
    default_prefix: Optional[str] = 'multi-label'

    def __init__(self,
                 classwise: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.classwise = classwise

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep the scores and targets of a batch (on the CPU).

        Args:
            data_batch: The batch (unused).
            data_samples (Sequence[dict]): Model outputs with ``pred_score``
                and ``gt_score`` or ``gt_label``.
        """
        for sample in data_samples:
            score = sample['pred_score'].detach().float().cpu()
            if 'gt_score' in sample:
                target = sample['gt_score'].detach().float().cpu()
            else:
                target = label_to_onehot(sample['gt_label'].cpu(),
                                         score.numel()).float()
            if target.shape != score.shape:
                raise ValueError(f'a sample has {score.numel()} scores but '
                                 f'{target.numel()} targets')
            self.results.append(dict(pred_score=score, gt_score=target))

    def compute_metrics(self, results: List[dict]) -> Dict:
        """mAP over all collected samples.

        Args:
            results (list[dict]): Every sample's scores and targets.

        Returns:
            dict: See the class docstring.
        """
        scores = torch.stack([r['pred_score'] for r in results])
        targets = torch.stack([r['gt_score'] for r in results])
        out = multilabel_map(scores, targets)
        metrics = dict(
            mAP_micro=100.0 * out['micro'],
            mAP_macro=100.0 * out['macro'],
            num_absent_classes=len(out['absent']))
        if self.classwise:
            metrics['AP_classwise'] = [
                None if math.isnan(ap) else 100.0 * ap
                for ap in out['per_class']
            ]
        return metrics

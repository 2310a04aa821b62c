# Copyright (c) mmdecur contributors. All rights reserved.
"""Per-dimension cross-modal alignment (paper Eq. 7, Fig. 5a)."""
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from mmdecur.models.losses import CrossCorrelation, Embedding


def alignment_per_dim(z1: torch.Tensor,
                      z2: torch.Tensor) -> Dict[str, np.ndarray]:
    """Diagonal of the cross-modal correlation and ``(1 - C_ii)^2``.

    Args:
        z1 (Tensor): Embeddings of modality 1, (N, K), one row per sample.
        z2 (Tensor): Embeddings of modality 2 for the same samples.

    Returns:
        dict: ``corr`` (C_ii) and ``loss`` ((1 - C_ii)^2), each (K,).
    """
    c = CrossCorrelation(
        Embedding(z1.double(), gather=False),
        Embedding(z2.double(), gather=False))
    corr = c.diagonal().cpu().numpy()
    return dict(corr=corr, loss=(1 - corr)**2)


def alignment_summary(per_dim: Dict[str, np.ndarray], dim_common: int,
                      bins: Sequence[float]) -> dict:
    """Summary numbers and histograms for common vs unique dimensions."""
    out = {}
    for name, dims in (('common', slice(0, dim_common)),
                       ('unique', slice(dim_common, None))):
        loss = per_dim['loss'][dims]
        corr = per_dim['corr'][dims]
        if loss.size == 0:
            continue
        counts, _ = np.histogram(np.clip(loss, bins[0], bins[-1]), bins=bins)
        out[name] = dict(
            num_dims=int(loss.size),
            mean_alignment_loss=float(loss.mean()),
            median_alignment_loss=float(np.median(loss)),
            mean_correlation=float(corr.mean()),
            mean_abs_correlation=float(np.abs(corr).mean()),
            histogram=counts.tolist())
    out['bins'] = [float(b) for b in bins]
    return out


def plot_alignment_histogram(curves: Dict[str, np.ndarray],
                             out_file: str,
                             bins: Sequence[float],
                             title: Optional[str] = None) -> None:
    """Histogram(s) of per-dimension alignment loss as % of dimensions.

    Args:
        curves (dict): Label -> per-dimension losses, e.g.
            ``{'common': ..., 'unique': ...}`` or two checkpoints.
        out_file (str): PNG path.
        bins (Sequence[float]): Bin edges; values beyond the last edge are
            counted in the last bin.
        title (str, optional): Figure title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    total = sum(len(v) for v in curves.values())
    width = (bins[1] - bins[0]) / (len(curves) + 1)
    for i, (label, values) in enumerate(curves.items()):
        counts, _ = np.histogram(np.clip(values, bins[0], bins[-1]), bins=bins)
        ax.bar(
            np.asarray(bins[:-1]) + (i + 0.5) * width,
            100 * counts / total,
            width=width,
            label=f'{label} ({len(values)} dims)')
    ax.set_xlabel('alignment loss $(1 - C_{ii})^2$')
    ax.set_ylabel('percentage of dimensions')
    ax.legend()
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)

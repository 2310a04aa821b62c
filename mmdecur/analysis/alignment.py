# Copyright (c) mmdecur contributors. All rights reserved.
"""Per-dimension cross-modal alignment (paper Eq. 7, Fig. 5a)."""
import csv
from typing import Dict, Mapping, Optional, Sequence

import numpy as np
import torch

from mmdecur.models.losses import CrossCorrelation, Embedding
from .embeddings import extract_embeddings


def require_common_split(model: torch.nn.Module) -> None:
    """Raise unless the model's loss splits common and unique dimensions.

    Args:
        model (nn.Module): A model with a ``loss_module``.

    Raises:
        TypeError: If ``model.loss_module`` has no ``num_common(K)`` (e.g.
            Barlow Twins, SimCLR, VICReg, CLIP), naming the model and loss.
    """
    num_common = getattr(
        getattr(model, 'loss_module', None), 'num_common', None)
    if not callable(num_common):
        raise TypeError(
            'the common/unique split needs a DeCUR model (a loss with '
            f'num_common); got {type(model).__name__} with loss '
            f'{type(getattr(model, "loss_module", None)).__name__}')


def dim_common_of(model: torch.nn.Module, dim: int) -> int:
    """Number of common dimensions ``Kc`` of a DeCUR-like model.

    Args:
        model (nn.Module): A model whose ``loss_module`` splits the embedding
            into common and unique dimensions (``num_common(K)``).
        dim (int): Embedding dimension ``K``.

    Returns:
        int: ``Kc``; the common dimensions are ``[0, Kc)``.

    Raises:
        TypeError: See :func:`require_common_split`.
    """
    require_common_split(model)
    return int(model.loss_module.num_common(dim))


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


def alignment_over_batches(
        z1: torch.Tensor,
        z2: torch.Tensor,
        batch_size: Optional[int] = None) -> Dict[str, np.ndarray]:
    """:func:`alignment_per_dim` per batch, averaged over batches.

    The training loss standardises every batch with that batch's own
    statistics, so ``C`` is computed the same way: consecutive chunks of
    ``batch_size`` samples. A last chunk shorter than ``batch_size`` is
    dropped: its ``C_ii`` would be noisier than the others'.

    Args:
        z1 (Tensor): Embeddings of modality 1, (N, K).
        z2 (Tensor): Embeddings of modality 2 for the same samples.
        batch_size (int, optional): Samples per batch; None = all N at once.

    Returns:
        dict: ``corr`` and ``loss`` (mean over batches of C_ii and of
        (1 - C_ii)^2, each (K,)), ``loss_std`` (their std over batches),
        ``num_batches`` and ``batch_size``.
    """
    if z1.shape != z2.shape or z1.dim() != 2:
        raise ValueError('need two (N, K) embeddings of equal shape, got '
                         f'{tuple(z1.shape)} and {tuple(z2.shape)}')
    n = z1.shape[0]
    size = n if not batch_size else min(int(batch_size), n)
    if size < 2:
        raise ValueError(f'need at least 2 samples per batch, got {size}')
    starts = range(0, n - size + 1, size)  # full chunks only
    per_batch = [
        alignment_per_dim(z1[s:s + size], z2[s:s + size]) for s in starts
    ]
    corr = np.stack([p['corr'] for p in per_batch])
    loss = np.stack([p['loss'] for p in per_batch])
    return dict(
        corr=corr.mean(0),
        loss=loss.mean(0),
        loss_std=loss.std(0),
        num_batches=len(per_batch),
        batch_size=size)


def _group_summary(loss: np.ndarray, corr: np.ndarray,
                   bins: Sequence[float]) -> dict:
    counts, _ = np.histogram(np.clip(loss, bins[0], bins[-1]), bins=bins)
    return dict(
        num_dims=int(loss.size),
        mean_alignment_loss=float(loss.mean()),
        median_alignment_loss=float(np.median(loss)),
        mean_correlation=float(corr.mean()),
        mean_abs_correlation=float(np.abs(corr).mean()),
        histogram=counts.tolist())


def alignment_summary(per_dim: Dict[str, np.ndarray],
                      dim_common: int,
                      bins: Sequence[float],
                      include_all: bool = False) -> dict:
    """Summary numbers and histograms for common vs unique dimensions.

    Args:
        per_dim (dict): ``corr`` and ``loss`` per dimension.
        dim_common (int): ``Kc``; the first ``Kc`` dimensions are common.
        bins (Sequence[float]): Histogram bin edges; losses beyond the last
            edge count in the last bin.
        include_all (bool): Also summarise all dimensions together under
            ``'all'``. Defaults to False.

    Returns:
        dict: ``common``/``unique`` (those that are non-empty), optionally
        ``all``, each with ``num_dims``, mean/median alignment loss, mean
        (absolute) correlation and ``histogram`` counts; and ``bins``.
    """
    out = {}
    groups = [('common', slice(0, dim_common)),
              ('unique', slice(dim_common, None))]
    if include_all:
        groups.append(('all', slice(None)))
    for name, dims in groups:
        loss = per_dim['loss'][dims]
        if loss.size:
            out[name] = _group_summary(loss, per_dim['corr'][dims], bins)
    out['bins'] = [float(b) for b in bins]
    return out


def model_alignment(model: torch.nn.Module,
                    dataloader,
                    batch_size: Optional[int] = None,
                    max_samples: Optional[int] = None,
                    require_split: bool = True,
                    progress: bool = True) -> dict:
    """Per-dimension cross-modal alignment of a model's first two modalities.

    Args:
        model (nn.Module): A :class:`MultiModalSelfSupervisor`.
        dataloader: Evaluation data (one view per modality).
        batch_size (int, optional): Samples per correlation batch (see
            :func:`alignment_over_batches`); None = the loader's batch size.
        max_samples (int, optional): Cap on the samples used.
        require_split (bool): Raise if the model has no common/unique split
            (:func:`dim_common_of`); otherwise such a model counts all its
            dimensions as one group. Defaults to True.
        progress (bool): Show a progress bar. Defaults to True.

    Returns:
        dict: ``modalities``, ``num_samples``, ``embedding_dim``,
        ``dim_common`` (None without a split) and ``per_dim``
        (:func:`alignment_over_batches`).
    """
    if len(model.modalities) < 2:
        raise ValueError('cross-modal alignment needs two modalities, got '
                         f'{model.modalities}')
    try:
        # Fail before the (slow) embedding pass.
        require_common_split(model)
        split = True
    except TypeError:
        if require_split:
            raise
        split = False
    m1, m2 = model.modalities[:2]
    data = extract_embeddings(
        model, dataloader, max_samples=max_samples, progress=progress)
    z1, z2 = data['embeddings'][m1], data['embeddings'][m2]
    dim = z1.shape[1]
    batch_size = batch_size or getattr(dataloader, 'batch_size', None)
    return dict(
        modalities=[m1, m2],
        num_samples=int(z1.shape[0]),
        embedding_dim=int(dim),
        dim_common=dim_common_of(model, dim) if split else None,
        per_dim=alignment_over_batches(z1, z2, batch_size))


def alignment_comparison(results: Mapping[str, dict],
                         bins: Sequence[float]) -> dict:
    """JSON-ready summary of :func:`model_alignment` results.

    Args:
        results (Mapping[str, dict]): Label (e.g. ``'decoup.'``,
            ``'w/o decoup.'``) -> :func:`model_alignment` result.
        bins (Sequence[float]): Histogram bin edges.

    Returns:
        dict: ``bins`` and per label the run's sizes, ``num_batches``,
        ``batch_size`` and the :func:`alignment_summary` groups
        (``common``, ``unique``, ``all``).
    """
    out = dict(bins=[float(b) for b in bins], models={})
    for label, res in results.items():
        per_dim = res['per_dim']
        kc = res['dim_common']
        summary = alignment_summary(
            per_dim,
            res['embedding_dim'] if kc is None else kc,
            bins,
            include_all=True)
        summary.pop('bins')
        if kc is None:  # no split: only the 'all' group is meaningful
            summary.pop('common', None)
        out['models'][label] = dict(
            modalities=res['modalities'],
            num_samples=res['num_samples'],
            embedding_dim=res['embedding_dim'],
            dim_common=kc,
            num_batches=int(per_dim['num_batches']),
            batch_size=int(per_dim['batch_size']),
            **summary)
    return out


def save_alignment_csv(results: Mapping[str, dict], out_file: str) -> None:
    """One row per (model, dimension): group, mean C_ii, mean loss, std."""
    with open(out_file, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(
            ['model', 'dim', 'group', 'corr', 'alignment_loss', 'loss_std'])
        for label, res in results.items():
            per_dim = res['per_dim']
            kc = res['dim_common']
            for i, (c, loss, std) in enumerate(
                    zip(per_dim['corr'], per_dim['loss'],
                        per_dim['loss_std'])):
                group = 'all' if kc is None else (
                    'common' if i < kc else 'unique')
                writer.writerow(
                    [label, i, group, f'{c:.6g}', f'{loss:.6g}', f'{std:.6g}'])


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


def plot_alignment_comparison(results: Mapping[str, dict],
                              out_file: str,
                              bins: Sequence[float],
                              title: Optional[str] = None) -> None:
    """Fig. 5a: alignment-loss histogram of one or more models.

    Each model is one bar per bin, as a percentage of its own dimensions;
    a model with a common/unique split has its bar stacked (common below,
    unique hatched above), so the bar height is the whole-model histogram
    that the paper compares.

    Args:
        results (Mapping[str, dict]): Label -> :func:`model_alignment`.
        out_file (str): PNG path.
        bins (Sequence[float]): Bin edges; losses beyond the last edge count
            in the last bin.
        title (str, optional): Figure title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    bins = np.asarray(bins, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    width = (bins[1] - bins[0]) / (len(results) + 1)
    colors = plt.rcParams['axes.prop_cycle'].by_key()['color']
    for i, (label, res) in enumerate(results.items()):
        loss = np.clip(res['per_dim']['loss'], bins[0], bins[-1])
        kc = res['dim_common']
        x = bins[:-1] + (i + 1) * width
        color = colors[i % len(colors)]
        if kc is None or kc == loss.size:
            counts, _ = np.histogram(loss, bins=bins)
            ax.bar(
                x,
                100 * counts / loss.size,
                width=width,
                color=color,
                label=f'{label}: all {loss.size} dims')
            continue
        common, _ = np.histogram(loss[:kc], bins=bins)
        unique, _ = np.histogram(loss[kc:], bins=bins)
        ax.bar(
            x,
            100 * common / loss.size,
            width=width,
            color=color,
            label=f'{label}: {kc} common dims')
        ax.bar(
            x,
            100 * unique / loss.size,
            bottom=100 * common / loss.size,
            width=width,
            color=color,
            alpha=0.45,
            hatch='//',
            label=f'{label}: {loss.size - kc} unique dims')
    ax.set_xlim(bins[0], bins[-1])
    ax.set_xlabel('alignment loss $(1 - C_{ii})^2$ (last bin: $\\geq$ '
                  f'{bins[-2]:g})')
    ax.set_ylabel('percentage of dimensions')
    ax.legend(fontsize='small')
    if title:
        ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)

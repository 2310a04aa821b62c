# Copyright (c) mmdecur contributors. All rights reserved.
"""t-SNE of embedding *dimensions* (paper Fig. 1)."""
import csv
from typing import Dict, Optional, Sequence

import numpy as np
import torch

#: Marker and colour per (modality index, group), as in the paper's Fig. 1:
#: unique = circles, common = cross (modality 1) / square (modality 2).
_STYLE = {
    (0, 'common'): dict(marker='x', color='tab:red'),
    (1, 'common'): dict(marker='s', color='tab:blue', facecolors='none'),
    (0, 'unique'): dict(marker='o', color='tab:red', facecolors='none'),
    (1, 'unique'): dict(marker='o', color='tab:blue', facecolors='none'),
}


def dimension_vectors(z: torch.Tensor, center: bool = True) -> np.ndarray:
    """Each embedding dimension as a unit vector over the samples.

    Args:
        z (Tensor | np.ndarray): Embeddings (N, K).
        center (bool): Subtract each dimension's mean over the samples
            first. Then the squared distance of two dimensions is
            ``2 - 2 * corr`` (the correlation the loss acts on), instead of
            being dominated by the dimensions' means. Defaults to True.

    Returns:
        np.ndarray: (K, N) rows of unit L2 norm (a constant dimension stays
        all-zero).
    """
    v = np.asarray(z, dtype=np.float64).T.copy()
    if center:
        v -= v.mean(1, keepdims=True)
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(norm, 1e-12)


def tsne_of_dimensions(z1: torch.Tensor,
                       z2: torch.Tensor,
                       dim_common: int,
                       modalities: Sequence[str] = ('m1', 'm2'),
                       perplexity: float = 40.,
                       max_iter: int = 2000,
                       center: bool = True,
                       seed: int = 0) -> Dict[str, object]:
    """Embed every dimension of two modalities' embeddings in 2-D.

    The points are ``[z1_common, z2_common, z1_unique, z2_unique]``, one per
    embedding dimension, each described by its values over the N samples
    (:func:`dimension_vectors`), and embedded by scikit-learn's t-SNE. With
    a working decoupling, the common dimensions of the two modalities
    overlap and their unique dimensions form separate clusters.

    Args:
        z1 (Tensor): Embeddings of modality 1, (N, K).
        z2 (Tensor): Embeddings of modality 2 for the same samples.
        dim_common (int): ``Kc``; dimensions ``[0, Kc)`` are common.
        modalities (Sequence[str]): Names of the two modalities.
        perplexity (float): t-SNE perplexity; lowered to
            ``(num_points - 1) / 3`` for few points. Defaults to 40 (the
            official notebook).
        max_iter (int): Optimisation iterations. Defaults to 2000.
        center (bool): See :func:`dimension_vectors`. Defaults to True.
        seed (int): Random state. Defaults to 0.

    Returns:
        dict: ``coords`` (2K, 2), and per point ``modality`` (name),
        ``group`` (``'common'``/``'unique'``) and ``dim`` (index in the
        embedding); ``perplexity`` (as used).
    """
    from sklearn.manifold import TSNE

    z1, z2 = np.asarray(z1), np.asarray(z2)
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError('need two (N, K) embeddings of equal shape, got '
                         f'{z1.shape} and {z2.shape}')
    dim = z1.shape[1]
    if not 0 <= dim_common <= dim:
        raise ValueError(f'dim_common={dim_common} outside [0, K={dim}]')
    v1, v2 = dimension_vectors(z1, center), dimension_vectors(z2, center)
    kc = dim_common
    blocks = [(0, 'common', v1[:kc]), (1, 'common', v2[:kc]),
              (0, 'unique', v1[kc:]), (1, 'unique', v2[kc:])]
    points = np.concatenate([b[2] for b in blocks])
    modality, group, dims = [], [], []
    for i, name, block in blocks:
        offset = 0 if name == 'common' else kc
        modality += [modalities[i]] * len(block)
        group += [name] * len(block)
        dims += list(range(offset, offset + len(block)))
    n = len(points)
    if n < 4:
        raise ValueError(f't-SNE needs at least 4 points, got {n}')
    perplexity = float(min(perplexity, (n - 1) / 3))
    coords = TSNE(
        n_components=2,
        perplexity=perplexity,
        max_iter=max_iter,
        init='pca',
        learning_rate='auto',
        random_state=seed).fit_transform(points)
    return dict(
        coords=coords,
        modality=modality,
        group=group,
        dim=dims,
        modalities=list(modalities),
        perplexity=perplexity)


def save_tsne_csv(result: dict, out_file: str) -> None:
    """One row per dimension: ``modality, group, dim, x, y``."""
    with open(out_file, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['modality', 'group', 'dim', 'x', 'y'])
        for m, g, d, (x, y) in zip(result['modality'], result['group'],
                                   result['dim'], result['coords']):
            writer.writerow([m, g, d, f'{x:.6g}', f'{y:.6g}'])


def plot_tsne(result: dict,
              out_file: str,
              title: Optional[str] = None) -> None:
    """Scatter plot of :func:`tsne_of_dimensions` in the style of Fig. 1.

    Args:
        result (dict): Output of :func:`tsne_of_dimensions`.
        out_file (str): PNG path.
        title (str, optional): Figure title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    coords = np.asarray(result['coords'])
    modality = np.asarray(result['modality'])
    group = np.asarray(result['group'])
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=100)
    for (i, name), style in _STYLE.items():
        m = result['modalities'][i]
        sel = (modality == m) & (group == name)
        if not sel.any():
            continue
        style = dict(style)
        if style.pop('facecolors', None) == 'none':
            style = dict(
                marker=style['marker'],
                facecolors='none',
                edgecolors=style['color'])
        ax.scatter(
            coords[sel, 0],
            coords[sel, 1],
            s=14,
            linewidths=0.8,
            label=f'{m}-{name} ({sel.sum()})',
            **style)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize='small', markerscale=1.5)
    ax.set_title(title or 't-SNE of embedding dimensions')
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)

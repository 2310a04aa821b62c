# Copyright (c) mmdecur contributors. All rights reserved.
"""Deformable sampling points of RDA backbones over their inputs and the
first principal component of the feature map (paper Fig. 5b)."""
import csv
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

from .saliency import display_image


def check_rda(model: nn.Module, modality: str) -> List[str]:
    """The deformable-attention stages of a modality's backbone.

    Args:
        model (nn.Module): A :class:`MultiModalSelfSupervisor`.
        modality (str): Modality name.

    Returns:
        list[str]: Stage names, e.g. ``['layer3', 'layer4']``.

    Raises:
        ValueError: If the backbone has no deformable-attention stages.
    """
    backbone = model.backbones[modality]
    stages = list(getattr(backbone, 'rda_layers', None) or [])
    if not stages or not hasattr(backbone, 'forward_deform_points'):
        raise ValueError(
            f'the {modality!r} backbone ({type(backbone).__name__}'
            f'{getattr(backbone, "depth", "")}) has no deformable-attention '
            '(RDA) stages, so there are no deformed points to show; use a '
            'checkpoint of a model built with backbone.rda (e.g. '
            'configs/decur/demo_synthetic_rda.py)')
    return stages


def feature_pc1(feature: torch.Tensor) -> torch.Tensor:
    """First principal component of feature maps, jointly over a batch.

    The channel vectors of all positions of all images are centred and
    projected on their first principal direction, so the values are
    comparable across the images of the batch. The sign is chosen so that
    the component correlates positively with the feature norm.

    Args:
        feature (Tensor): (B, C, H, W).

    Returns:
        Tensor: (B, H, W).
    """
    b, c, h, w = feature.shape
    x = feature.detach().double().permute(0, 2, 3, 1).reshape(-1, c)
    x = x - x.mean(0)
    if x.shape[0] < 2 or not x.abs().sum():
        return torch.zeros(b, h, w, dtype=feature.dtype)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    pc = x @ vh[0]
    norm = feature.detach().double().norm(dim=1).reshape(-1)
    if (pc * (norm - norm.mean())).sum() < 0:
        pc = -pc
    return pc.reshape(b, h, w).to(feature.dtype)


def to_pixels(points: torch.Tensor, map_size: Sequence[int],
              image_size: Sequence[int]) -> torch.Tensor:
    """Normalised (y, x) points of a stage map -> input pixel coordinates.

    Points follow ``grid_sample(align_corners=True)`` on the stage map: -1
    and 1 are the centres of its first and last pixel. A stage pixel ``i``
    covers input pixels ``[i * s, (i + 1) * s)`` for the stride ``s =
    image / map``, so its centre is input pixel ``(i + 0.5) * s - 0.5``.

    Args:
        points (Tensor): (..., 2) normalised (y, x).
        map_size (Sequence[int]): (H, W) of the stage map.
        image_size (Sequence[int]): (H, W) of the input.

    Returns:
        Tensor: (..., 2) (y, x) in input pixels (0 = centre of the first).
    """
    out = []
    for k in range(2):
        n, size = map_size[k], image_size[k]
        cell = (points[..., k] + 1) / 2 * (n - 1)
        out.append((cell + 0.5) * (size / n) - 0.5)
    return torch.stack(out, dim=-1)


@torch.no_grad()
def deform_points(
    model: nn.Module,
    modality: str,
    x: torch.Tensor,
    stages: Optional[Sequence[str]] = None
) -> Dict[str, Dict[str, torch.Tensor]]:
    """Deformed sampling points, reference grid and feature PC1 per stage.

    Args:
        model (nn.Module): A model whose ``modality`` backbone has
            deformable-attention stages (:func:`check_rda`).
        modality (str): Modality of ``x``.
        x (Tensor): Normalised inputs (B, C, H, W).
        stages (Sequence[str], optional): Which attention stages; default
            all.

    Returns:
        dict: Stage -> ``pos`` and ``ref`` ((B, groups, Hk, Wk, 2)
        normalised (y, x) on the stage map), ``pos_px`` and ``ref_px`` (the
        same in input pixels, :func:`to_pixels`), ``pc1`` ((B, H, W),
        :func:`feature_pc1`) and ``map_size``. ``ref`` is where the block
        samples with zero offsets: DAT's reference grid, clamped to the
        map like the deformed points when offsets are unbounded (the grid
        itself slightly overshoots [-1, 1]).
    """
    available = check_rda(model, modality)
    stages = list(stages or available)
    missing = [s for s in stages if s not in available]
    if missing:
        raise ValueError(f'the {modality!r} backbone has deformable '
                         f'attention after {available}, not {missing}')
    backbone = model.backbones[modality]
    raw = backbone.forward_deform_points(x)
    out = {}
    for stage in stages:
        pos, ref = raw[stage]['pos'], raw[stage]['ref']
        feature = raw[stage]['feature']
        block = getattr(backbone, f'da_{stage}', None)
        if getattr(block, 'offset_range_factor', -1) < 0:
            ref = ref.clamp(-1., 1.)
        size = feature.shape[-2:]
        out[stage] = dict(
            pos=pos,
            ref=ref,
            pos_px=to_pixels(pos, size, x.shape[-2:]),
            ref_px=to_pixels(ref, size, x.shape[-2:]),
            pc1=feature_pc1(feature),
            map_size=tuple(size))
    return out


def points_summary(points: Mapping[str, Mapping[str, dict]]) -> dict:
    """Offset statistics per modality and stage.

    Args:
        points (Mapping): Modality -> :func:`deform_points` output.

    Returns:
        dict: Modality -> stage -> ``num_groups``, ``grid`` (Hk, Wk),
        ``map_size`` and ``mean_offset_cells`` / ``max_offset_cells``, the
        offset length in stage-map pixels.
    """
    out = {}
    for m, per_stage in points.items():
        out[m] = {}
        for stage, p in per_stage.items():
            h, w = p['map_size']
            scale = torch.tensor([max(h - 1, 1) / 2, max(w - 1, 1) / 2])
            cells = ((p['pos'] - p['ref']) * scale).norm(dim=-1)
            out[m][stage] = dict(
                num_groups=int(p['pos'].shape[1]),
                grid=list(p['pos'].shape[2:4]),
                map_size=[int(h), int(w)],
                mean_offset_cells=float(cells.mean()),
                max_offset_cells=float(cells.max()))
    return out


def save_points_csv(points: Mapping[str, Mapping[str, dict]],
                    out_file: str) -> None:
    """One row per point: sample, modality, stage, group, grid index,
    reference and deformed (y, x) in input pixels."""
    with open(out_file, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow([
            'sample', 'modality', 'stage', 'group', 'i', 'j', 'ref_y', 'ref_x',
            'pos_y', 'pos_x'
        ])
        for m, per_stage in points.items():
            for stage, p in per_stage.items():
                ref, pos = p['ref_px'], p['pos_px']
                for idx in np.ndindex(*pos.shape[:4]):
                    r, q = ref[idx].tolist(), pos[idx].tolist()
                    writer.writerow([idx[0], m, stage, *idx[1:]] +
                                    [f'{v:.4g}' for v in r + q])


def plot_deform_points(inputs: Mapping[str, torch.Tensor],
                       points: Mapping[str, Mapping[str, dict]],
                       stage: str,
                       out_file: str,
                       band_names: Optional[Mapping[str,
                                                    Sequence[str]]] = None,
                       title: Optional[str] = None) -> None:
    """Fig. 5b: per sample and modality, the input and the feature PC1, both
    with the reference grid (+) and the deformed points (dots, one colour
    per offset group, a line from each reference point).

    Args:
        inputs (Mapping[str, Tensor]): Modality -> (B, C, H, W) inputs.
        points (Mapping): Modality -> :func:`deform_points` output.
        stage (str): Which stage to show.
        out_file (str): PNG path.
        band_names (Mapping, optional): Modality -> band names (for RGB
            display).
        title (str, optional): Figure title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    mods = list(points)
    num = min(inputs[m].shape[0] for m in mods)
    cols = 2 * len(mods)
    fig, axes = plt.subplots(
        num, cols, figsize=(2.2 * cols, 2.2 * num + 0.4), squeeze=False)
    colors = plt.get_cmap('tab10')
    for r in range(num):
        for j, m in enumerate(mods):
            p = points[m][stage]
            h, w = inputs[m].shape[-2:]
            img = display_image(inputs[m][r], (band_names or {}).get(m))
            # Pixel centres at integer coordinates, as in to_pixels.
            extent = (-0.5, w - 0.5, h - 0.5, -0.5)
            panels = ((img, None if img.ndim == 3 else 'gray', m),
                      (p['pc1'][r].numpy(), 'viridis', f'{m} {stage} PC1'))
            for k, (panel, cmap, label) in enumerate(panels):
                ax = axes[r][2 * j + k]
                ax.imshow(
                    panel,
                    cmap=cmap,
                    extent=extent,
                    interpolation='nearest' if k else 'antialiased')
                ref, pos = p['ref_px'][r], p['pos_px'][r]
                for g in range(pos.shape[0]):
                    ry, rx = ref[g, ..., 0].flatten(), ref[g, ..., 1].flatten()
                    py, px = pos[g, ..., 0].flatten(), pos[g, ..., 1].flatten()
                    color = colors(g % 10)
                    ax.plot(
                        np.stack([rx, px]),
                        np.stack([ry, py]),
                        color=color,
                        linewidth=0.8)
                    ax.scatter(
                        px,
                        py,
                        s=12,
                        color=color,
                        edgecolors='k',
                        linewidths=0.3,
                        zorder=3)
                ax.scatter(
                    ref[..., 1].flatten(),
                    ref[..., 0].flatten(),
                    marker='+',
                    s=20,
                    color='w',
                    linewidths=0.8,
                    zorder=2)
                ax.set_xlim(-0.5, w - 0.5)
                ax.set_ylim(h - 0.5, -0.5)
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(label, fontsize=8)
    fig.suptitle(
        title or f'deformable points after {stage} (+: reference grid, '
        'dots: deformed, colour: offset group)',
        fontsize=8)
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)

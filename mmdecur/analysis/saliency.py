# Copyright (c) mmdecur contributors. All rights reserved.
"""Spatial (GradCAM) and spectral (Integrated Gradients) saliency of the
common and unique embedding dimensions (paper Sec. 7, Fig. 6).

Targets: for an input ``x`` of modality ``m``, the projector embedding
``z = embed(m, x)`` (B, K) is reduced to two scalars per sample,
``target 0 = mean(z[:, :Kc])`` ("common") and ``target 1 = mean(z[:, Kc:])``
("unique"), and each is attributed separately.

- GradCAM (captum ``LayerGradCam``, ReLU'd) on a convolutional layer of the
  backbone gives a spatial map per sample and target. The **overlap score**
  of the two modalities' maps ``a``, ``b`` of the same sample and target,
  both resized to modality 1's input size, is the histogram intersection of
  the maps normalised to unit sum::

      overlap(a, b) = sum_p min(a_p / sum(a), b_p / sum(b))   in [0, 1]

  1 for maps of the same shape (up to scale), 0 for disjoint supports; it is
  undefined (NaN, left out of the statistics) where a map is all zero.
- Integrated Gradients (captum, ``n_steps=50``, zero baseline in the
  normalised input space, i.e. the per-band dataset mean) gives a per-pixel,
  per-band attribution. The **band importance** of band ``c`` is its share
  of the total absolute attribution of the sample::

      imp_c = sum_p |IG_c(p)| / sum_c' sum_p |IG_c'(p)|     (sums to 1)

  Absolute values are summed so that positive and negative contributions
  within one band do not cancel.
"""
import csv
import warnings
from typing import Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.utils import ProgressBar

from .alignment import dim_common_of, require_common_split

TARGETS = ('common', 'unique')


class CommonUniqueTargets(nn.Module):
    """``x -> (B, 2)``: mean of the common and of the unique embedding dims.

    Args:
        model (nn.Module): A DeCUR model (``embed`` and a common/unique
            split).
        modality (str): Which modality ``x`` is.
        dim_common (int): ``Kc``; needs ``0 < Kc < K``.
    """

    def __init__(self, model: nn.Module, modality: str,
                 dim_common: int) -> None:
        super().__init__()
        self.model = model
        self.modality = modality
        self.dim_common = int(dim_common)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.model.to_split_order(self.model.embed(self.modality, x))
        kc = self.dim_common
        if not 0 < kc < z.shape[1]:
            raise ValueError(
                f'common/unique saliency needs 0 < Kc < K, but the model '
                f'has Kc={kc} of K={z.shape[1]} dimensions (a model '
                'without decoupling has no unique dimensions)')
        return torch.stack([z[:, :kc].mean(1), z[:, kc:].mean(1)], dim=1)


def default_gradcam_layer(backbone: nn.Module) -> str:
    """Name (relative to the backbone) of the last conv of the last stage.

    Args:
        backbone (nn.Module): A ResNet-like backbone with ``res_layers``.

    Returns:
        str: E.g. ``'layer4.1.conv2'`` (ResNet-18) or ``'layer4.2.conv3'``
        (ResNet-50).

    Raises:
        ValueError: For backbones without convolutional stages (MiT, ViT).
    """
    stages = getattr(backbone, 'res_layers', None)
    if not stages:
        raise ValueError(
            f'GradCAM is unsupported for {type(backbone).__name__}: it needs '
            'a convolutional (ResNet) backbone; give layer=... naming a '
            'convolution whose output is a (B, C, H, W) map')
    stage = getattr(backbone, stages[-1])
    block = stage[len(stage) - 1]
    convs = [
        name for name, mod in block.named_modules()
        if isinstance(mod, nn.Conv2d) and 'downsample' not in name
    ]
    return f'{stages[-1]}.{len(stage) - 1}.{convs[-1]}'


def _layer(model: nn.Module, modality: str, layer: Optional[str]):
    backbone = model.backbones[modality]
    name = layer or default_gradcam_layer(backbone)
    try:
        return name, backbone.get_submodule(name)
    except AttributeError:
        raise ValueError(f'the {modality!r} backbone '
                         f'({type(backbone).__name__}) has no layer '
                         f'{name!r}') from None


def gradcam_maps(model: nn.Module,
                 modality: str,
                 x: torch.Tensor,
                 dim_common: int,
                 layer: Optional[str] = None) -> torch.Tensor:
    """ReLU'd GradCAM maps of the common and unique targets.

    Args:
        model (nn.Module): DeCUR model in eval mode.
        modality (str): Modality of ``x``.
        x (Tensor): Normalised inputs (B, C, H, W).
        dim_common (int): ``Kc``.
        layer (str, optional): Backbone layer name (e.g.
            ``'layer4.1.conv2'``); default :func:`default_gradcam_layer`.

    Returns:
        Tensor: (B, 2, h, w) maps at the layer's resolution (index 0:
        common, 1: unique).
    """
    from captum.attr import LayerGradCam

    name, module = _layer(model, modality, layer)
    cam = LayerGradCam(
        CommonUniqueTargets(model, modality, dim_common), module)
    maps = []
    with torch.enable_grad():
        for target in range(len(TARGETS)):
            attr = cam.attribute(x, target=target, relu_attributions=True)
            if not isinstance(attr, torch.Tensor) or attr.dim() != 4:
                raise ValueError(
                    f'GradCAM is unsupported on layer {name!r} of the '
                    f'{modality!r} backbone: its output is not a (B, C, H, '
                    'W) feature map')
            maps.append(attr.detach()[:, 0])
    return torch.stack(maps, dim=1)


def band_importance(
        model: nn.Module,
        modality: str,
        x: torch.Tensor,
        dim_common: int,
        n_steps: int = 50,
        internal_batch_size: Optional[int] = 512) -> Dict[str, torch.Tensor]:
    """Per-band Integrated-Gradients importance of the two targets.

    Args:
        model (nn.Module): DeCUR model in eval mode.
        modality (str): Modality of ``x``.
        x (Tensor): Normalised inputs (B, C, H, W).
        dim_common (int): ``Kc``.
        n_steps (int): Integration steps. Defaults to 50.
        internal_batch_size (int, optional): Images per forward pass inside
            captum (memory bound). Defaults to 512.

    Returns:
        dict: ``importance`` (B, 2, C), each row summing to 1 (NaN for an
        all-zero attribution), see the module docstring; ``delta`` (B, 2),
        captum's completeness error ``sum(IG) - (f(x) - f(0))``.
    """
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(CommonUniqueTargets(model, modality, dim_common))
    importance, delta = [], []
    with torch.enable_grad():
        for target in range(len(TARGETS)):
            attr, err = ig.attribute(
                x,
                baselines=torch.zeros_like(x),
                target=target,
                n_steps=n_steps,
                internal_batch_size=internal_batch_size,
                return_convergence_delta=True)
            per_band = attr.detach().abs().sum((2, 3)).double()
            total = per_band.sum(1, keepdim=True)
            importance.append(
                torch.where(total > 0, per_band / total,
                            torch.full_like(per_band, float('nan'))))
            delta.append(err.detach())
    return dict(
        importance=torch.stack(importance, 1).float(),
        delta=torch.stack(delta, 1).float())


def overlap_score(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Histogram intersection of two non-negative maps (module docstring).

    Args:
        a (Tensor): Maps (..., H, W), non-negative.
        b (Tensor): Maps of the same shape.

    Returns:
        Tensor: (...) scores in [0, 1]; NaN where a map sums to zero.
    """
    if a.shape != b.shape:
        raise ValueError(f'maps differ in shape: {tuple(a.shape)} vs '
                         f'{tuple(b.shape)}')
    if (a < 0).any() or (b < 0).any():
        raise ValueError('overlap_score needs non-negative maps')
    a = a.flatten(-2).double()
    b = b.flatten(-2).double()
    sa, sb = a.sum(-1, keepdim=True), b.sum(-1, keepdim=True)
    score = torch.minimum(a / sa.clamp_min(1e-300),
                          b / sb.clamp_min(1e-300)).sum(-1)
    undefined = (sa[..., 0] <= 0) | (sb[..., 0] <= 0)
    return score.masked_fill(undefined, float('nan')).clamp(0., 1.)


def band_names_of(
        dataset,
        modality: str,
        num_bands: int,
        overrides: Optional[Mapping[str, Sequence[str]]] = None) -> List[str]:
    """Names of a modality's bands, in input order.

    Looked up in ``overrides``, then the dataset's ``metainfo['bands']``
    (e.g. BigEarthNet), then the SSL4EO-S12 band lists for SSL4EO-S12
    datasets; an ``'rgb'`` modality with 3 bands is ``R, G, B`` and a
    one-band modality is named after itself; otherwise ``band0, band1, ...``.

    Args:
        dataset: The (possibly wrapped) dataset.
        modality (str): Modality name.
        num_bands (int): Bands of the model input; names of another length
            are ignored.
        overrides (Mapping, optional): Modality -> names.

    Returns:
        list[str]: ``num_bands`` names.
    """
    candidates = []
    if overrides and modality in overrides:
        candidates.append(overrides[modality])
    seen = set()
    while dataset is not None and id(dataset) not in seen:
        seen.add(id(dataset))
        bands = (getattr(dataset, 'metainfo', None) or {}).get('bands')
        if isinstance(bands, Mapping) and modality in bands:
            candidates.append(bands[modality])
        if type(dataset).__name__.startswith('SSL4EOS12'):
            from mmdecur.datasets.ssl4eo_s12 import SSL4EO_S12_BANDS
            if modality in SSL4EO_S12_BANDS:
                candidates.append(SSL4EO_S12_BANDS[modality])
        dataset = getattr(dataset, 'dataset', None)
    if modality.lower() == 'rgb':
        candidates.append(('R', 'G', 'B'))
    candidates.append((modality, ))
    for names in candidates:
        if len(names) == num_bands:
            return [str(n) for n in names]
    return [f'band{i}' for i in range(num_bands)]


def saliency_statistics(model: nn.Module,
                        dataloader,
                        layer: Optional[str] = None,
                        n_steps: int = 50,
                        max_samples: Optional[int] = None,
                        internal_batch_size: Optional[int] = 512,
                        num_examples: int = 4,
                        band_names: Optional[Mapping[str,
                                                     Sequence[str]]] = None,
                        progress: bool = True) -> dict:
    """Dataset-level GradCAM overlap and IG band importance (Fig. 6).

    Args:
        model (nn.Module): A two-modality DeCUR model (eval mode).
        dataloader: Evaluation data (one view per modality).
        layer (str, optional): GradCAM layer of both backbones; default
            :func:`default_gradcam_layer`.
        n_steps (int): Integrated-Gradients steps. Defaults to 50.
        max_samples (int, optional): Cap on the samples used.
        internal_batch_size (int, optional): See :func:`band_importance`.
        num_examples (int): Samples whose inputs and GradCAM maps are kept
            for :func:`plot_saliency_examples`. Defaults to 4.
        band_names (Mapping, optional): Overrides for
            :func:`band_names_of`.
        progress (bool): Show a progress bar over samples. Defaults to True.

    Returns:
        dict: ``modalities``, ``layer``, ``n_steps``, ``dim_common``,
        ``embedding_dim``, ``num_samples``; ``overlap`` (target -> (N,)
        scores); ``band_importance`` (modality -> target -> (N, C));
        ``band_names`` (modality -> names); ``convergence_delta``
        (modality -> target -> mean |delta|); ``examples`` (``inputs``:
        modality -> (E, C, H, W), ``maps``: modality -> (E, 2, H, W)).
    """
    if len(model.modalities) < 2:
        raise ValueError('saliency overlap needs two modalities, got '
                         f'{model.modalities}')
    require_common_split(model)  # fail before the slow loop
    model.eval()
    mods = list(model.modalities[:2])
    layers = {m: _layer(model, m, layer)[0] for m in mods}
    total = len(dataloader.dataset)
    if max_samples is not None:
        total = min(total, max_samples)
    bar = ProgressBar(total) if progress else None
    overlap = {t: [] for t in TARGETS}
    importance = {m: [] for m in mods}
    delta = {m: [] for m in mods}
    examples = dict(inputs={m: [] for m in mods}, maps={m: [] for m in mods})
    kc = dim = None
    seen = 0
    warned = set()
    for batch in dataloader:
        data = model.data_preprocessor(batch, False)
        inputs = {}
        for m in mods:
            views = data['inputs'][m]
            x = views if isinstance(views, torch.Tensor) else views[0]
            inputs[m] = x[:total - seen]
        if kc is None:
            with torch.no_grad():
                dim = model.embed(mods[0], inputs[mods[0]][:1]).shape[1]
            kc = dim_common_of(model, dim)
        size = inputs[mods[0]].shape[-2:]
        maps = {}
        for m in mods:
            x = inputs[m]
            raw = gradcam_maps(model, m, x, kc, layers[m])
            if raw.shape[-2:].numel() == 1 and m not in warned:
                warned.add(m)
                warnings.warn(
                    f'GradCAM layer {layers[m]!r} of the {m!r} backbone '
                    f'gives 1x1 maps at {tuple(x.shape[-2:])} px input: '
                    'every overlap score is 1 or undefined; choose an '
                    "earlier layer (e.g. layer='layer2.1.conv2')")
            maps[m] = F.interpolate(
                raw, size=size, mode='bilinear', align_corners=False)
            ig = band_importance(model, m, x, kc, n_steps, internal_batch_size)
            importance[m].append(ig['importance'].cpu())
            delta[m].append(ig['delta'].abs().cpu())
            keep = num_examples - sum(len(e) for e in examples['inputs'][m])
            if keep > 0:
                examples['inputs'][m].append(x[:keep].detach().cpu())
                examples['maps'][m].append(
                    F.interpolate(
                        raw[:keep],
                        size=x.shape[-2:],
                        mode='bilinear',
                        align_corners=False).cpu())
        for i, t in enumerate(TARGETS):
            overlap[t].append(
                overlap_score(maps[mods[0]][:, i], maps[mods[1]][:, i]).cpu())
        n = inputs[mods[0]].shape[0]
        seen += n
        if bar is not None:
            bar.update(n)
        if seen >= total:
            break
    if bar is not None:
        print()
    if kc is None:
        raise ValueError('the data loader yielded no samples')
    names = {
        m:
        band_names_of(dataloader.dataset, m, importance[m][0].shape[-1],
                      band_names)
        for m in mods
    }
    return dict(
        modalities=mods,
        layer=layers,
        n_steps=n_steps,
        dim_common=kc,
        embedding_dim=dim,
        num_samples=seen,
        overlap={
            t: torch.cat(v).numpy()
            for t, v in overlap.items()
        },
        band_importance={
            m: {
                t: torch.cat(v)[:, i].numpy()
                for i, t in enumerate(TARGETS)
            }
            for m, v in importance.items()
        },
        band_names=names,
        convergence_delta={
            m: {
                t: float(torch.cat(v)[:, i].mean())
                for i, t in enumerate(TARGETS)
            }
            for m, v in delta.items()
        },
        examples={
            k: {
                m: torch.cat(v) if v else None
                for m, v in d.items()
            }
            for k, d in examples.items()
        })


def _stats(values: np.ndarray, bins: Sequence[float]) -> dict:
    defined = values[~np.isnan(values)]
    counts, _ = np.histogram(np.clip(defined, bins[0], bins[-1]), bins=bins)
    out = dict(num_defined=int(defined.size), histogram=counts.tolist())
    if defined.size:
        out.update(
            mean=float(defined.mean()),
            median=float(np.median(defined)),
            std=float(defined.std()))
    return out


def saliency_summary(
    stats: dict, bins: Sequence[float] = tuple(np.linspace(0, 1, 11))) -> dict:
    """JSON-ready summary of :func:`saliency_statistics`.

    Args:
        stats (dict): Output of :func:`saliency_statistics`.
        bins (Sequence[float]): Histogram bin edges for overlap scores and
            band importances. Defaults to 10 bins over [0, 1].

    Returns:
        dict: Settings, ``overlap`` (target -> mean/median/std, number of
        defined scores and histogram), ``band_importance`` (modality ->
        ``band_names`` and target -> per-band mean, std and histograms) and
        ``convergence_delta``.
    """
    bins = [float(b) for b in bins]
    band = {}
    for m, per_target in stats['band_importance'].items():
        names = stats['band_names'][m]
        entry = dict(band_names=names)
        for t, imp in per_target.items():
            rows = imp[~np.isnan(imp).any(1)]
            entry[t] = dict(
                num_defined=int(len(rows)),
                mean=(rows.mean(0).tolist() if len(rows) else None),
                std=(rows.std(0).tolist() if len(rows) else None),
                histograms={
                    n: _stats(imp[:, c], bins)['histogram']
                    for c, n in enumerate(names)
                })
        band[m] = entry
    return dict(
        modalities=stats['modalities'],
        layer=stats['layer'],
        n_steps=stats['n_steps'],
        dim_common=stats['dim_common'],
        embedding_dim=stats['embedding_dim'],
        num_samples=stats['num_samples'],
        bins=bins,
        overlap={
            t: _stats(v, bins)
            for t, v in stats['overlap'].items()
        },
        band_importance=band,
        convergence_delta=stats['convergence_delta'])


def save_saliency_csv(stats: dict, out_file: str) -> None:
    """One row per sample: overlap scores and every band importance."""
    mods = stats['modalities']
    columns, values = [], []
    for t in TARGETS:
        columns.append(f'overlap_{t}')
        values.append(stats['overlap'][t])
    for m in mods:
        for t in TARGETS:
            imp = stats['band_importance'][m][t]
            for c, name in enumerate(stats['band_names'][m]):
                columns.append(f'{m}/{t}/{name}')
                values.append(imp[:, c])
    with open(out_file, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['sample'] + columns)
        for i, row in enumerate(zip(*values)):
            writer.writerow([i] + [f'{v:.6g}' for v in row])


def display_image(x: torch.Tensor,
                  band_names: Optional[Sequence[str]] = None) -> np.ndarray:
    """An input image for display: RGB for 3+ bands, else the first band.

    Sentinel-2 inputs show bands B4, B3, B2 and RGB inputs R, G, B when the
    names say so, other 3+ band inputs their first three bands. The shown
    bands are stretched together between their 2nd and 98th percentile
    (one stretch for all, which keeps the colours).

    Args:
        x (Tensor): (C, H, W) image.
        band_names (Sequence[str], optional): Band names.

    Returns:
        np.ndarray: (H, W, 3) or (H, W) floats in [0, 1].
    """
    x = x.detach().float().cpu().numpy()
    names = list(band_names or [])
    if x.shape[0] >= 3:
        index = [0, 1, 2]
        for rgb in (('B4', 'B3', 'B2'), ('R', 'G', 'B')):
            if all(b in names for b in rgb):
                index = [names.index(b) for b in rgb]
                break
        img = x[index].transpose(1, 2, 0)
    else:
        img = x[0]
    lo, hi = np.percentile(img, (2, 98))
    return np.clip((img - lo) / np.maximum(hi - lo, 1e-8), 0, 1)


def plot_overlap_histogram(stats: dict,
                           out_file: str,
                           bins: Sequence[float] = tuple(
                               np.linspace(0, 1, 11)),
                           title: Optional[str] = None) -> None:
    """Fig. 6a: histogram of the cross-modal GradCAM overlap scores.

    Args:
        stats (dict): Output of :func:`saliency_statistics`.
        out_file (str): PNG path.
        bins (Sequence[float]): Bin edges. Defaults to 10 bins over [0, 1].
        title (str, optional): Figure title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    bins = np.asarray(bins, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    width = (bins[1] - bins[0]) / 3
    for i, t in enumerate(TARGETS):
        v = stats['overlap'][t]
        v = v[~np.isnan(v)]
        counts, _ = np.histogram(np.clip(v, bins[0], bins[-1]), bins=bins)
        ax.bar(
            bins[:-1] + (i + 1) * width,
            100 * counts / max(len(v), 1),
            width=width,
            color=('tab:red', 'tab:blue')[i],
            label=f'{t}: mean {v.mean():.2f}, {len(v)} samples'
            if len(v) else f'{t}: no defined score')
    m1, m2 = stats['modalities']
    ax.set_xlim(bins[0], bins[-1])
    ax.set_xlabel(f'GradCAM overlap score {m1}-{m2}')
    ax.set_ylabel('percentage of samples')
    ax.legend()
    ax.set_title(title or 'spatial saliency overlap (GradCAM '
                 f'{stats["layer"][m1]})')
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)


def plot_band_importance(stats: dict,
                         out_file: str,
                         title: Optional[str] = None) -> None:
    """Fig. 6b: per-band IG importance, common vs unique, per modality.

    Bars are the mean normalised importance over the samples, whiskers the
    standard deviation; a one-band modality (importance 1 by definition) is
    left out.

    Args:
        stats (dict): Output of :func:`saliency_statistics`.
        out_file (str): PNG path.
        title (str, optional): Figure title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    mods = [m for m in stats['modalities'] if len(stats['band_names'][m]) > 1]
    if not mods:  # nothing to compare; still show the (trivial) result
        mods = list(stats['modalities'])
    widths = [max(len(stats['band_names'][m]), 3) for m in mods]
    fig, axes = plt.subplots(
        1,
        len(mods),
        figsize=(2 + 0.55 * sum(widths), 3.6),
        dpi=100,
        squeeze=False,
        gridspec_kw=dict(width_ratios=widths))
    for ax, m in zip(axes[0], mods):
        names = stats['band_names'][m]
        x = np.arange(len(names))
        for i, t in enumerate(TARGETS):
            imp = stats['band_importance'][m][t]
            imp = imp[~np.isnan(imp).any(1)]
            if not len(imp):
                continue
            ax.bar(
                x + (i - 0.5) * 0.38,
                imp.mean(0),
                width=0.38,
                yerr=imp.std(0),
                capsize=2,
                color=('tab:red', 'tab:blue')[i],
                label=t)
        ax.set_xticks(x)
        ax.set_xticklabels(names, rotation=45 if len(names) > 6 else 0)
        ax.set_title(m)
        # Head room for the legend above the bars.
        ax.set_ylim(0, ax.get_ylim()[1] * 1.25)
    axes[0][0].set_ylabel('normalised IG importance')
    axes[0][int(np.argmax(widths))].legend(
        fontsize='small', loc='upper center', ncol=2)
    fig.suptitle(title or 'spectral saliency (Integrated Gradients)')
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)


def plot_saliency_examples(stats: dict,
                           out_file: str,
                           title: Optional[str] = None) -> None:
    """Inputs and their common/unique GradCAM maps for a few samples.

    Args:
        stats (dict): Output of :func:`saliency_statistics`.
        out_file (str): PNG path.
        title (str, optional): Figure title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    mods = stats['modalities']
    ex = stats['examples']
    num = min(
        len(ex['inputs'][m]) if ex['inputs'][m] is not None else 0
        for m in mods)
    if num == 0:
        raise ValueError('no examples were kept (num_examples=0)')
    cols = 3 * len(mods)
    fig, axes = plt.subplots(
        num, cols, figsize=(1.5 * cols, 1.55 * num + 0.5), squeeze=False)
    for r in range(num):
        for j, m in enumerate(mods):
            img = display_image(ex['inputs'][m][r], stats['band_names'][m])
            panels = [(img, m)] + [(ex['maps'][m][r, i].numpy(), f'{m} {t}')
                                   for i, t in enumerate(TARGETS)]
            for k, (panel, label) in enumerate(panels):
                ax = axes[r][3 * j + k]
                ax.imshow(img, cmap=None if img.ndim == 3 else 'gray')
                if k:  # the map over the input
                    ax.imshow(panel, cmap='jet', alpha=0.5)
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(label, fontsize=8)
    fig.suptitle(
        title or f'GradCAM ({stats["layer"][mods[0]]}), common vs unique',
        fontsize=9)
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)

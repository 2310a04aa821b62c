# Copyright (c) mmdecur contributors. All rights reserved.
"""Did decoupling work? Alignment of common vs unique dims + linear probes."""
import json
import os
import os.path as osp
from itertools import combinations
from typing import Dict, Optional, Sequence

import numpy as np

from .alignment import (alignment_per_dim, alignment_summary,
                        plot_alignment_histogram)
from .embeddings import extract_embeddings
from .probe import linear_probe

BINS = np.linspace(0., 1., 21)

# What "worked" means, stated up front rather than tuned after the fact.
THRESHOLDS = dict(
    common_max_alignment_loss=0.2,  # common dims: C_ii >= ~0.55 on average
    unique_max_abs_correlation=0.2,  # unique dims: near-zero cross-modal C_ii
    probe_min_ratio_to_chance=2.0,  # own private factor from unique dims
    # ... and another modality's private factor no better than near chance
    other_probe_max_ratio_to_chance=1.5,
)


def _probe_table(embeddings: Dict[str, np.ndarray], factors: np.ndarray,
                 metainfo: dict, dim_common: int) -> dict:
    names = list(metainfo['factor_names'])
    table = {}
    for factor, num_classes in metainfo['num_classes'].items():
        labels = factors[:, names.index(factor)].astype(int)
        row = {'chance': 1. / num_classes}
        for m, z in embeddings.items():
            for group, dims in (('common', slice(0, dim_common)),
                                ('unique', slice(dim_common, None))):
                if z[:, dims].shape[1]:
                    row[f'{m}/{group}'] = linear_probe(z[:, dims], labels)
        table[factor] = row
    return table


def _probe_checks(probes: dict, private: Dict[str, Sequence[str]]) -> dict:
    """Each modality's unique dims predict its own private factors and no
    other modality's."""
    checks = {}
    for m, own in private.items():
        column = f'{m}/unique'
        for factor in own:
            row = probes.get(factor, {})
            if column in row:
                checks[f'{m}_unique_predicts_{factor}'] = (
                    row[column]
                    >= THRESHOLDS['probe_min_ratio_to_chance'] * row['chance'])
        for other, factors in private.items():
            if other == m:
                continue
            for factor in factors:
                row = probes.get(factor, {})
                if column in row:
                    checks[f'{m}_unique_ignores_{factor}'] = (
                        row[column]
                        <= THRESHOLDS['other_probe_max_ratio_to_chance'] *
                        row['chance'])
    return checks


def decoupling_report(model,
                      dataloader,
                      out_dir: str,
                      max_samples: Optional[int] = None,
                      logger=print) -> dict:
    """Write ``alignment_hist.png`` and ``decoupling_report.json``.

    For M modalities every pair is checked (common dims aligned, unique dims
    decorrelated; one histogram per pair, the first pair's as
    ``alignment_hist.png``, the others as
    ``alignment_hist_<m1>_<m2>.png``), and with factor labels every
    modality's unique dims must predict its own private factors and none of
    the other modalities'.

    Args:
        model: A trained multimodal model with a ``DeCURLoss``-like
            ``loss_module.num_common``.
        dataloader: Evaluation data (one view per modality), ideally held
            out; with ``gt_factors`` (synthetic data) linear probes are run.
        out_dir (str): Output folder.
        max_samples (int, optional): Cap on evaluated samples.
        logger (callable): Where the console summary goes.

    Returns:
        dict: The report (also written as JSON).
    """
    if not hasattr(getattr(model, 'loss_module', None), 'num_common'):
        raise TypeError(
            'the common/unique split needs a DeCUR model (a loss with '
            f'num_common); got {type(model).__name__} with loss '
            f'{type(getattr(model, "loss_module", None)).__name__}')
    modalities = list(model.modalities)
    os.makedirs(out_dir, exist_ok=True)
    data = extract_embeddings(model, dataloader, max_samples=max_samples)
    z = {m: v.numpy() for m, v in data['embeddings'].items()}
    dim = z[modalities[0]].shape[1]
    dim_common = model.loss_module.num_common(dim)

    report = dict(
        modalities=modalities,
        num_samples=int(z[modalities[0]].shape[0]),
        embedding_dim=int(dim),
        dim_common=int(dim_common),
        thresholds=THRESHOLDS,
        pairs={})
    checks = {}
    pairs = list(combinations(modalities, 2))
    for index, (m1, m2) in enumerate(pairs):
        per_dim = alignment_per_dim(data['embeddings'][m1],
                                    data['embeddings'][m2])
        summary = alignment_summary(per_dim, dim_common, BINS)
        hist_file = osp.join(
            out_dir, 'alignment_hist.png'
            if index == 0 else f'alignment_hist_{m1}_{m2}.png')
        plot_alignment_histogram(
            {
                'common': per_dim['loss'][:dim_common],
                'unique': per_dim['loss'][dim_common:]
            },
            hist_file,
            BINS,
            title=f'cross-modal alignment {m1}-{m2}')
        report['pairs'][f'{m1}-{m2}'] = dict(
            alignment=summary, alignment_hist=hist_file)
        if index == 0:  # the first pair also at the top level, as for M = 2
            report['alignment'] = summary
            report['alignment_hist'] = hist_file
        suffix = '' if len(pairs) == 1 else f'_{m1}_{m2}'
        if summary.get('common'):
            checks['common_dims_aligned' + suffix] = (
                summary['common']['mean_alignment_loss']
                <= THRESHOLDS['common_max_alignment_loss'])
        if summary.get('unique'):
            checks['unique_dims_decorrelated' + suffix] = (
                summary['unique']['mean_abs_correlation']
                <= THRESHOLDS['unique_max_abs_correlation'])

    metainfo = getattr(dataloader.dataset, 'metainfo', {}) or {}
    if data['gt_factors'] is not None and 'num_classes' in metainfo:
        probes = _probe_table(z, data['gt_factors'].numpy(), metainfo,
                              dim_common)
        report['linear_probes'] = probes
        checks.update(
            _probe_checks(probes, metainfo.get('private_factors', {})))
    report['checks'] = checks
    report['decoupling_worked'] = bool(checks) and all(checks.values())

    with open(osp.join(out_dir, 'decoupling_report.json'), 'w') as f:
        json.dump(report, f, indent=2)
    for line in format_report(report):
        logger(line)
    return report


def format_report(report: dict):
    """Console lines for a report."""
    yield (f'Decoupling report: {" vs ".join(report["modalities"])}, '
           f'{report["num_samples"]} samples, K={report["embedding_dim"]}, '
           f'Kc={report["dim_common"]}')
    for pair, entry in report['pairs'].items():
        for group in ('common', 'unique'):
            s = entry['alignment'].get(group)
            if s:
                yield (f'  {pair} {group:6s} dims: mean (1-C_ii)^2 = '
                       f'{s["mean_alignment_loss"]:.3f}, mean C_ii = '
                       f'{s["mean_correlation"]:.3f}, mean |C_ii| = '
                       f'{s["mean_abs_correlation"]:.3f}')
    probes = report.get('linear_probes')
    if probes:
        cols = [c for c in next(iter(probes.values())) if c != 'chance']
        yield '  linear-probe accuracy (held out) | chance | ' + ' | '.join(
            cols)
        for factor, row in probes.items():
            yield f'    {factor:10s} | {row["chance"]:.2f} | ' + ' | '.join(
                f'{row[c]:.2f}' for c in cols)
    for name, ok in report['checks'].items():
        yield f'  [{"PASS" if ok else "FAIL"}] {name}'
    yield ('  => decoupling worked' if report['decoupling_worked'] else
           '  => decoupling NOT demonstrated')

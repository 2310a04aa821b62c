# Copyright (c) mmdecur contributors. All rights reserved.
"""Did decoupling work? Alignment of common vs unique dims + linear probes."""
import json
import os
import os.path as osp
from typing import Dict, Optional

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


def decoupling_report(model,
                      dataloader,
                      out_dir: str,
                      max_samples: Optional[int] = None,
                      logger=print) -> dict:
    """Write ``alignment_hist.png`` and ``decoupling_report.json``.

    Args:
        model: A trained two-modality model with a ``DeCURLoss``-like
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
    m1, m2 = model.modalities[:2]
    os.makedirs(out_dir, exist_ok=True)
    data = extract_embeddings(model, dataloader, max_samples=max_samples)
    z = {m: v.numpy() for m, v in data['embeddings'].items()}
    dim = z[m1].shape[1]
    dim_common = model.loss_module.num_common(dim)

    per_dim = alignment_per_dim(data['embeddings'][m1], data['embeddings'][m2])
    report = dict(
        modalities=[m1, m2],
        num_samples=int(z[m1].shape[0]),
        embedding_dim=int(dim),
        dim_common=int(dim_common),
        alignment=alignment_summary(per_dim, dim_common, BINS),
        thresholds=THRESHOLDS)
    hist_file = osp.join(out_dir, 'alignment_hist.png')
    plot_alignment_histogram(
        {
            'common': per_dim['loss'][:dim_common],
            'unique': per_dim['loss'][dim_common:]
        },
        hist_file,
        BINS,
        title=f'cross-modal alignment {m1}-{m2}')
    report['alignment_hist'] = hist_file

    checks = {}
    common = report['alignment'].get('common')
    unique = report['alignment'].get('unique')
    if common:
        checks['common_dims_aligned'] = (
            common['mean_alignment_loss']
            <= THRESHOLDS['common_max_alignment_loss'])
    if unique:
        checks['unique_dims_decorrelated'] = (
            unique['mean_abs_correlation']
            <= THRESHOLDS['unique_max_abs_correlation'])

    metainfo = getattr(dataloader.dataset, 'metainfo', {}) or {}
    if data['gt_factors'] is not None and 'num_classes' in metainfo:
        probes = _probe_table(z, data['gt_factors'].numpy(), metainfo,
                              dim_common)
        report['linear_probes'] = probes
        for m, private in metainfo.get('private_factors', {}).items():
            for factor in private:
                if factor in probes and f'{m}/unique' in probes[factor]:
                    row = probes[factor]
                    checks[f'{m}_unique_predicts_{factor}'] = (
                        row[f'{m}/unique']
                        >= THRESHOLDS['probe_min_ratio_to_chance'] *
                        row['chance'])
    report['checks'] = checks
    report['decoupling_worked'] = bool(checks) and all(checks.values())

    with open(osp.join(out_dir, 'decoupling_report.json'), 'w') as f:
        json.dump(report, f, indent=2)
    for line in format_report(report):
        logger(line)
    return report


def format_report(report: dict):
    """Console lines for a report."""
    m1, m2 = report['modalities']
    yield (f'Decoupling report: {m1} vs {m2}, {report["num_samples"]} '
           f'samples, K={report["embedding_dim"]}, '
           f'Kc={report["dim_common"]}')
    for group in ('common', 'unique'):
        s = report['alignment'].get(group)
        if s:
            yield (f'  {group:6s} dims: mean (1-C_ii)^2 = '
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

# Copyright (c) mmdecur contributors. All rights reserved.
"""Per-dimension cross-modal alignment loss (1 - C_ii)^2 (paper Fig. 5a).

C is the cross-modal correlation of the two modalities' projector
embeddings, computed per batch (as in training) and averaged over batches.
Writes ``alignment.png`` (histogram, common vs unique dims, optionally next
to other checkpoints such as cross-modal Barlow Twins or DeCUR without
decoupling), ``alignment.json`` (histograms and summary numbers) and
``alignment_per_dim.csv`` into ``--out-dir``.

    python tools/analysis_tools/alignment.py CONFIG CHECKPOINT \
        --out-dir work_dirs/analysis --labels decoup. "w/o decoup." \
        --compare CONFIG2 CHECKPOINT2
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import json
import os
import os.path as osp

import numpy as np
from mmengine.config import DictAction

from mmdecur.analysis import (alignment_comparison, model_alignment,
                              plot_alignment_comparison, save_alignment_csv)
from mmdecur.apis import build_dataloader_from_cfg, init_model


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='a DeCUR checkpoint')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument(
        '--compare',
        nargs=2,
        action='append',
        default=[],
        metavar=('CONFIG', 'CHECKPOINT'),
        help='another checkpoint on the same plot (any two-modality model; '
        'repeatable)')
    parser.add_argument(
        '--labels',
        nargs='+',
        help='legend labels, the main checkpoint first (default: config '
        'names)')
    parser.add_argument(
        '--split',
        default='val',
        help='which <split>_dataloader of each config to use')
    parser.add_argument('--max-samples', type=int, default=None)
    parser.add_argument(
        '--batch-size',
        type=int,
        default=None,
        help='samples per batch, for loading and for C (default: the '
        "config's)")
    parser.add_argument(
        '--num-bins', type=int, default=10, help='bins over [0, 1]')
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides applied to every config')
    return parser.parse_args()


def main():
    args = parse_args()
    runs = [(args.config, args.checkpoint)] + [tuple(c) for c in args.compare]
    labels = list(args.labels or [])
    if len(labels) > len(runs):
        raise SystemExit(f'{len(labels)} labels for {len(runs)} checkpoints')
    labels += [
        osp.splitext(osp.basename(cfg))[0] for cfg, _ in runs[len(labels):]
    ]
    if len(set(labels)) != len(labels):
        raise SystemExit(f'labels must be distinct, got {labels}; '
                         'set them with --labels')
    results = {}
    for i, ((config, checkpoint), label) in enumerate(zip(runs, labels)):
        model = init_model(config, checkpoint, args.device, args.cfg_options)
        overrides = dict(num_workers=args.num_workers)
        if args.batch_size:
            overrides['batch_size'] = args.batch_size
        loader = build_dataloader_from_cfg(model.cfg, args.split, **overrides)
        try:
            # Only the main checkpoint must have a common/unique split.
            results[label] = model_alignment(
                model,
                loader,
                max_samples=args.max_samples,
                require_split=i == 0)
        except (TypeError, ValueError) as e:
            raise SystemExit(f'{checkpoint}: {e}')
    bins = np.linspace(0., 1., args.num_bins + 1)
    os.makedirs(args.out_dir, exist_ok=True)
    summary = alignment_comparison(results, bins)
    for (config, checkpoint), label in zip(runs, labels):
        summary['models'][label].update(config=config, checkpoint=checkpoint)
    m1, m2 = results[labels[0]]['modalities']
    plot_alignment_comparison(
        results,
        osp.join(args.out_dir, 'alignment.png'),
        bins,
        title=f'cross-modal alignment {m1}-{m2}')
    save_alignment_csv(results, osp.join(args.out_dir,
                                         'alignment_per_dim.csv'))
    with open(osp.join(args.out_dir, 'alignment.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    for label, s in summary['models'].items():
        parts = [
            f'{g} ({s[g]["num_dims"]} dims): mean (1-C_ii)^2 = '
            f'{s[g]["mean_alignment_loss"]:.3f}'
            for g in ('common', 'unique', 'all') if g in s
        ]
        print(f'{label}: ' + '; '.join(parts))
    print(f'wrote {args.out_dir}/alignment.{{png,json}}, '
          'alignment_per_dim.csv')


if __name__ == '__main__':
    main()

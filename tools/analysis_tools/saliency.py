# Copyright (c) mmdecur contributors. All rights reserved.
"""Spatial and spectral saliency of the common and unique dimensions
(paper Fig. 6), over a dataset split.

For each modality and sample, captum GradCAM (on a backbone conv layer) and
Integrated Gradients attribute two scalar targets: the mean of the common
and the mean of the unique projector dimensions. Writes into ``--out-dir``:
``saliency_overlap.png`` (histogram of the cross-modal GradCAM overlap
score, common vs unique), ``saliency_bands.png`` (per-band IG importance),
``saliency_examples.png`` (maps of a few samples), ``saliency.json``
(statistics) and ``saliency_samples.csv`` (per-sample scores). Formulas:
:mod:`mmdecur.analysis.saliency`.

    python tools/analysis_tools/saliency.py CONFIG CHECKPOINT \
        --out-dir work_dirs/analysis --max-samples 512
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import json
import os
import os.path as osp

from mmengine.config import DictAction

from mmdecur.analysis import (plot_band_importance, plot_overlap_histogram,
                              plot_saliency_examples, saliency_statistics,
                              saliency_summary, save_saliency_csv)
from mmdecur.apis import build_dataloader_from_cfg, init_model


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='a DeCUR checkpoint')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--split', default='val')
    parser.add_argument(
        '--layer',
        default=None,
        help='GradCAM layer, relative to each backbone (default: the last '
        'conv of the last stage, e.g. layer4.1.conv2)')
    parser.add_argument('--n-steps', type=int, default=50)
    parser.add_argument('--max-samples', type=int, default=None)
    parser.add_argument(
        '--batch-size',
        type=int,
        default=32,
        help='samples per batch (IG runs n_steps x batch images)')
    parser.add_argument('--num-examples', type=int, default=4)
    parser.add_argument(
        '--band-names',
        nargs='+',
        action=DictAction,
        default={},
        help='band names per modality, e.g. rgb=R,G,B (default: from the '
        'dataset, else band0, band1, ...)')
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    model = init_model(args.config, args.checkpoint, args.device,
                       args.cfg_options)
    loader = build_dataloader_from_cfg(
        model.cfg,
        args.split,
        num_workers=args.num_workers,
        batch_size=args.batch_size)
    names = {
        m: [v] if isinstance(v, str) else [str(b) for b in v]
        for m, v in args.band_names.items()
    }
    try:
        stats = saliency_statistics(
            model,
            loader,
            layer=args.layer,
            n_steps=args.n_steps,
            max_samples=args.max_samples,
            num_examples=args.num_examples,
            band_names=names)
    except (TypeError, ValueError) as e:
        raise SystemExit(f'{args.checkpoint}: {e}')
    os.makedirs(args.out_dir, exist_ok=True)
    out = lambda name: osp.join(args.out_dir, name)  # noqa: E731
    plot_overlap_histogram(stats, out('saliency_overlap.png'))
    plot_band_importance(stats, out('saliency_bands.png'))
    if args.num_examples > 0:
        plot_saliency_examples(stats, out('saliency_examples.png'))
    summary = saliency_summary(stats)
    summary.update(config=args.config, checkpoint=args.checkpoint)
    with open(out('saliency.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    save_saliency_csv(stats, out('saliency_samples.csv'))
    for t, s in summary['overlap'].items():
        if s['num_defined']:
            print(f'overlap {t}: mean {s["mean"]:.3f}, median '
                  f'{s["median"]:.3f} ({s["num_defined"]} samples)')
    for m, entry in summary['band_importance'].items():
        for t in ('common', 'unique'):
            if entry[t]['mean'] is not None:
                print(f'{m} {t} band importance: ' + ', '.join(
                    f'{n} {v:.2f}'
                    for n, v in zip(entry['band_names'], entry[t]['mean'])))
    print(f'wrote {args.out_dir}/saliency_*.png, saliency.json, '
          'saliency_samples.csv')


if __name__ == '__main__':
    main()

# Copyright (c) mmdecur contributors. All rights reserved.
"""Deformable-attention sampling points of an RDA checkpoint (Fig. 5b).

For the first ``--num-samples`` samples of a split, shows per modality the
input and the first principal component of the attended feature map, both
with the reference grid and the learned deformed points. Writes
``deform_points_<stage>.png`` per attention stage, ``deform_points.json``
(offset statistics) and ``deform_points.csv`` (every point, input pixels)
into ``--out-dir``.

    python tools/analysis_tools/deform_points.py \
        configs/decur/demo_synthetic_rda.py CHECKPOINT --out-dir DIR
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import json
import os
import os.path as osp

import torch
from mmengine.config import DictAction

from mmdecur.analysis import (band_names_of, check_rda, deform_points,
                              plot_deform_points, points_summary,
                              save_points_csv)
from mmdecur.apis import build_dataloader_from_cfg, init_model


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='a checkpoint with RDA backbones')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--split', default='val')
    parser.add_argument('--num-samples', type=int, default=4)
    parser.add_argument(
        '--stages',
        nargs='+',
        default=None,
        help='attention stages to show (default: all)')
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    model = init_model(args.config, args.checkpoint, args.device,
                       args.cfg_options)
    try:
        stages = {m: check_rda(model, m) for m in model.modalities}
    except ValueError as e:
        raise SystemExit(f'{args.checkpoint}: {e}')
    loader = build_dataloader_from_cfg(
        model.cfg,
        args.split,
        num_workers=args.num_workers,
        batch_size=args.num_samples)
    data = model.data_preprocessor(next(iter(loader)), False)
    inputs, points = {}, {}
    for m in model.modalities:
        views = data['inputs'][m]
        inputs[m] = views if isinstance(views, torch.Tensor) else views[0]
        try:
            points[m] = deform_points(model, m, inputs[m], args.stages)
        except ValueError as e:
            raise SystemExit(f'{args.checkpoint}: {e}')
    names = {
        m: band_names_of(loader.dataset, m, inputs[m].shape[1])
        for m in model.modalities
    }
    os.makedirs(args.out_dir, exist_ok=True)
    shown = args.stages or sorted(set().union(*stages.values()))
    for stage in shown:
        plot_deform_points({
            m: x.cpu()
            for m, x in inputs.items()
        },
                           points,
                           stage,
                           osp.join(args.out_dir,
                                    f'deform_points_{stage}.png'),
                           band_names=names)
    summary = dict(
        config=args.config,
        checkpoint=args.checkpoint,
        num_samples=int(next(iter(inputs.values())).shape[0]),
        stages=points_summary(points))
    with open(osp.join(args.out_dir, 'deform_points.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    save_points_csv(points, osp.join(args.out_dir, 'deform_points.csv'))
    for m, per_stage in summary['stages'].items():
        for stage, s in per_stage.items():
            print(f'{m} {stage}: {s["num_groups"]} groups x {s["grid"]} '
                  f'points, mean offset {s["mean_offset_cells"]:.2f} '
                  'stage-map pixels')
    print(f'wrote {args.out_dir}/deform_points_*.png, deform_points.json, '
          'deform_points.csv')


if __name__ == '__main__':
    main()

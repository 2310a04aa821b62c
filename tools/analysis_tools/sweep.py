# Copyright (c) mmdecur contributors. All rights reserved.
"""Train a config over a grid of settings and collect the results in a CSV.

    python tools/analysis_tools/sweep.py configs/decur/sar_optical_rn50.py \
        --grid model.loss.common_ratio=0.5,0.625,0.75,0.875,1.0 \
        --work-dir work_dirs/sweep_common [--gpus 4] [--dry-run]

Every point of the grid (the cartesian product of all ``--grid`` options)
is trained with ``tools/train.py`` (``tools/dist_train.sh`` with
``--gpus``) in ``<work-dir>/<run name>``, one after the other; a run whose
work dir already holds its final checkpoint is not trained again. After
each run ``<work-dir>/results.csv`` is rewritten with one row per run: the
grid values, the status, the last training loss (and the mean of its last
10 logged values) and the last logged validation metrics.
"""
import argparse
import csv
import itertools
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Tuple

TOOLS = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_grid(items: List[str]) -> List[Tuple[str, List[str]]]:
    grid = []
    for item in items:
        key, _, values = item.partition('=')
        if not key or not values:
            raise SystemExit(f'--grid {item!r}: expected key=v1,v2,...')
        grid.append((key, values.split(',')))
    return grid


def run_name(point: Dict[str, str]) -> str:
    return '_'.join(f'{k.split(".")[-1]}-{v}' for k, v in point.items())


def command(args, point: Dict[str, str], work_dir: str) -> List[str]:
    options = [f'{k}={v}'
               for k, v in point.items()] + list(args.cfg_options or [])
    if args.gpus:
        cmd = [
            'bash',
            osp.join(TOOLS, 'dist_train.sh'), args.config,
            str(args.gpus)
        ]
    else:
        cmd = [sys.executable, osp.join(TOOLS, 'train.py'), args.config]
    return cmd + ['--work-dir', work_dir, '--cfg-options'] + options


def collect(work_dir: str) -> Dict[str, float]:
    """Last training loss and last validation metrics of a run."""
    runs = sorted(
        d for d in os.listdir(work_dir)
        if osp.isfile(osp.join(work_dir, d, 'vis_data', 'scalars.json')))
    if not runs:
        return {}
    with open(osp.join(work_dir, runs[-1], 'vis_data', 'scalars.json')) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    train = [r for r in rows if 'loss' in r]
    val = [r for r in rows if 'loss' not in r and 'lr' not in r]
    out = {}
    if train:
        out['final_loss'] = train[-1]['loss']
        tail = [r['loss'] for r in train[-10:]]
        out['mean_loss_last10'] = sum(tail) / len(tail)
    if val:
        out.update({
            k: v
            for k, v in val[-1].items()
            if k not in ('step', 'epoch', 'iter', 'time', 'data_time')
        })
    return out


def finished(work_dir: str) -> bool:
    last = osp.join(work_dir, 'last_checkpoint')
    return osp.isfile(last) and osp.isfile(open(last).read().strip())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument(
        '--grid',
        nargs='+',
        required=True,
        help='key=v1,v2,... (repeatable; cartesian product)')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--gpus', type=int, default=0)
    parser.add_argument(
        '--dry-run', action='store_true', help='print the commands only')
    parser.add_argument(
        '--cfg-options', nargs='+', help='key=value passed to every run')
    args = parser.parse_args()

    grid = parse_grid(args.grid)
    points = [
        dict(zip([k for k, _ in grid], values))
        for values in itertools.product(*[v for _, v in grid])
    ]
    os.makedirs(args.work_dir, exist_ok=True)
    rows = []
    for i, point in enumerate(points, 1):
        name = run_name(point)
        work_dir = osp.join(args.work_dir, name)
        cmd = command(args, point, work_dir)
        print(f'[{i}/{len(points)}] {name}: {" ".join(cmd)}', flush=True)
        if args.dry_run:
            continue
        status = 'done before'
        if not finished(work_dir):
            os.makedirs(work_dir, exist_ok=True)
            with open(osp.join(work_dir, 'sweep.log'), 'w') as log:
                code = subprocess.call(cmd, stdout=log, stderr=log)
            status = 'ok' if code == 0 else f'failed ({code})'
        rows.append(
            dict(run=name, status=status, **point, **collect(work_dir)))
        keys = list(dict.fromkeys(k for row in rows for k in row))
        with open(
                osp.join(args.work_dir, 'results.csv'), 'w', newline='') as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
    if not args.dry_run:
        print(f'results: {osp.join(args.work_dir, "results.csv")}')


if __name__ == '__main__':
    main()

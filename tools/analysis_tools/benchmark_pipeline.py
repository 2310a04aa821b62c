# Copyright (c) mmdecur contributors. All rights reserved.
"""Measure how fast a config's training dataset produces samples.

Builds ``train_dataloader.dataset`` (loading + augmentation + packing) and
times ``dataset[i]`` in this process, without a DataLoader, so the number is
the per-core throughput; multiply by the worker count for a rough upper
bound of the loader.

With ``--load-only`` the pipeline is cut after its last ``Load*`` step, to
time file reading alone (e.g. raw files vs an LMDB of the same data).

Example::

    python tools/analysis_tools/benchmark_pipeline.py CONFIG --num-samples 500
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import time

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

from mmdecur.registry import DATASETS


def parse_args():
    parser = argparse.ArgumentParser(
        description='Benchmark the training data pipeline of a config')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--num-samples', type=int, default=500, help='samples to time')
    parser.add_argument(
        '--warmup', type=int, default=10, help='untimed samples first')
    parser.add_argument(
        '--dataloader',
        default='train_dataloader',
        help='the dataloader whose dataset is benchmarked')
    parser.add_argument('--seed', type=int, default=0, help='numpy seed')
    parser.add_argument(
        '--load-only',
        action='store_true',
        help='time only the leading Load* steps of the pipeline')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. key=value')
    return parser.parse_args()


def main():
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdecur'))
    np.random.seed(args.seed)

    dataset_cfg = cfg[args.dataloader]['dataset']
    if args.load_only:
        pipeline = dataset_cfg['pipeline']
        loads = [
            i for i, t in enumerate(pipeline)
            if str(t.get('type', '')).split('.')[-1].startswith('Load')
        ]
        if not loads:
            raise ValueError('--load-only: the pipeline has no Load* step')
        dataset_cfg['pipeline'] = pipeline[:loads[-1] + 1]
    dataset = DATASETS.build(dataset_cfg)
    n = len(dataset)
    for i in range(min(args.warmup, n)):
        dataset[i]
    total = args.num_samples
    start = time.perf_counter()
    for i in range(total):
        dataset[(args.warmup + i) % n]
    elapsed = time.perf_counter() - start

    what = ' (loading steps only)' if args.load_only else ''
    print(f'dataset: {type(dataset).__name__} ({n} samples){what}')
    print(f'timed {total} samples in {elapsed:.3f} s: '
          f'{total / elapsed:.1f} samples/s, '
          f'{1e3 * elapsed / total:.3f} ms/sample (one process)')


if __name__ == '__main__':
    main()

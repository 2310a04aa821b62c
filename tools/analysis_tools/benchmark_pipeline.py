# Copyright (c) mmdecur contributors. All rights reserved.
"""Measure how fast a config's training dataset produces samples.

Builds ``train_dataloader.dataset`` (loading + augmentation + packing) and
times ``dataset[i]`` in this process, without a DataLoader, so the number is
the per-core throughput; multiply by the worker count for a rough upper
bound of the loader.

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

    dataset = DATASETS.build(cfg[args.dataloader]['dataset'])
    n = len(dataset)
    for i in range(min(args.warmup, n)):
        dataset[i]
    total = args.num_samples
    start = time.perf_counter()
    for i in range(total):
        dataset[(args.warmup + i) % n]
    elapsed = time.perf_counter() - start

    print(f'dataset: {type(dataset).__name__} ({n} samples)')
    print(f'timed {total} samples in {elapsed:.3f} s: '
          f'{total / elapsed:.1f} samples/s, '
          f'{1e3 * elapsed / total:.3f} ms/sample (one process)')


if __name__ == '__main__':
    main()

# Copyright (c) mmdecur contributors. All rights reserved.
"""Measure how fast a config's training dataset produces samples.

Builds ``train_dataloader.dataset`` (loading + augmentation + packing) and
times ``dataset[i]`` in this process, without a DataLoader, so the number is
the per-core throughput; multiply by the worker count for a rough upper
bound of the loader.

With ``--load-only`` the pipeline is cut after its last ``Load*`` step, to
time file reading alone (e.g. raw files vs an LMDB of the same data).
``--reference`` times a second config the same way and prints the speed-up.

Example (converted SSL4EO-S12 vs the released GeoTIFFs)::

    python tools/analysis_tools/benchmark_pipeline.py \\
        configs/_base_/datasets/ssl4eo_s12_lmdb.py \\
        --cfg-options train_dataloader.dataset.data_root=data/s1_s2c.lmdb \\
        --reference configs/_base_/datasets/ssl4eo_s12.py \\
        --reference-cfg-options train_dataloader.dataset.data_root=data/ssl4eo
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import time
from typing import Optional

import cv2
import numpy as np
import torch
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
    parser.add_argument(
        '--reference',
        metavar='CONFIG',
        help='also time this config (e.g. the raw-file dataset) and print '
        'the speed-up over it')
    parser.add_argument(
        '--reference-cfg-options',
        nargs='+',
        action=DictAction,
        help='config overrides for --reference')
    return parser.parse_args()


def build_dataset(config: str, cfg_options: Optional[dict], dataloader: str,
                  load_only: bool):
    """The dataset of ``config``'s dataloader (cut after ``Load*``)."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdecur'))
    # As in a DataLoader worker under the config's env_cfg: one core each.
    mp_cfg = cfg.get('env_cfg', {}).get('mp_cfg', {})
    cv2.setNumThreads(mp_cfg.get('opencv_num_threads', 0))
    torch.set_num_threads(1)
    dataset_cfg = cfg[dataloader]['dataset']
    if load_only:
        pipeline = dataset_cfg['pipeline']
        loads = [
            i for i, t in enumerate(pipeline)
            if str(t.get('type', '')).split('.')[-1].startswith('Load')
        ]
        if not loads:
            raise ValueError('--load-only: the pipeline has no Load* step')
        dataset_cfg['pipeline'] = pipeline[:loads[-1] + 1]
    return DATASETS.build(dataset_cfg)


def time_dataset(dataset, num_samples: int, warmup: int, seed: int) -> float:
    """Seconds per sample of ``dataset[i]`` over ``num_samples`` samples."""
    np.random.seed(seed)
    n = len(dataset)
    for i in range(min(warmup, n)):
        dataset[i]
    start = time.perf_counter()
    for i in range(num_samples):
        dataset[(warmup + i) % n]
    return (time.perf_counter() - start) / num_samples


def report(name: str, dataset, per_sample: float, load_only: bool) -> None:
    what = ' (loading steps only)' if load_only else ''
    print(f'{name}: {type(dataset).__name__} ({len(dataset)} samples){what}: '
          f'{1 / per_sample:.1f} samples/s, {1e3 * per_sample:.3f} ms/sample '
          '(one process)')


def main():
    args = parse_args()
    dataset = build_dataset(args.config, args.cfg_options, args.dataloader,
                            args.load_only)
    per_sample = time_dataset(dataset, args.num_samples, args.warmup,
                              args.seed)
    report('dataset', dataset, per_sample, args.load_only)
    if args.reference:
        ref = build_dataset(args.reference, args.reference_cfg_options,
                            args.dataloader, args.load_only)
        ref_per_sample = time_dataset(ref, args.num_samples, args.warmup,
                                      args.seed)
        report('reference', ref, ref_per_sample, args.load_only)
        print(f'speed-up over the reference: '
              f'{ref_per_sample / per_sample:.2f}x')


if __name__ == '__main__':
    main()

# Copyright (c) mmdecur contributors. All rights reserved.
"""Measure how fast a config's training dataset produces samples.

Builds ``train_dataloader.dataset`` (loading + augmentation + packing) and
times ``dataset[i]`` in this process, without a DataLoader, so the number is
the per-core throughput; multiply by the worker count for a rough upper
bound of the loader.

With ``--load-only`` the pipeline is cut after its last ``Load*`` step, to
time file reading alone (e.g. raw files vs an LMDB of the same data).
``--reference`` times a second config the same way and prints the speed-up.

The one-process rate is what one DataLoader worker (one core) delivers, so
it also gives the workers a training rate needs: ``100 / rate`` workers per
100 samples/s. ``--clock process`` times this process's CPU time instead of
the wall clock (one thread: CPU-seconds per sample, unaffected by other
processes on a shared machine). ``--workers N`` also times a real
``DataLoader`` (the config's batch size, collate function, N worker
processes) and prints its samples/s and samples/s per worker.

Example (converted SSL4EO-S12 vs the released GeoTIFFs)::

    python tools/analysis_tools/benchmark_pipeline.py \\
        configs/_base_/datasets/ssl4eo_s12_lmdb.py \\
        --cfg-options train_dataloader.dataset.data_root=data/s1_s2c.lmdb \\
        --reference configs/_base_/datasets/ssl4eo_s12.py \\
        --reference-cfg-options train_dataloader.dataset.data_root=data/ssl4eo

Workers needed (one process) and a 2-worker DataLoader::

    python tools/analysis_tools/benchmark_pipeline.py \\
        configs/decur/sar_optical_rn50.py --workers 2 --out bench.json
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import json
import time
from typing import Callable, Optional

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
    parser.add_argument(
        '--clock',
        choices=['wall', 'process'],
        default='wall',
        help="wall time, or this process's CPU time (robust on a shared "
        'machine)')
    parser.add_argument(
        '--workers',
        type=int,
        help='also time a DataLoader with this many worker processes')
    parser.add_argument(
        '--batches',
        type=int,
        default=20,
        help='batches timed with --workers (after one batch per worker)')
    parser.add_argument(
        '--batch-size',
        type=int,
        help="DataLoader batch size (default: the config's)")
    parser.add_argument('--out', help='also write the results as JSON here')
    return parser.parse_args()


def load_config(config: str, cfg_options: Optional[dict]) -> Config:
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdecur'))
    return cfg


def build_dataset(config: str, cfg_options: Optional[dict], dataloader: str,
                  load_only: bool):
    """The dataset of ``config``'s dataloader (cut after ``Load*``)."""
    cfg = load_config(config, cfg_options)
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


def _clock(name: str) -> Callable[[], float]:
    return time.perf_counter if name == 'wall' else time.process_time


def time_dataset(dataset,
                 num_samples: int,
                 warmup: int,
                 seed: int,
                 clock: str = 'wall') -> float:
    """Seconds per sample of ``dataset[i]`` over ``num_samples`` samples."""
    now = _clock(clock)
    np.random.seed(seed)
    n = len(dataset)
    for i in range(min(warmup, n)):
        dataset[i]
    start = now()
    for i in range(num_samples):
        dataset[(warmup + i) % n]
    return (now() - start) / num_samples


def time_dataloader(config: str, cfg_options: Optional[dict], dataloader: str,
                    workers: int, batches: int, batch_size: Optional[int],
                    seed: int) -> dict:
    """Samples/s (wall clock) of the config's DataLoader with ``workers``.

    Built by MMEngine's ``Runner.build_dataloader`` (sampler, collate
    function, worker seeding as in training). One batch per worker
    (start-up) is not timed; a small dataset is cycled.
    """
    from mmengine.runner import Runner
    cfg = load_config(config, cfg_options)
    loader_cfg = cfg[dataloader]
    loader_cfg.num_workers = workers
    loader_cfg.persistent_workers = workers > 0
    if batch_size:
        loader_cfg.batch_size = batch_size
    loader = Runner.build_dataloader(loader_cfg, seed=seed)
    size = loader_cfg.batch_size

    def forever():
        while True:
            yield from loader

    it = forever()
    for _ in range(max(workers, 1)):
        next(it)
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    sec = time.perf_counter() - start
    rate = batches * size / sec
    return dict(
        workers=workers,
        batch_size=size,
        batches=batches,
        samples_per_s=rate,
        samples_per_s_per_worker=rate / max(workers, 1))


def report(name: str,
           dataset,
           per_sample: float,
           load_only: bool,
           clock: str = 'wall') -> None:
    what = ' (loading steps only)' if load_only else ''
    unit = 'CPU ' if clock == 'process' else ''
    print(f'{name}: {type(dataset).__name__} ({len(dataset)} samples){what}: '
          f'{1 / per_sample:.1f} samples/s, {1e3 * per_sample:.3f} {unit}'
          f'ms/sample (one process = one DataLoader worker); '
          f'{100 * per_sample:.2f} workers per 100 samples/s')


def main():
    args = parse_args()
    dataset = build_dataset(args.config, args.cfg_options, args.dataloader,
                            args.load_only)
    per_sample = time_dataset(dataset, args.num_samples, args.warmup,
                              args.seed, args.clock)
    report('dataset', dataset, per_sample, args.load_only, args.clock)
    out = dict(
        config=args.config,
        dataset=type(dataset).__name__,
        clock=args.clock,
        load_only=args.load_only,
        samples_per_s_one_process=1 / per_sample,
        ms_per_sample=1e3 * per_sample,
        workers_per_100_samples_per_s=100 * per_sample)
    if args.reference:
        ref = build_dataset(args.reference, args.reference_cfg_options,
                            args.dataloader, args.load_only)
        ref_per_sample = time_dataset(ref, args.num_samples, args.warmup,
                                      args.seed, args.clock)
        report('reference', ref, ref_per_sample, args.load_only, args.clock)
        print(f'speed-up over the reference: '
              f'{ref_per_sample / per_sample:.2f}x')
        out['reference_samples_per_s_one_process'] = 1 / ref_per_sample
        out['speedup'] = ref_per_sample / per_sample
    if args.workers is not None:
        if args.load_only:
            raise SystemExit('--workers times the whole pipeline; drop '
                             '--load-only')
        res = time_dataloader(args.config, args.cfg_options, args.dataloader,
                              args.workers, args.batches, args.batch_size,
                              args.seed)
        print(f"DataLoader, {res['workers']} workers, batch "
              f"{res['batch_size']}: {res['samples_per_s']:.1f} samples/s "
              f"({res['samples_per_s_per_worker']:.1f} per worker, wall "
              'clock)')
        out['dataloader'] = res
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(out, f, indent=1)


if __name__ == '__main__':
    main()

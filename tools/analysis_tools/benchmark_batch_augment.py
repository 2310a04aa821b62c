# Copyright (c) mmdecur contributors. All rights reserved.
"""CPU augmentation in the DataLoader workers vs batch augmentation on the
device, for a config and its ``*_gpu_aug`` variant.

Times, in this process:

1. the CPU config's training pipeline (load + views + augmentations +
   packing) per sample, one process with one OpenCV/torch thread, as in one
   DataLoader worker (what ``benchmark_pipeline.py`` measures);
2. the variant's light pipeline (load + views + packing, no augmentation),
   the same way;
3. the variant's data preprocessor with ``training=True`` (batch
   augmentation + normalisation) on ``--device``, on batches of the light
   pipeline already on the device (the copy is not timed), and with
   ``training=False`` (normalisation only), so that the augmentation's own
   cost is the difference.

and prints samples/s, the CPU workers needed per 100 samples/s with and
without the CPU augmentation, and the ratio of the augmentation's speed on
the device to its speed in one CPU worker.

Examples::

    # the demo (synthetic data, no files)
    python tools/analysis_tools/benchmark_batch_augment.py
    # SSL4EO-S12 (S1 + 13-band S2) on a tiny generated copy
    python tools/misc/make_tiny_dataset.py ssl4eo data/tiny_ssl4eo
    python tools/analysis_tools/benchmark_batch_augment.py \\
        configs/decur/sar_optical_rn50.py \\
        configs/decur/sar_optical_rn50_gpu_aug.py --device cuda \\
        --cfg-options train_dataloader.dataset.data_root=data/tiny_ssl4eo
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import time
from typing import Callable, Optional

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.dataset import default_collate
from mmengine.registry import init_default_scope

from mmdecur.registry import DATASETS, MODELS


def parse_args():
    parser = argparse.ArgumentParser(
        description='CPU pipeline augmentation vs batch augmentation')
    parser.add_argument(
        'config',
        nargs='?',
        default='configs/decur/demo_synthetic.py',
        help='config with the CPU augmentations')
    parser.add_argument(
        'gpu_config',
        nargs='?',
        default='configs/decur/demo_synthetic_gpu_aug.py',
        help='its variant with batch_augments in the data preprocessor')
    parser.add_argument(
        '--device', default='cpu', help='device of the batch augmentation')
    parser.add_argument(
        '--threads',
        type=int,
        default=1,
        help='torch threads for the batch augmentation on the CPU; 1 (the '
        'default) compares one core with one DataLoader worker')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=None,
        help="default: the config's train batch size")
    parser.add_argument(
        '--num-samples',
        type=int,
        default=200,
        help='samples timed per CPU pipeline')
    parser.add_argument(
        '--num-batches', type=int, default=5, help='batches timed on device')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides applied to both configs, e.g. the data root')
    return parser.parse_args()


def load(path: str, options: Optional[dict]) -> Config:
    cfg = Config.fromfile(path)
    if options:
        cfg.merge_from_dict(options)
    init_default_scope(cfg.get('default_scope', 'mmdecur'))
    return cfg


def per_sample_seconds(dataset, num: int, seed: int) -> float:
    """Seconds per ``dataset[i]``, after a short warm-up."""
    np.random.seed(seed)
    n = len(dataset)
    for i in range(min(5, n)):
        dataset[i]
    start = time.perf_counter()
    for i in range(num):
        dataset[(5 + i) % n]
    return (time.perf_counter() - start) / num


def seconds_per_call(fn: Callable[[], object], device: torch.device,
                     num: int) -> float:
    """Seconds per call of ``fn`` on ``device`` (synchronised)."""

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize(device)

    fn()
    sync()
    start = time.perf_counter()
    for _ in range(num):
        fn()
    sync()
    return (time.perf_counter() - start) / num


def main():
    args = parse_args()
    cpu_cfg = load(args.config, args.cfg_options)
    gpu_cfg = load(args.gpu_config, args.cfg_options)
    if not gpu_cfg.data_preprocessor.get('batch_augments'):
        raise ValueError(f'{args.gpu_config}: its data_preprocessor has no '
                         'batch_augments')
    # One DataLoader worker: one OpenCV thread (env_cfg), one torch thread.
    mp_cfg = cpu_cfg.get('env_cfg', {}).get('mp_cfg', {})
    cv2.setNumThreads(mp_cfg.get('opencv_num_threads', 0))
    torch.set_num_threads(1)
    full = DATASETS.build(cpu_cfg.train_dataloader.dataset)
    light = DATASETS.build(gpu_cfg.train_dataloader.dataset)
    t_full = per_sample_seconds(full, args.num_samples, args.seed)
    t_light = per_sample_seconds(light, args.num_samples, args.seed)

    device = torch.device(args.device)
    torch.set_num_threads(args.threads)
    batch_size = args.batch_size or gpu_cfg.train_dataloader.batch_size
    pre = MODELS.build(gpu_cfg.data_preprocessor).to(device)
    batch = default_collate([light[i % len(light)] for i in range(batch_size)])
    batch = pre.cast_data(batch)
    aug_and_norm = seconds_per_call(lambda: pre(batch, training=True), device,
                                    args.num_batches) / batch_size
    norm = seconds_per_call(lambda: pre(batch, training=False), device,
                            args.num_batches) / batch_size
    t_aug_device = max(aug_and_norm - norm, 1e-12)
    t_aug_cpu = max(t_full - t_light, 1e-12)

    threads = ('' if device.type != 'cpu' else
               f', {torch.get_num_threads()} torch threads')
    print(f'CPU pipeline with augmentation ({args.config}): '
          f'{1 / t_full:.1f} samples/s per worker')
    print(f'CPU pipeline without augmentation ({args.gpu_config}): '
          f'{1 / t_light:.1f} samples/s per worker '
          f'({t_full / t_light:.2f}x)')
    print(f'batch augmentation + normalisation on {device}{threads}, '
          f'batch {batch_size}: {1 / aug_and_norm:.1f} samples/s '
          f'(normalisation alone {1 / norm:.1f})')
    print(f'workers per 100 samples/s: {100 * t_full:.2f} with CPU '
          f'augmentation, {100 * t_light:.2f} without (+ '
          f'{100 * t_aug_device * 1e3:.1f} ms of {device} per 100 samples)')
    print(f'augmentation alone: {1 / t_aug_cpu:.1f} samples/s in one CPU '
          f'worker, {1 / t_aug_device:.1f} samples/s on {device}{threads}; '
          f'ratio device / CPU worker: {t_aug_cpu / t_aug_device:.2f}x')


if __name__ == '__main__':
    main()

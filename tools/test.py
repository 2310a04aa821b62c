# Copyright (c) mmdecur contributors. All rights reserved.
"""Evaluate a checkpoint with the config's test loop and metrics.

    python tools/test.py CONFIG CHECKPOINT [--out metrics.json]
    tools/dist_test.sh CONFIG CHECKPOINT 2

Modality-missing evaluation (the named modality's input becomes its mean
image, zeros after normalisation; FCN, CMX and late-fusion classifiers):

    python tools/test.py CONFIG CHECKPOINT \
        --cfg-options model.test_cfg.drop_modalities=hha
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import json
import os

import numpy as np
from mmengine.config import Config, DictAction
from mmengine.dist import is_main_process
from mmengine.runner import Runner
from train import (merge_common_args, setup_cpu_distributed,
                   shutdown_distributed)

from mmdecur.registry import RUNNERS


def parse_args():
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs go')
    parser.add_argument('--out', help='dump the metrics to this JSON file')
    parser.add_argument(
        '--show-dir',
        help='write colour-coded predictions next to the inputs here')
    parser.add_argument(
        '--tta',
        action='store_true',
        help='multi-scale (0.75, 1, 1.25) + flip test-time augmentation')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def to_builtin(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def main():
    args = parse_args()
    cfg = merge_common_args(Config.fromfile(args.config), args)
    if cfg.get('test_dataloader') is None:
        raise SystemExit(f'{args.config} has no test_dataloader/test_cfg: '
                         'pretraining configs are evaluated downstream or '
                         'with tools/analysis_tools')
    cfg.load_from = args.checkpoint
    if args.tta:
        cfg.model.test_cfg['tta'] = cfg.get(
            'tta_cfg', dict(scales=(0.75, 1.0, 1.25), flip=True))
    if args.show_dir:
        cfg.custom_hooks = list(cfg.get('custom_hooks') or []) + [
            dict(type='SegPredictionWriterHook', out_dir=args.show_dir)
        ]
    setup_cpu_distributed(cfg)

    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else \
        Runner.from_cfg(cfg)
    metrics = runner.test()
    if is_main_process():
        summary = {
            k: v
            for k, v in metrics.items()
            if k.split('/')[-1] in ('mIoU', 'aAcc', 'mAcc')
        }
        if summary:  # aAcc is the overall pixel accuracy (OA)
            print('  '.join(
                f"{'OA' if k.endswith('aAcc') else k.split('/')[-1]}: "
                f'{float(v):.2f}' for k, v in summary.items()))
        # Multi-label classification; the prefix names the split.
        maps = {
            k: v
            for k, v in metrics.items()
            if k.split('/')[-1] in ('mAP_micro', 'mAP_macro')
        }
        if maps:
            print('  '.join(f'{k}: {float(v):.2f}' for k, v in maps.items()))
    if args.out and is_main_process():
        with open(args.out, 'w') as f:
            metrics = {k: to_builtin(v) for k, v in metrics.items()}
            json.dump(metrics, f, indent=2)
    shutdown_distributed()


if __name__ == '__main__':
    main()

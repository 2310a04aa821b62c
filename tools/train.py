# Copyright (c) mmdecur contributors. All rights reserved.
"""Train a model from a config: single process, torchrun, or SLURM.

    python tools/train.py configs/decur/demo_synthetic.py
    tools/dist_train.sh configs/decur/rgbd_mitb2.py 4 [--amp] [--resume]
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import os
import os.path as osp
import sys

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmdecur.apis import pin_modality_order
from mmdecur.engine import amp_optim_wrapper
from mmdecur.registry import RUNNERS

# Downstream projects (projects/<name>) are imported by `custom_imports` as
# `projects.<name>...`: the repository root must be importable.
REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from the given checkpoint, or from the latest one in '
        'the work dir if no path is given')
    parser.add_argument(
        '--amp', action='store_true', help='mixed-precision training')
    parser.add_argument(
        '--amp-dtype',
        choices=('auto', 'bfloat16', 'float16'),
        default='auto',
        help="AMP's dtype: bfloat16 (no loss scaling) where the GPU has it, "
        'else float16 with a dynamic loss scale')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by total batch / base_batch_size')
    parser.add_argument(
        '--no-persistent-workers',
        action='store_true',
        help='disable persistent dataloader workers (e.g. for debugging)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. model.loss.common_ratio=0.5')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def merge_common_args(cfg: Config, args) -> Config:
    """Launcher, --cfg-options and the work dir (shared with test.py);
    the modality order pinned before the Runner writes the config."""
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    pin_modality_order(cfg)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def merge_args(cfg: Config, args) -> Config:
    cfg = merge_common_args(cfg, args)

    if args.amp:
        if not torch.cuda.is_available():
            raise SystemExit('--amp needs a CUDA device; none is available')
        try:
            cfg.optim_wrapper = amp_optim_wrapper(cfg.optim_wrapper,
                                                  args.amp_dtype)
        except ValueError as e:
            raise SystemExit(f'--amp: {e}')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    if args.no_persistent_workers:
        for split in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if cfg.get(split) is not None:
                cfg[split].persistent_workers = False
    return cfg


def setup_cpu_distributed(cfg: Config) -> None:
    """Multi-process training without GPUs (gloo), e.g. on a laptop or CI.

    MMEngine's own initialisation calls ``torch.cuda.set_device`` and wraps
    the model with ``device_ids=[LOCAL_RANK]``; both fail without CUDA.
    """
    if cfg.launcher != 'pytorch' or torch.cuda.is_available():
        return
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    # Scoped: the Runner looks the type up in MMEngine's root registry.
    wrapper = dict(
        type='mmdecur.DeviceAgnosticDDP',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.update(cfg.get('model_wrapper_cfg') or {})
    if wrapper['type'] == 'MMDistributedDataParallel':
        wrapper['type'] = 'mmdecur.DeviceAgnosticDDP'
    cfg.model_wrapper_cfg = wrapper


def main():
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    setup_cpu_distributed(cfg)
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    runner.train()
    shutdown_distributed()


def shutdown_distributed() -> None:
    """Tear the process group down before exit: a gloo group left to the
    interpreter's shutdown can abort the process after a finished run."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


if __name__ == '__main__':
    main()

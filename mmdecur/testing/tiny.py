# Copyright (c) mmdecur contributors. All rights reserved.
import os.path as osp

DEMO_CONFIG = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'configs',
    'decur', 'demo_synthetic.py')


def tiny_demo_options(num_samples: int = 64,
                      batch_size: int = 16,
                      max_epochs: int = 2,
                      num_workers: int = 0) -> dict:
    """``--cfg-options`` that shrink the demo to a seconds-long CPU run."""
    return {
        'model.backbone.base_channels': 4,
        'model.backbone.stem_channels': 4,
        'model.projector.hid_channels': 32,
        'model.projector.out_channels': 32,
        'train_dataloader.batch_size': batch_size,
        'train_dataloader.num_workers': num_workers,
        'train_dataloader.persistent_workers': num_workers > 0,
        'train_dataloader.dataset.num_samples': num_samples,
        'val_dataloader.batch_size': batch_size * 2,
        'val_dataloader.num_workers': num_workers,
        'val_dataloader.persistent_workers': num_workers > 0,
        'val_dataloader.dataset.num_samples': num_samples,
        'train_cfg.max_epochs': max_epochs,
        'train_cfg.val_interval': max_epochs,
        'default_hooks.logger.interval': 1,
        'default_hooks.checkpoint.interval': 1,
        'default_hooks.checkpoint.max_keep_ckpts': -1,
        'param_scheduler.0.end': 1,
        'param_scheduler.1.begin': 1,
        'param_scheduler.1.end': max(max_epochs, 2),
    }

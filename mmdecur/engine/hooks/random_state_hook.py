# Copyright (c) mmdecur contributors. All rights reserved.
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log

from mmdecur.registry import HOOKS


def get_random_states() -> dict:
    states = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_random_states(states: dict) -> None:
    random.setstate(states['python'])
    np.random.set_state(states['numpy'])
    # A checkpoint loaded onto the GPU (MMEngine's default map_location when
    # resuming on CUDA) brings the states as CUDA tensors; the setters take
    # CPU ByteTensors.
    torch.set_rng_state(states['torch'].cpu())
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in states['cuda']])


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make a resumed run draw the same random numbers as an uninterrupted one.

    MMEngine checkpoints hold weights, optimizer, schedulers and the sampler
    position, but not the Python/NumPy/torch generators that augmentations
    (with ``num_workers=0``), dropout and drop-path consume, so the losses
    after ``--resume`` drift from those of an uninterrupted run.

    At the end of every training epoch each rank's generator states are
    snapshotted (and gathered, so the checkpoint holds every rank's) and
    written into the checkpoint saved at that point; at the start of the next
    epoch they are restored — in the uninterrupted run too, so validation's
    random draws never leak into training and both runs continue from the
    same state. Checkpoints saved mid-epoch carry no snapshot; resuming from
    them is as exact as MMEngine alone.
    """
    # After most hooks, before CheckpointHook (VERY_LOW) saves.
    priority = 'LOW'

    def __init__(self) -> None:
        self._snapshot: Optional[dict] = None
        self._snapshot_iter = -1
        self._all_snapshots: Optional[list] = None
        self._loaded: Optional[dict] = None

    def after_train_epoch(self, runner) -> None:
        self._snapshot = get_random_states()
        self._snapshot_iter = runner.iter
        self._all_snapshots = (
            all_gather_object(self._snapshot)
            if get_world_size() > 1 else [self._snapshot])

    def before_train_epoch(self, runner) -> None:
        if self._snapshot is not None:
            set_random_states(self._snapshot)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if checkpoint['meta'].get('iter') == self._snapshot_iter:
            checkpoint['random_states'] = dict(
                iter=self._snapshot_iter, states=self._all_snapshots)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # Also called for `load_from`; `before_train` tells the two apart.
        self._loaded = checkpoint.get('random_states')

    def before_train(self, runner) -> None:
        loaded, self._loaded = self._loaded, None
        if loaded is None or loaded['iter'] != runner.iter or runner.iter == 0:
            return
        if len(loaded['states']) != get_world_size():
            print_log(
                f'the checkpoint holds random states of '
                f'{len(loaded["states"])} ranks but this run has '
                f'{get_world_size()}; not restoring them',
                logger='current',
                level=30)
            return
        self._snapshot = loaded['states'][get_rank()]
        self._snapshot_iter = runner.iter

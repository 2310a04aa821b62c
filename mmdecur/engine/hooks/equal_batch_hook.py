# Copyright (c) mmdecur contributors. All rights reserved.
"""Promise equal per-rank batch sizes where the train sampler guarantees it."""
from typing import Optional, Tuple

from mmengine.dataset import DefaultSampler, InfiniteSampler
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from torch.utils.data import DistributedSampler

from mmdecur.models.utils.distributed import equal_batch_sizes
from mmdecur.registry import HOOKS

__all__ = ['EqualBatchSizeHook', 'equal_batch_schedule']


def equal_batch_schedule(loader) -> Tuple[Optional[tuple], str]:
    """How many samples every rank's i-th batch has, if equal by design.

    Equal on every rank, whatever the data, when each rank draws the same
    number of indices per step:

    - ``drop_last=True``, or MMEngine's ``InfiniteSampler``: every batch
      has ``batch_size`` samples;
    - MMEngine's ``DefaultSampler(round_up=True)`` and torch's
      ``DistributedSampler`` pad the index list to a multiple of the world
      size, so every rank has ``len(sampler)`` samples per epoch: full
      batches, then one last batch of the remainder.

    Args:
        loader (DataLoader): The training dataloader.

    Returns:
        tuple: ``((batch_size, batches_per_epoch, last_batch_size), why)``,
        or ``(None, why)`` where nothing guarantees it.
    """
    batch_size = getattr(loader, 'batch_size', None)
    if not batch_size:
        return None, 'the dataloader has a custom batch_sampler'
    sampler = loader.sampler
    if loader.drop_last or isinstance(sampler, InfiniteSampler):
        reason = ('drop_last=True' if loader.drop_last else 'InfiniteSampler')
        return (batch_size, None, batch_size), reason
    if isinstance(sampler, DefaultSampler) and sampler.round_up:
        reason = 'DefaultSampler(round_up=True)'
    elif isinstance(sampler, DistributedSampler):
        reason = 'DistributedSampler'
    else:
        return None, (f'{type(sampler).__name__} may give the ranks '
                      f'different numbers of samples')
    num = len(sampler)
    batches = len(loader)
    return (batch_size, batches, num - (batches - 1) * batch_size), reason


@HOOKS.register_module()
class EqualBatchSizeHook(Hook):
    """Save the per-step exchange of batch sizes in the losses' gathers.

    The global losses (DeCUR, Barlow Twins, VICReg, InfoNCE) gather every
    rank's embeddings with :func:`~mmdecur.models.utils.gather_batch`,
    which by default first exchanges the per-rank sizes: one more
    collective and a host-device synchronisation per step. Where the
    training sampler makes the sizes equal by construction
    (:func:`equal_batch_schedule`), this hook promises, during every
    training step, the number of samples each rank has in that step
    (:func:`~mmdecur.models.utils.distributed.equal_batch_sizes`);
    :func:`gather_batch` then skips the exchange and checks the local size
    (free, on the host), so a batch that lost samples raises a clear error
    instead of being mis-sliced. Results are identical either way. The
    promise holds from ``before_train_iter`` to ``after_train_iter`` only:
    never in validation or testing.

    With one process, or a sampler that promises nothing, the hook does
    nothing. Switch it off with
    ``--cfg-options default_hooks.equal_batch_sizes.enabled=False``.

    Args:
        enabled (bool): Defaults to True.
    """
    priority = 'VERY_HIGH'

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._schedule: Optional[tuple] = None
        self._reason = ''
        self._promise = None

    def before_train(self, runner) -> None:
        self._schedule = None
        if not self.enabled or get_world_size() == 1:
            return
        self._schedule, self._reason = equal_batch_schedule(
            runner.train_dataloader)
        state = ('skip the exchange of per-rank batch sizes'
                 if self._schedule else 'keep exchanging per-rank batch '
                 'sizes')
        print_log(
            f'EqualBatchSizeHook: {self._reason}: the losses\' gathers '
            f'{state}',
            logger='current')

    def local_batch_size(self, batch_idx: int) -> Optional[int]:
        """Samples per rank in the training step ``batch_idx``."""
        if self._schedule is None:
            return None
        batch_size, batches, last = self._schedule
        if batches is None:
            return batch_size
        # IterBasedTrainLoop passes the global iteration and restarts (or,
        # on resume, fast-forwards) a finite loader: the position in the
        # epoch is the iteration modulo its length.
        return last if batch_idx % batches == batches - 1 else batch_size

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        self._end_promise()
        size = self.local_batch_size(batch_idx)
        if size is not None:
            self._promise = equal_batch_sizes(
                size, f'EqualBatchSizeHook ({self._reason}, training step '
                f'{batch_idx})')
            self._promise.__enter__()

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs=None) -> None:
        self._end_promise()

    def after_train(self, runner) -> None:
        self._end_promise()

    def _end_promise(self) -> None:
        if self._promise is not None:
            promise, self._promise = self._promise, None
            promise.__exit__(None, None, None)

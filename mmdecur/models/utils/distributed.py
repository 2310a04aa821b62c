# Copyright (c) mmdecur contributors. All rights reserved.
"""Differentiable collectives that make batch statistics global under DDP.

Every rank computes its loss from tensors gathered across all ranks. DDP
then *averages* parameter gradients over the W ranks, so for the result to
equal one process on the concatenated batch, each rank's local inputs must
receive the *sum* over ranks of the gradients that flowed into the gathered
tensor. :class:`_GatherWithGrad` does exactly that: ``all_gather`` forward,
``all_reduce(SUM)`` + own slice backward. It works on every backend (NCCL,
gloo on CPU) and with unequal per-rank batch sizes.

Unequal sizes cost one extra collective and a host-device synchronisation
(``.item()`` on the exchanged sizes) per gather. Where the sampler makes
every rank's batch equal by construction (MMEngine's ``DefaultSampler`` with
``round_up=True``, ``InfiniteSampler``, ``drop_last=True``; see
:class:`mmdecur.engine.hooks.EqualBatchSizeHook`, which does this for every
training step) the caller can *promise* the per-rank size with
:func:`equal_batch_sizes`; :func:`gather_batch` then skips the exchange and
checks each gathered tensor's local size against the promise on the host
(free), raising a clear error instead of mis-slicing the gathered batch.
"""
from contextlib import contextmanager
from typing import Iterator, List, Optional

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = [
    'get_world_size', 'gather_batch', 'is_distributed', 'equal_batch_sizes',
    'promised_batch_size'
]

# (local batch size, who promised it) while a promise holds, else None.
_PROMISE: Optional[tuple] = None


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def _all_gather_sizes(n: int, device: torch.device) -> List[int]:
    size = torch.tensor([n], device=device, dtype=torch.long)
    sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, size)
    return [int(s.item()) for s in sizes]


@contextmanager
def equal_batch_sizes(local_size: int, source: str = 'caller') -> Iterator:
    """Promise, inside the block, that every rank's batch has ``local_size``
    samples, so that :func:`gather_batch` need not exchange the sizes.

    Every rank must enter the block with the same ``local_size`` (it comes
    from the sampler, not from the data). A gathered tensor whose leading
    dimension differs raises ``ValueError`` on that rank before any
    collective; callers that gather other shapes pass ``equal_sizes``
    explicitly. Blocks nest; the innermost promise holds.

    Args:
        local_size (int): Samples per rank in this step.
        source (str): Who promises it, for the error message.
    """
    global _PROMISE
    if not isinstance(local_size, int) or local_size < 0:
        raise ValueError(
            f'local_size must be a non-negative int, got {local_size!r}')
    previous, _PROMISE = _PROMISE, (local_size, source)
    try:
        yield
    finally:
        _PROMISE = previous


def promised_batch_size() -> Optional[int]:
    """The local batch size promised by :func:`equal_batch_sizes`, if any."""
    return None if _PROMISE is None else _PROMISE[0]


def _resolve_equal_sizes(x: Tensor, equal_sizes: Optional[bool]) -> bool:
    if equal_sizes is not None:
        return bool(equal_sizes)
    if _PROMISE is None:
        return False
    size, source = _PROMISE
    if x.shape[0] != size:
        raise ValueError(
            f'gather_batch: {source} promised {size} samples per rank in '
            f'this step (equal on every rank), but this rank gathers a '
            f'tensor of shape {tuple(x.shape)}. Either the batch lost '
            f'samples (a custom collate or batch sampler?) or the caller '
            f'gathers something other than the batch: pass '
            f'equal_sizes=False to exchange the sizes')
    return True


class _GatherWithGrad(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: Tensor, equal_sizes: bool) -> Tensor:
        if equal_sizes:
            sizes = [x.shape[0]] * dist.get_world_size()
        else:
            sizes = _all_gather_sizes(x.shape[0], x.device)
        max_size = max(sizes)
        if x.shape[0] == max_size:
            padded = x.contiguous()  # every rank's size, or the largest
        else:
            padded = x.new_zeros((max_size, ) + x.shape[1:])
            padded[:x.shape[0]] = x
        chunks = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(chunks, padded.contiguous())
        ctx.sizes = sizes
        ctx.rank = dist.get_rank()
        return torch.cat([c[:n] for c, n in zip(chunks, sizes)])

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = sum(ctx.sizes[:ctx.rank])
        return grad[start:start + ctx.sizes[ctx.rank]], None


def gather_batch(x: Tensor, equal_sizes: Optional[bool] = None) -> Tensor:
    """Concatenate ``x`` over all ranks along dim 0, keeping gradients.

    Without an initialised process group (or with one rank) ``x`` is returned
    unchanged.

    Args:
        x (Tensor): Local batch, shape (N_local, ...).
        equal_sizes (bool, optional): True: the caller guarantees that every
            rank has the same N_local (not checked), which saves the
            collective that exchanges the sizes and its host-device
            synchronisation. False: exchange them. None (default): skip the
            exchange while :func:`equal_batch_sizes` promises the size
            (checked against N_local), else exchange.

    Returns:
        Tensor: Global batch (N_global, ...), rank order.
    """
    if get_world_size() == 1:
        return x
    return _GatherWithGrad.apply(x, _resolve_equal_sizes(x, equal_sizes))

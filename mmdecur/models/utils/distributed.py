# Copyright (c) mmdecur contributors. All rights reserved.
"""Differentiable collectives that make batch statistics global under DDP.

Every rank computes its loss from tensors gathered across all ranks. DDP
then *averages* parameter gradients over the W ranks, so for the result to
equal one process on the concatenated batch, each rank's local inputs must
receive the *sum* over ranks of the gradients that flowed into the gathered
tensor. :class:`_GatherWithGrad` does exactly that: ``all_gather`` forward,
``all_reduce(SUM)`` + own slice backward. It works on every backend (NCCL,
gloo on CPU) and with unequal per-rank batch sizes.
"""
from typing import List

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ['get_world_size', 'gather_batch', 'is_distributed']


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def _all_gather_sizes(n: int, device: torch.device) -> List[int]:
    size = torch.tensor([n], device=device, dtype=torch.long)
    sizes = [torch.zeros_like(size) for _ in range(dist.get_world_size())]
    dist.all_gather(sizes, size)
    return [int(s.item()) for s in sizes]


class _GatherWithGrad(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: Tensor, equal_sizes: bool) -> Tensor:
        if equal_sizes:
            sizes = [x.shape[0]] * dist.get_world_size()
        else:
            sizes = _all_gather_sizes(x.shape[0], x.device)
        max_size = max(sizes)
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


def gather_batch(x: Tensor, equal_sizes: bool = False) -> Tensor:
    """Concatenate ``x`` over all ranks along dim 0, keeping gradients.

    Without an initialised process group (or with one rank) ``x`` is returned
    unchanged.

    Args:
        x (Tensor): Local batch, shape (N_local, ...).
        equal_sizes (bool): Promise that every rank has the same N_local,
            which saves the collective that exchanges the sizes.
            Defaults to False.

    Returns:
        Tensor: Global batch (N_global, ...), rank order.
    """
    if get_world_size() == 1:
        return x
    return _GatherWithGrad.apply(x, equal_sizes)

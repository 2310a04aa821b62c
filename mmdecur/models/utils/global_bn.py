# Copyright (c) mmdecur contributors. All rights reserved.
import torch
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmdecur.registry import MODELS
from .distributed import gather_batch, get_world_size


@MODELS.register_module('GlobalBN')
class GlobalBatchNorm(_BatchNorm):
    """Batch normalisation over the global batch, on any backend.

    Barlow-Twins-style losses are only exact under DDP if *every* BatchNorm
    in the encoder and projector normalises with global batch statistics.
    ``torch.nn.SyncBatchNorm`` does that on GPUs only; this layer does it on
    every backend (NCCL, gloo on CPU), so the multi-process tests run here.
    Per-rank (count, mean, M2) are gathered differentiably and combined with
    Chan's parallel formula, which avoids the cancellation of
    ``E[x^2] - E[x]^2``. Outside distributed training (or in eval mode) it is
    plain ``BatchNorm`` of any dimensionality.

    Registered as ``'GlobalBN'`` for ``norm_cfg``; the abbreviation is
    ``'bn'``, so layer names (``bn1``, ...) match torchvision's.

    Args:
        num_features (int): Number of channels C of an input (N, C, ...).
        eps (float): Added to the variance. Defaults to 1e-5.
        momentum (float, optional): Running-statistics momentum (None:
            cumulative average). Defaults to 0.1.
        affine (bool): Learnable scale and shift. Defaults to True.
        track_running_stats (bool): Defaults to True.
    """
    _abbr_ = 'bn'

    def _check_input_dim(self, x: Tensor) -> None:
        if x.dim() < 2:
            raise ValueError(
                f'GlobalBatchNorm expects (N, C, ...) input, got {x.dim()}-D')

    def forward(self, x: Tensor) -> Tensor:
        self._check_input_dim(x)
        if not self.training or get_world_size() == 1:
            return super().forward(x)

        reduce_dims = [0] + list(range(2, x.dim()))
        count = x.numel() // x.shape[1]
        # Statistics in fp32 even for half inputs (fp64 stays fp64).
        x32 = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        mean = x32.mean(reduce_dims)
        shape = (1, -1) + (1, ) * (x.dim() - 2)
        m2 = (x32 - mean.view(shape)).pow(2).sum(reduce_dims)
        # One collective: per rank (mean, M2, count), shape (W, 2C + 1).
        local = torch.cat([mean, m2, mean.new_tensor([float(count)])])
        stats = gather_batch(local[None], equal_sizes=True)
        c = x.shape[1]
        means, m2s, counts = stats[:, :c], stats[:, c:2 * c], stats[:, -1:]
        total = counts.sum()
        global_mean = (counts * means).sum(0) / total
        global_m2 = (m2s + counts * (means - global_mean).pow(2)).sum(0)
        global_var = global_m2 / total

        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = (1.0 / float(self.num_batches_tracked)
                            if self.momentum is None else self.momentum)
                unbiased = global_var * total / (total - 1).clamp(min=1)
                self.running_mean.lerp_(
                    global_mean.to(self.running_mean), momentum)
                self.running_var.lerp_(unbiased.to(self.running_var), momentum)
        # Written out rather than F.batch_norm(training=False), which would
        # not back-propagate into the (global) statistics.
        out = (x32 - global_mean.view(shape)
               ) * torch.rsqrt(global_var.view(shape) + self.eps)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        return out.to(x.dtype)

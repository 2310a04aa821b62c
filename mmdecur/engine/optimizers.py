# Copyright (c) mmdecur contributors. All rights reserved.
"""Faster optimizer steps with the same updates.

- :class:`LARS`: mmpretrain's LARS, update for update, without its two
  ``.item()`` host-device synchronisations per parameter and per step, with
  a ``foreach`` (multi-tensor) path. Its state (``momentum_buffer`` per
  parameter) is mmpretrain's, so checkpoints move between the two.
- :class:`FusedOptimWrapperConstructor`: MMEngine's default constructor that
  honours ``fused=True`` / ``foreach=True`` in the optimizer config where this
  PyTorch and the parameters' device support them and steps down
  (``fused`` -> ``foreach`` -> the plain loop) where they do not, so one
  config runs on a GPU and on a CPU.
"""
import copy
import warnings
from typing import Iterable, List, Optional

import torch
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from torch import Tensor
from torch.optim.optimizer import Optimizer

from mmdecur.registry import OPTIM_WRAPPER_CONSTRUCTORS, OPTIMIZERS

__all__ = ['LARS', 'FusedOptimWrapperConstructor', 'amp_optim_wrapper']


@OPTIMIZERS.register_module()
class LARS(Optimizer):
    """Layer-wise adaptive rate scaling for SGD, without host syncs.

    `LARS <https://arxiv.org/abs/1708.03888>`_ exactly as
    :class:`mmpretrain.engine.optimizers.LARS` (Barlow Twins' protocol) steps
    it: per parameter ``p`` with gradient ``g``, unless its group sets
    ``lars_exclude=True``, the local learning rate is
    ``eta * ||p|| / (||g|| + weight_decay * ||p|| + eps)`` (1 where either
    norm is zero); the update ``(g + weight_decay * p) * local_lr * lr``
    goes through SGD momentum (with ``dampening``, ``nesterov``) and is
    subtracted from ``p``.

    mmpretrain computes the norms with ``.item()``, i.e. two
    synchronisations of the host with the GPU per parameter and step (over
    600 per step for two ResNet-50s with projectors); here the local rates
    stay on the device. The values agree with mmpretrain's to float
    rounding (the rate is formed in the parameters' dtype, not in Python
    floats).

    Args:
        params (Iterable): Parameters or parameter-group dicts; a group may
            set ``lars_exclude`` (no trust ratio, e.g. biases and norms).
        lr (float): Base learning rate.
        momentum (float): Momentum factor. Defaults to 0.
        weight_decay (float): Weight decay (L2 penalty). Defaults to 0.
        dampening (float): Dampening for momentum. Defaults to 0.
        eta (float): LARS coefficient. Defaults to 0.001.
        nesterov (bool): Nesterov momentum. Defaults to False.
        eps (float): Added to the trust ratio's denominator.
            Defaults to 1e-8.
        foreach (bool, optional): Multi-tensor (``torch._foreach_*``)
            implementation: fewer, larger kernels. None (default) uses it
            when every parameter of a group is on a GPU, as torch's own
            optimizers do.
    """

    def __init__(self,
                 params: Iterable,
                 lr: float,
                 momentum: float = 0,
                 weight_decay: float = 0,
                 dampening: float = 0,
                 eta: float = 0.001,
                 nesterov: bool = False,
                 eps: float = 1e-8,
                 foreach: Optional[bool] = None) -> None:
        if lr < 0.0:
            raise ValueError(f'LARS: invalid learning rate {lr}')
        if momentum < 0.0:
            raise ValueError(f'LARS: invalid momentum {momentum}')
        if weight_decay < 0.0:
            raise ValueError(f'LARS: invalid weight_decay {weight_decay}')
        if eta < 0.0:
            raise ValueError(f'LARS: invalid LARS coefficient eta={eta}')
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError(
                'LARS: Nesterov momentum requires a momentum and zero '
                'dampening')
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            eta=eta,
            foreach=foreach)
        self.eps = eps
        super().__init__(params, defaults)

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault('nesterov', False)
            group.setdefault('foreach', None)

    def _local_lrs(self, group: dict, params: List[Tensor],
                   grads: List[Tensor], foreach: bool) -> List[Tensor]:
        """Per-parameter ``local_lr * lr`` as 0-dim tensors on the device."""
        if foreach:
            weight_norms = torch.stack(torch._foreach_norm(params))
            grad_norms = torch.stack(torch._foreach_norm(grads))
        else:
            weight_norms = torch.stack([torch.norm(p) for p in params])
            grad_norms = torch.stack([torch.norm(g) for g in grads])
        trust = group['eta'] * weight_norms / (
            grad_norms + group['weight_decay'] * weight_norms + self.eps)
        live = (weight_norms != 0) & (grad_norms != 0)
        local = torch.where(live, trust, torch.ones_like(trust))
        return list((local * group['lr']).unbind(0))

    @torch.no_grad()
    def step(self, closure=None) -> Optional[Tensor]:
        """Perform a single optimization step.

        Args:
            closure (callable, optional): Re-evaluates the model and returns
                the loss.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group['params'] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            foreach = group.get('foreach')
            same_kind = len({(p.device, p.dtype) for p in params}) == 1
            if foreach is None:
                foreach = same_kind and params[0].device.type == 'cuda'
            foreach = foreach and same_kind
            if group.get('lars_exclude', False):
                scales = None  # local_lr = 1: the group's lr for all
            else:
                # One stack per group: the norms must share device and
                # dtype, else fall back to one tensor at a time.
                scales = self._local_lrs(
                    group, params, grads, foreach) if (same_kind) else [
                        self._local_lrs(group, [p], [g], False)[0]
                        for p, g in zip(params, grads)
                    ]
            if foreach:
                self._step_foreach(group, params, grads, scales)
            else:
                self._step_loop(group, params, grads, scales)
        return loss

    def _step_loop(self, group: dict, params: List[Tensor],
                   grads: List[Tensor], scales: Optional[List[Tensor]]):
        wd, momentum = group['weight_decay'], group['momentum']
        for i, (p, g) in enumerate(zip(params, grads)):
            d_p = g.add(
                p, alpha=wd).mul(group['lr'] if scales is None else scales[i])
            if momentum != 0:
                state = self.state[p]
                if 'momentum_buffer' not in state:
                    buf = state['momentum_buffer'] = torch.clone(d_p).detach()
                else:
                    buf = state['momentum_buffer']
                    buf.mul_(momentum).add_(d_p, alpha=1 - group['dampening'])
                d_p = d_p.add(
                    buf, alpha=momentum) if group['nesterov'] else (buf)
            p.sub_(d_p)

    def _step_foreach(self, group: dict, params: List[Tensor],
                      grads: List[Tensor], scales: Optional[List[Tensor]]):
        wd, momentum = group['weight_decay'], group['momentum']
        d_ps = torch._foreach_add(grads, params, alpha=wd)
        if scales is None:
            torch._foreach_mul_(d_ps, group['lr'])
        else:
            torch._foreach_mul_(d_ps, scales)
        if momentum != 0:
            bufs, new = [], []
            for p, d_p in zip(params, d_ps):
                state = self.state[p]
                if 'momentum_buffer' not in state:
                    state['momentum_buffer'] = torch.clone(d_p).detach()
                    new.append(True)
                else:
                    new.append(False)
                bufs.append(state['momentum_buffer'])
            old = [i for i, n in enumerate(new) if not n]
            if old:
                old_bufs = [bufs[i] for i in old]
                torch._foreach_mul_(old_bufs, momentum)
                torch._foreach_add_(
                    old_bufs, [d_ps[i] for i in old],
                    alpha=1 - group['dampening'])
            if group['nesterov']:
                torch._foreach_add_(d_ps, bufs, alpha=momentum)
            else:
                d_ps = bufs
        torch._foreach_sub_(params, d_ps)


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class FusedOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """MMEngine's default constructor, with fused/foreach where supported.

    The optimizer config may ask for ``fused=True`` (one kernel per step for
    all parameters: PyTorch's AdamW/Adam/SGD on CUDA, and on the CPU from
    PyTorch 2.4) or ``foreach=True`` (multi-tensor kernels). Where the
    optimizer, this PyTorch or the parameters' device lacks the requested
    implementation, the optimizer is built with the next one down
    (``fused`` -> ``foreach`` -> neither) and a warning names the change;
    the updates are the same to float rounding. ``paramwise_cfg`` and
    everything else work as in :class:`DefaultOptimWrapperConstructor`.

    Example::

        optim_wrapper = dict(
            constructor='FusedOptimWrapperConstructor',
            optimizer=dict(type='AdamW', lr=1e-4, fused=True))
    """

    def __call__(self, model: torch.nn.Module) -> OptimWrapper:
        original = self.optimizer_cfg
        attempts = [copy.deepcopy(original)]
        if attempts[0].get('fused'):
            attempts.append({
                k: v
                for k, v in attempts[0].items() if k != 'fused'
            })
            attempts[-1]['foreach'] = True
        if attempts[-1].get('foreach'):
            attempts.append({
                k: v
                for k, v in attempts[-1].items() if k != 'foreach'
            })
        try:
            for i, cfg in enumerate(attempts):
                self.optimizer_cfg = cfg
                try:
                    return super().__call__(model)
                except (RuntimeError, TypeError, ValueError) as e:
                    key = 'fused' if cfg.get('fused') else 'foreach'
                    if i + 1 == len(attempts) or key not in str(e):
                        raise
                    fallback = ('foreach=True' if attempts[i +
                                                           1].get('foreach')
                                else 'the default implementation')
                    warnings.warn(f'{cfg["type"]}: {key}=True is not '
                                  f'available here ({str(e).splitlines()[0]})'
                                  f'; using {fallback} instead.')
        finally:
            self.optimizer_cfg = original


def amp_optim_wrapper(optim_wrapper: dict, dtype: str = 'auto') -> dict:
    """The optimizer wrapper config for mixed precision on CUDA.

    bfloat16 has float32's exponent range, so it needs no loss scaling:
    the ``GradScaler`` is disabled, which also removes its per-step
    ``found_inf`` host synchronisation. float16 gets MMEngine's dynamic loss
    scale.

    Args:
        optim_wrapper (dict): An ``OptimWrapper``/``AmpOptimWrapper`` config.
        dtype (str): ``'bfloat16'``, ``'float16'`` or ``'auto'`` (bfloat16
            where the GPU supports it, else float16). Defaults to 'auto'.

    Returns:
        dict: A copy with ``type='AmpOptimWrapper'``, ``dtype`` and
        ``loss_scale`` set (an explicit ``loss_scale`` is kept).
    """
    if dtype == 'auto':
        dtype = 'bfloat16' if (torch.cuda.is_available() and
                               torch.cuda.is_bf16_supported()) else ('float16')
    if dtype not in ('bfloat16', 'float16'):
        raise ValueError("AMP dtype must be 'bfloat16', 'float16' or 'auto',"
                         f' got {dtype!r}')
    wrapper = optim_wrapper.get('type', 'OptimWrapper')
    if wrapper not in ('OptimWrapper', 'AmpOptimWrapper'):
        raise ValueError(f'AMP cannot be combined with {wrapper}')
    cfg = copy.deepcopy(optim_wrapper)
    cfg['type'] = 'AmpOptimWrapper'
    cfg['dtype'] = dtype
    cfg.setdefault('loss_scale',
                   'dynamic' if dtype == 'float16' else dict(enabled=False))
    return cfg

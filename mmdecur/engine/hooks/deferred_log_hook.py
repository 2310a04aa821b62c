# Copyright (c) mmdecur contributors. All rights reserved.
"""RuntimeInfoHook without a host-device synchronisation per training step."""
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.hooks import LoggerHook, RuntimeInfoHook
from mmengine.utils import apply_to

from mmdecur.registry import HOOKS

__all__ = ['DeferredRuntimeInfoHook']


@HOOKS.register_module()
class DeferredRuntimeInfoHook(RuntimeInfoHook):
    """:class:`mmengine.hooks.RuntimeInfoHook` that fetches the log values
    once per logging interval instead of once per value per step.

    MMEngine's hook calls ``message_hub.update_scalar`` on every value of the
    model's ``log_vars`` after every iteration, and that calls ``.item()``:
    on a GPU, one host-device synchronisation per value per step, which
    stalls the queue of kernels the CPU has run ahead with. This hook keeps
    each iteration's scalar tensors on their device (detached, copied into
    one byte buffer, so later in-place changes cannot alter them) and fetches
    all buffered iterations with ONE device-to-host copy per device when
    something is about to read them:

    - the iterations where :class:`~mmengine.hooks.LoggerHook` may print
      (every ``interval`` inner iterations, the end of each epoch; the same
      tests as the logger's) and the last training iteration;
    - before validation, at the end of every epoch and of training;
    - before a checkpoint is written (the checkpoint's ``message_hub`` is
      taken again after the flush, so it holds every iteration);
    - an iteration whose log names a key the message hub does not hold yet
      is fed at once (after the pending ones), so the hub creates its keys
      in RuntimeInfoHook's order and the log lines list them alike;
    - after ``max_pending`` buffered iterations, whatever the rest says.

    Every buffered iteration's values then go into the message hub in the
    order RuntimeInfoHook would have put them, as the same Python numbers
    (the bytes are reinterpreted in the tensor's own dtype, so bf16 or int
    values are bit-identical to their ``.item()``). Window means, ``loss``
    and every term in the log lines and ``vis_data`` are therefore those of
    the default hook; learning rate, meta and iteration/epoch information
    are RuntimeInfoHook's own code.

    A hook that reads ``train/`` scalars from the message hub between
    logging iterations sees them up to ``interval - 1`` iterations late;
    it can call :meth:`flush` first.

    Args:
        interval (int, optional): Flush every ``interval`` inner
            iterations. None (default) takes the LoggerHook's ``interval``
            (or ``max_pending`` without a LoggerHook).
        max_pending (int): Most iterations held on the device. Defaults to
            1000.
    """

    def __init__(self,
                 interval: Optional[int] = None,
                 max_pending: int = 1000) -> None:
        if interval is not None and (not isinstance(interval, int)
                                     or interval < 1):
            raise ValueError(f'interval must be a positive int or None, got '
                             f'{interval!r}')
        if not isinstance(max_pending, int) or max_pending < 1:
            raise ValueError(
                f'max_pending must be a positive int, got {max_pending!r}')
        self.interval = interval
        self.max_pending = max_pending
        self._flush_interval = interval or max_pending
        self._reset()

    def _reset(self) -> None:
        # One list per buffered iteration: (key, value) where value is a
        # Python/NumPy scalar or (device, byte offset, nbytes, dtype).
        self._pending: List[List[Tuple[str, object]]] = []
        self._buffers: Dict[torch.device, List[torch.Tensor]] = {}
        self._nbytes: Dict[torch.device, int] = {}

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def before_train(self, runner) -> None:
        super().before_train(runner)
        self._reset()
        if self.interval is None:
            loggers = [h for h in runner.hooks if isinstance(h, LoggerHook)]
            self._flush_interval = (
                min(h.interval
                    for h in loggers) if loggers else self.max_pending)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if outputs is None:
            return
        scalars = runner.message_hub.log_scalars
        if any(f'train/{k}' not in scalars for k in outputs):
            self.flush(runner)
            super().after_train_iter(runner, batch_idx, data_batch, outputs)
            return
        self._record(runner, outputs)
        if (self.every_n_inner_iters(batch_idx, self._flush_interval)
                or self.end_of_epoch(runner.train_dataloader, batch_idx)
                or self.is_last_train_iter(runner)
                or len(self._pending) >= self.max_pending):
            self.flush(runner)

    def _record(self, runner, outputs: dict) -> None:
        entries = []
        parts: Dict[torch.device, List[torch.Tensor]] = {}
        for key, value in outputs.items():
            if not isinstance(value, torch.Tensor):
                entries.append((f'train/{key}', value))
                continue
            if value.numel() != 1:
                # The same error RuntimeInfoHook raises, at once.
                runner.message_hub.update_scalar(f'train/{key}', value)
            # via 0-d: a (1,) view with stride 1, as the byte view needs
            raw = value.detach().reshape(()).reshape(1).view(torch.uint8)
            dev = raw.device
            offset = self._nbytes.get(dev, 0) + sum(
                p.numel() for p in parts.get(dev, []))
            parts.setdefault(dev, []).append(raw)
            entries.append(
                (f'train/{key}', (dev, offset, raw.numel(), value.dtype)))
        for dev, raws in parts.items():
            # One small copy kernel per device and iteration; a snapshot,
            # and no synchronisation.
            buf = torch.cat(raws)
            self._buffers.setdefault(dev, []).append(buf)
            self._nbytes[dev] = self._nbytes.get(dev, 0) + buf.numel()
        self._pending.append(entries)

    def flush(self, runner) -> None:
        """Feed every buffered iteration into the message hub now."""
        if not self._pending:
            return
        host = {
            dev: torch.cat(bufs).cpu()  # the one copy (per device)
            for dev, bufs in self._buffers.items()
        }
        hub = runner.message_hub
        for entries in self._pending:
            for key, value in entries:
                if isinstance(value, tuple):
                    dev, offset, nbytes, dtype = value
                    # clone: a fresh, aligned storage to view as ``dtype``.
                    value = host[dev][offset:offset +
                                      nbytes].clone().view(dtype).item()
                hub.update_scalar(key, value)
        self._reset()

    def after_train_epoch(self, runner) -> None:
        self.flush(runner)

    def before_val(self, runner) -> None:
        self.flush(runner)
        super().before_val(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # The Runner took the message hub's state before calling the hooks.
        if self._pending:
            self.flush(runner)
            if 'message_hub' in checkpoint:
                checkpoint['message_hub'] = apply_to(
                    runner.message_hub.state_dict(),
                    lambda x: hasattr(x, 'cpu'), lambda x: x.cpu())

    def after_train(self, runner) -> None:
        self.flush(runner)
        super().after_train(runner)

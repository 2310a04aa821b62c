# Copyright (c) mmdecur contributors. All rights reserved.
"""Time whole training steps of a config against a plain reference loop.

Builds the config's model and its optimizer wrapper (MMEngine's
``build_optim_wrapper``: the real optimizer, ``paramwise_cfg`` and
constructor) and times complete optimizer steps on the current device,
split into

- ``data``: next batch (dataloader or a fixed synthetic batch) and the data
  preprocessor (host-to-device copy, normalisation);
- ``forward``: backbones and projectors (up to the call of the model's
  ``loss_module``; for models without one, forward and loss together);
- ``loss``: the loss module and ``parse_losses``;
- ``backward`` and ``optimizer`` (step and ``zero_grad``).

The same steps then run through a *plain reference loop*: the same
backbones, projectors, loss and optimizer type, from the same initial
weights and on the same batches, called the plain way: one backbone call per
view (no batching of views), no channels_last, the optimizer's default
implementation (no ``fused``/``foreach``; mmpretrain's LARS for LARS). The
ratio reference / real is the speed-up of the real step; the loss of step 1
is printed for both, so that the comparison is visibly like with like (with
stochastic depth, e.g. MiT's ``drop_path_rate``, batched and per-view calls
draw different masks and the two losses differ slightly).

On CUDA, phases are timed with CUDA events on the GPU's timeline and the
whole run with ``torch.cuda.synchronize``; peak memory is
``torch.cuda.max_memory_allocated``. On the CPU, phases are wall-clock (or
this process's CPU time, ``--clock process``) and peak memory is the
process's peak resident set size (``resource``; it only grows, so it covers
both loops). On a GPU the two loops run one after the
other, each alone in memory; on a CPU they alternate step by step, so that
load from other processes hits both alike.

Examples::

    # CPU, the embedded demo; on a shared machine one thread and the
    # process's CPU time give stable numbers
    python tools/analysis_tools/benchmark_train_step.py \\
        configs/decur/demo_synthetic.py --device cpu --threads 1 \\
        --clock process --channels-last --optimizer-impl fused

    # one GPU, bf16 AMP, NHWC ResNets, JSON for tools/misc/check_cuda.py
    python tools/analysis_tools/benchmark_train_step.py \\
        configs/decur/sar_optical_rn50.py --amp --channels-last \\
        --out work_dirs/bench_rn50.json

``--data loader`` draws the batches from the config's train dataloader
instead (data must exist, e.g. from ``tools/misc/make_tiny_dataset.py``);
the default synthetic batch (uint8, the config's bands, views and crop size)
takes the data loading out of the measurement.
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import copy
import inspect
import json
import logging
import resource
import sys
import time
from contextlib import nullcontext
from typing import Callable, Dict, List, Optional, Sequence

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from mmdecur.engine import amp_optim_wrapper
from mmdecur.registry import MODELS

PHASES = ('data', 'forward', 'loss', 'backward', 'optimizer')


# --------------------------------------------------------------------------
# config and model
# --------------------------------------------------------------------------
def _strip_pretrained(cfg):
    """Drop ``init_cfg=dict(type='Pretrained', ...)`` everywhere: the
    benchmark times random weights and must not need checkpoints."""
    if isinstance(cfg, dict):
        init = cfg.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            cfg.pop('init_cfg')
        for v in cfg.values():
            _strip_pretrained(v)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            _strip_pretrained(v)


def _backbone_cfgs(model_cfg) -> List[dict]:
    """The backbone config(s): one shared, or one per modality."""
    backbone = model_cfg.get('backbone')
    if not isinstance(backbone, dict):
        return []
    if 'type' in backbone:
        return [backbone]
    return [b for b in backbone.values() if isinstance(b, dict)]


def load_config(config: str,
                cfg_options: Optional[dict] = None,
                channels_last: bool = False,
                optimizer_impl: str = 'config') -> Config:
    """The config as benchmarked ("real" step), with the CLI switches."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdecur'))
    if cfg.get('data_preprocessor') and 'data_preprocessor' not in cfg.model:
        cfg.model.data_preprocessor = cfg.data_preprocessor  # as the Runner
    _strip_pretrained(cfg.model)
    if channels_last:
        backbones = _backbone_cfgs(cfg.model)
        if not backbones:
            raise SystemExit('--channels-last: the model has no backbone')
        for b in backbones:
            cls = MODELS.get(b['type'])
            if 'channels_last' not in inspect.signature(cls).parameters:
                raise SystemExit(
                    f"--channels-last: backbone {b['type']} has no "
                    'channels_last option (only the ResNets have one)')
            b['channels_last'] = True
    if optimizer_impl != 'config':
        set_optimizer_impl(cfg.optim_wrapper, optimizer_impl)
    return cfg


def set_optimizer_impl(optim_wrapper: dict, impl: str) -> None:
    """Ask for ``impl`` ('fused', 'foreach' or 'default') in place."""
    opt = optim_wrapper.optimizer
    opt.pop('fused', None)
    opt.pop('foreach', None)
    if impl == 'default':
        optim_wrapper.pop('constructor', None)
        if opt.type in ('LARS', 'mmdecur.LARS'):
            opt.type = 'mmpretrain.LARS'
        return
    optim_wrapper.constructor = 'FusedOptimWrapperConstructor'
    opt[impl] = True


def plain_config(cfg: Config) -> Config:
    """The reference: no channels_last, views one by one, default optim."""
    ref = copy.deepcopy(cfg)
    for b in _backbone_cfgs(ref.model):
        b.pop('channels_last', None)
    if _is_self_supervised_cfg(ref.model):
        ref.model.batch_views = False
    set_optimizer_impl(ref.optim_wrapper, 'default')
    return ref


def _is_self_supervised_cfg(model_cfg) -> bool:
    from mmdecur.models.algorithms.base import MultiModalSelfSupervisor
    cls = MODELS.get(model_cfg.type)
    return isinstance(cls, type) and issubclass(cls, MultiModalSelfSupervisor)


def build_model(cfg: Config, device: torch.device) -> torch.nn.Module:
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    return model.to(device).train()


def build_wrapper(model: torch.nn.Module, cfg: Config, amp: bool,
                  amp_dtype: str, device: torch.device):
    """The config's optimizer wrapper; AMP as ``tools/train.py --amp``."""
    optim_cfg = copy.deepcopy(cfg.optim_wrapper)
    if amp and device.type == 'cuda':
        optim_cfg = amp_optim_wrapper(optim_cfg, amp_dtype)
    return build_optim_wrapper(model, optim_cfg)


# --------------------------------------------------------------------------
# batches
# --------------------------------------------------------------------------
def _as_hw(size) -> tuple:
    if isinstance(size, int):
        return (size, size)
    size = tuple(size)
    if len(size) != 2:
        raise ValueError(f'cannot read an (H, W) crop size from {size!r}')
    return size


def infer_input_size(cfg: Config) -> tuple:
    """(H, W) of a training crop: ``crop_size``/``image_size`` or the
    pipeline's crop transform."""
    for key in ('crop_size', 'image_size'):
        if cfg.get(key) is not None:
            return _as_hw(cfg.get(key))
    pipeline = cfg.train_dataloader.dataset.get('pipeline', [])
    crops = [
        t for t in _iter_transforms(pipeline)
        if 'Crop' in str(t.get('type', '')) and t.get('size') is not None
    ]
    if crops:
        return _as_hw(crops[-1]['size'])
    raise SystemExit('cannot find the crop size in the config; pass '
                     '--input-size H [W]')


def _iter_transforms(cfg):
    if isinstance(cfg, dict):
        if 'type' in cfg:
            yield cfg
        for v in cfg.values():
            yield from _iter_transforms(v)
    elif isinstance(cfg, (list, tuple)):
        for v in cfg:
            yield from _iter_transforms(v)


def infer_num_views(cfg: Config) -> int:
    views = [
        t.get('num_views') for t in _iter_transforms(
            cfg.train_dataloader.dataset.get('pipeline', []))
        if str(t.get('type', '')).endswith('MultiModalMultiView')
    ]
    return int(views[0]) if views and views[0] else 1


def synthetic_batch(model, cfg: Config, batch_size: int, size: Sequence[int],
                    num_views: int, seed: int) -> dict:
    """A collated batch of random uint8 images in the config's format.

    Self-supervised models get ``{modality: [view (B, C, H, W)] * views}``
    (what ``PackMultiModalInputs`` + ``default_collate`` give); segmentors
    ``{modality: [(C, H, W)] * B}`` and data samples with random labels.
    """
    gen = torch.Generator().manual_seed(seed)
    prep = model.data_preprocessor
    modalities = getattr(prep, 'modalities', None)
    if not modalities:
        raise SystemExit('--data synthetic needs a data preprocessor that '
                         'lists its modalities; use --data loader')
    h, w = size

    def images(*shape):
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=gen)

    if hasattr(model, 'embed_views'):
        return dict(
            inputs={
                m: [
                    images(batch_size, prep.num_bands(m), h, w)
                    for _ in range(num_views)
                ]
                for m in modalities
            })
    head = getattr(model, 'decode_head', None)
    if head is not None and hasattr(head, 'num_classes'):
        from mmengine.structures import PixelData
        from mmseg.structures import SegDataSample
        samples = []
        for _ in range(batch_size):
            sample = SegDataSample(
                gt_sem_seg=PixelData(
                    data=torch.randint(
                        0,
                        head.num_classes, (1, h, w),
                        generator=gen,
                        dtype=torch.long)))
            sample.set_metainfo(
                dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
            samples.append(sample)
        return dict(
            inputs={
                m:
                [images(prep.num_bands(m), h, w) for _ in range(batch_size)]
                for m in modalities
            },
            data_samples=samples)
    raise SystemExit(f'--data synthetic does not know the input format of '
                     f'{type(model).__name__}; use --data loader')


def _pin(batch):
    if isinstance(batch, torch.Tensor):
        return batch.pin_memory()
    if isinstance(batch, dict):
        return {k: _pin(v) for k, v in batch.items()}
    if isinstance(batch, list):
        return [_pin(v) for v in batch]
    return batch


def batch_source(cfg: Config, model, data: str, batch_size: int,
                 size: Optional[Sequence[int]], num_views: Optional[int],
                 seed: int, device: torch.device,
                 workers: Optional[int]) -> Callable[[], dict]:
    """A ``next_batch()`` callable: fixed synthetic batch or the loader."""
    if data == 'synthetic':
        batch = synthetic_batch(model, cfg, batch_size, size
                                or infer_input_size(cfg), num_views
                                or infer_num_views(cfg), seed)
        if device.type == 'cuda' and cfg.train_dataloader.get('pin_memory'):
            batch = _pin(batch)  # as the config's DataLoader would
        return lambda: batch
    from mmengine.runner import Runner
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.batch_size = batch_size
    if workers is not None:
        loader_cfg.num_workers = workers
        if workers == 0:
            loader_cfg.persistent_workers = False
    loader = Runner.build_dataloader(loader_cfg, seed=seed)
    state = dict(it=iter(loader))

    def next_batch():
        try:
            return next(state['it'])
        except StopIteration:
            state['it'] = iter(loader)
            return next(state['it'])

    return next_batch


# --------------------------------------------------------------------------
# timing
# --------------------------------------------------------------------------
def _clock(name: str) -> Callable[[], float]:
    """``'wall'``: ``time.perf_counter``; ``'process'``: the CPU time of
    this process (``time.process_time``), which other processes on a shared
    machine do not inflate (use with one thread, ``--threads 1``)."""
    if name not in ('wall', 'process'):
        raise ValueError(f"clock must be 'wall' or 'process', got {name!r}")
    return time.perf_counter if name == 'wall' else time.process_time


class PhaseTimer:
    """Marks between phases: CUDA events on a GPU, a clock on a CPU."""

    def __init__(self, device: torch.device, clock: str = 'wall') -> None:
        self.cuda = device.type == 'cuda'
        self.clock = _clock(clock)
        self.steps: List[list] = []

    def _now(self):
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            return event
        return self.clock()

    def start(self) -> None:
        self.steps.append([('start', self._now())])

    def mark(self, phase: str) -> None:
        self.steps[-1].append((phase, self._now()))

    def last_mark(self) -> str:
        return self.steps[-1][-1][0]

    def phase_seconds(self) -> Dict[str, float]:
        """Mean seconds per step of every phase (after a synchronize)."""
        totals = {p: 0. for p in PHASES}
        for marks in self.steps:
            for (_, a), (phase, b) in zip(marks, marks[1:]):
                dt = a.elapsed_time(b) / 1e3 if self.cuda else b - a
                totals[phase] += dt
        n = max(len(self.steps), 1)
        return {p: t / n for p, t in totals.items()}


def _synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _peak_memory(device: torch.device) -> Dict[str, float]:
    if device.type == 'cuda':
        return dict(
            peak_memory_mib=torch.cuda.max_memory_allocated(device) / 2**20,
            peak_memory_kind='cuda max_memory_allocated')
    # ru_maxrss: KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rss = rss / 2**20 if sys.platform == 'darwin' else rss / 2**10
    return dict(peak_memory_mib=rss, peak_memory_kind='process peak RSS (CPU)')


class _LossModuleMark:
    """Marks 'forward' when the model calls its loss module."""

    def __init__(self, model, timer: PhaseTimer) -> None:
        self.handle = None
        loss_module = getattr(model, 'loss_module', None)
        if isinstance(loss_module, torch.nn.Module):
            self.handle = loss_module.register_forward_pre_hook(
                lambda *_: timer.mark('forward'))

    def remove(self) -> None:
        if self.handle is not None:
            self.handle.remove()


# --------------------------------------------------------------------------
# the two steps
# --------------------------------------------------------------------------
def real_step(model, wrapper, next_batch, timer: PhaseTimer,
              autocast) -> torch.Tensor:
    """``BaseModel.train_step`` + ``OptimWrapper.update_params``, marked.

    The same calls in the same order as MMEngine's, only split: the loss
    module's forward pre-hook marks the end of the forward phase.
    """
    timer.start()
    batch = next_batch()
    with wrapper.optim_context(model), autocast():
        data = model.data_preprocessor(batch, True)
        timer.mark('data')
        losses = model._run_forward(data, mode='loss')
        if timer.last_mark() != 'forward':
            timer.mark('forward')  # no loss module: forward includes loss
        loss, _ = model.parse_losses(losses)
        timer.mark('loss')
    return _backward_and_step(wrapper, loss, timer)


def _backward_and_step(wrapper, loss: torch.Tensor,
                       timer: PhaseTimer) -> torch.Tensor:
    """The backward and optimizer phases, the same in both loops."""
    wrapper.backward(wrapper.scale_loss(loss))
    timer.mark('backward')
    if wrapper.should_update():
        wrapper.step()
        wrapper.zero_grad()
    timer.mark('optimizer')
    return loss.detach()


def _embed_plainly(model, modality: str, x: torch.Tensor) -> torch.Tensor:
    feat = model.backbones[modality](x)
    feat = feat[-1] if isinstance(feat, (tuple, list)) else feat
    if feat.dim() == 4:
        feat = feat.mean((2, 3))
    return model.projectors[modality](feat)


def reference_step(model, wrapper, next_batch, timer: PhaseTimer,
                   autocast) -> torch.Tensor:
    """The plain loop: every view through its backbone on its own."""
    timer.start()
    batch = next_batch()
    with wrapper.optim_context(model), autocast():
        data = model.data_preprocessor(batch, True)
        timer.mark('data')
        if hasattr(model, 'embed_views') and hasattr(model, 'loss_module'):
            num_views = getattr(model.loss_module, 'num_views', None)
            views = {
                m: [
                    _embed_plainly(model, m, x)
                    for x in model._views(data['inputs'], m)[:num_views]
                ]
                for m in model.modalities
            }
            timer.mark('forward')
            losses = model.loss_module(views)
        else:
            losses = model._run_forward(data, mode='loss')
            timer.mark('forward')
        loss, _ = model.parse_losses(losses)
        timer.mark('loss')
    return _backward_and_step(wrapper, loss, timer)


class Loop:
    """One training loop (real or reference) and what it measured."""

    def __init__(self,
                 step_fn,
                 model,
                 wrapper,
                 next_batch,
                 device: torch.device,
                 autocast,
                 seed: int,
                 mark_loss_module: bool,
                 clock: str = 'wall') -> None:
        self.step_fn, self.model, self.wrapper = step_fn, model, wrapper
        self.next_batch, self.device, self.autocast = (next_batch, device,
                                                       autocast)
        self.seed = seed
        # CUDA: wall time between synchronisations (events for the phases).
        self.clock = _clock('wall' if device.type == 'cuda' else clock)
        self.timer = PhaseTimer(device, clock)
        self.hook = _LossModuleMark(model,
                                    self.timer) if mark_loss_module else None
        self.losses: List[torch.Tensor] = []  # on the device: no sync
        self.seconds = 0.
        self.timed_steps = 0

    def step(self) -> None:
        if not self.losses:
            torch.manual_seed(self.seed)  # same dropout draws for step 1
        self.losses.append(
            self.step_fn(self.model, self.wrapper, self.next_batch, self.timer,
                         self.autocast))

    def warmup(self, n: int) -> None:
        if self.device.type == 'cuda':
            torch.cuda.reset_peak_memory_stats(self.device)
        for _ in range(n):
            self.step()
        self.timer.steps.clear()

    def timed(self, n: int) -> None:
        """``n`` timed steps, synchronised at both ends."""
        _synchronize(self.device)
        start = self.clock()
        for _ in range(n):
            self.step()
        _synchronize(self.device)
        self.seconds += self.clock() - start
        self.timed_steps += n

    def result(self) -> dict:
        if self.hook is not None:
            self.hook.remove()
        _synchronize(self.device)
        res = dict(
            ms_per_step=1e3 * self.seconds / max(self.timed_steps, 1),
            phases_ms={
                p: 1e3 * t
                for p, t in self.timer.phase_seconds().items()
            },
            loss_step1=float(self.losses[0]),
            loss_last=float(self.losses[-1]))
        res.update(_peak_memory(self.device))
        return res


# --------------------------------------------------------------------------
# the benchmark
# --------------------------------------------------------------------------
def benchmark(config: str,
              device: Optional[str] = None,
              amp: bool = False,
              amp_dtype: str = 'bfloat16',
              batch_size: Optional[int] = None,
              steps: int = 10,
              warmup: int = 3,
              data: str = 'synthetic',
              input_size: Optional[Sequence[int]] = None,
              num_views: Optional[int] = None,
              channels_last: bool = False,
              optimizer_impl: str = 'config',
              reference: bool = True,
              cfg_options: Optional[dict] = None,
              workers: Optional[int] = None,
              clock: str = 'wall',
              seed: int = 0) -> dict:
    """Time the config's training step and the plain reference loop.

    Args:
        config (str): Config file.
        device (str, optional): ``'cpu'``, ``'cuda'``, ``'cuda:1'``...
            Defaults to CUDA where available, else the CPU.
        amp (bool): Mixed precision (``AmpOptimWrapper`` on CUDA, as
            ``tools/train.py --amp``; CPU autocast on the CPU), for both
            loops. Defaults to False.
        amp_dtype (str): ``'bfloat16'`` or ``'float16'``.
        batch_size (int, optional): Samples per step; defaults to the
            config's ``train_dataloader.batch_size`` (per GPU).
        steps (int): Timed steps. Defaults to 10.
        warmup (int): Untimed steps first (at least 1 with ``--data
            loader``, whose first batch both loops share). Defaults to 3.
        data (str): ``'synthetic'`` (fixed random uint8 batch) or
            ``'loader'`` (the config's train dataloader).
        input_size (Sequence[int], optional): Synthetic (H, W); defaults to
            the config's crop size.
        num_views (int, optional): Synthetic views per modality; defaults
            to the pipeline's ``MultiModalMultiView.num_views``.
        channels_last (bool): ``backbone.channels_last=True`` for the real
            step (ResNets).
        optimizer_impl (str): ``'config'`` (as configured), ``'fused'``,
            ``'foreach'`` or ``'default'`` for the real step.
        reference (bool): Also run the plain reference loop.
        cfg_options (dict, optional): Config overrides.
        workers (int, optional): DataLoader workers for ``data='loader'``.
        clock (str): CPU only: ``'wall'`` time or this ``'process'``'s CPU
            time (robust on a shared machine with one thread).
        seed (int): Seed of the weights, the batch and step 1's dropout.

    Returns:
        dict: Settings, ``real`` and (if run) ``reference`` results (ms per
        step, per-phase ms, samples/s, peak memory, losses) and
        ``speedup`` (reference ms / real ms).
    """
    if data not in ('synthetic', 'loader'):
        raise ValueError(f"data must be 'synthetic' or 'loader', got {data!r}")
    if data == 'loader' and reference and warmup < 1:
        raise ValueError('--data loader with the reference needs --warmup '
                         '>= 1 (step 1 uses one shared batch)')
    dev = torch.device(
        device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    cfg = load_config(config, cfg_options, channels_last, optimizer_impl)
    if dev.type == 'cuda':
        torch.backends.cudnn.benchmark = bool(
            cfg.get('env_cfg', {}).get('cudnn_benchmark', False))
    batch_size = batch_size or cfg.train_dataloader.batch_size
    dtype = dict(bfloat16=torch.bfloat16, float16=torch.float16)[amp_dtype]

    def autocast():
        if amp and dev.type == 'cpu':
            return torch.autocast('cpu', dtype=dtype)
        return nullcontext()  # CUDA: the AmpOptimWrapper's context

    torch.manual_seed(seed)
    model = build_model(cfg, dev)
    initial = {
        k: v.detach().cpu().clone()
        for k, v in model.state_dict().items()
    }
    wrapper = build_wrapper(model, cfg, amp, amp_dtype, dev)
    next_batch = batch_source(cfg, model, data, batch_size, input_size,
                              num_views, seed, dev, workers)
    first_batch = {}

    def real_batches():
        batch = next_batch()
        first_batch.setdefault('batch', batch)
        return batch

    result = dict(
        config=config,
        device=str(dev),
        device_name=(torch.cuda.get_device_name(dev)
                     if dev.type == 'cuda' else 'cpu'),
        threads=torch.get_num_threads(),
        clock='wall' if dev.type == 'cuda' else clock,
        torch=torch.__version__,
        cuda=torch.version.cuda,
        amp=amp_dtype if amp else None,
        batch_size=batch_size,
        data=data,
        channels_last=channels_last,
        optimizer=type(wrapper.optimizer).__name__,
        optimizer_impl=_impl_of(wrapper.optimizer),
        steps=steps,
        warmup=warmup)
    if hasattr(model, 'modalities'):
        result['modalities'] = {
            m: model.data_preprocessor.num_bands(m)
            for m in model.modalities
        } if hasattr(model.data_preprocessor, 'num_bands') else list(
            model.modalities)
    if data == 'synthetic':
        result['input_size'] = list(input_size or infer_input_size(cfg))
        result['num_views'] = num_views or infer_num_views(cfg)

    real = Loop(
        real_step,
        model,
        wrapper,
        real_batches,
        dev,
        autocast,
        seed,
        mark_loss_module=True,
        clock=clock)
    # On a GPU one loop after the other, each alone in memory; on a (shared,
    # noisy) CPU the two alternate step by step, so that load changes hit
    # both alike.
    interleave = reference and dev.type != 'cuda'
    real.warmup(warmup)
    if not interleave:
        real.timed(steps)
        result['real'] = real.result()
        del wrapper, model, real
        if dev.type == 'cuda':
            torch.cuda.empty_cache()

    if reference:
        ref_cfg = plain_config(cfg)
        ref_model = build_model(ref_cfg, dev)
        ref_model.load_state_dict(initial)
        ref_wrapper = build_wrapper(ref_model, ref_cfg, amp, amp_dtype, dev)
        state = dict(first=True)

        def ref_batches():
            if state.pop('first', False):
                return first_batch['batch']
            return next_batch()

        ref = Loop(
            reference_step,
            ref_model,
            ref_wrapper,
            ref_batches,
            dev,
            autocast,
            seed,
            mark_loss_module=False,
            clock=clock)
        ref.warmup(warmup)
        if interleave:
            for i in range(steps):  # who goes first alternates too
                for loop in ((real, ref) if i % 2 == 0 else (ref, real)):
                    loop.timed(1)
            result['real'] = real.result()
        else:
            ref.timed(steps)
        result['reference'] = ref.result()
        _add_rates(result['reference'], batch_size)
        result['reference']['optimizer'] = type(ref_wrapper.optimizer).__name__
        result['reference']['optimizer_impl'] = _impl_of(ref_wrapper.optimizer)
    _add_rates(result['real'], batch_size)
    if reference:
        result['speedup'] = (
            result['reference']['ms_per_step'] / result['real']['ms_per_step'])
        a, b = result['real']['loss_step1'], result['reference']['loss_step1']
        result['loss_step1_rel_diff'] = abs(a - b) / max(abs(b), 1e-30)
    return result


def _impl_of(optimizer) -> str:
    defaults = getattr(optimizer, 'defaults', {})
    if defaults.get('fused'):
        return 'fused'
    if defaults.get('foreach'):
        return 'foreach'
    return 'default'  # torch's own choice: foreach on CUDA, else a loop


def _add_rates(res: dict, batch_size: int) -> None:
    sec = res['ms_per_step'] / 1e3
    res['samples_per_s'] = batch_size / sec
    compute = sum(v for k, v in res['phases_ms'].items() if k != 'data')
    res['samples_per_s_without_data'] = batch_size / (compute / 1e3) if (
        compute > 0) else float('nan')


def format_table(result: dict) -> str:
    """The results as a plain-text table."""
    real, ref = result['real'], result.get('reference')
    lines = [
        f"{result['config']}: {result['device']} ({result['device_name']}, "
        f"{result['threads']} threads, {result['clock']} clock), torch "
        f"{result['torch']}, batch "
        f"{result['batch_size']}, data {result['data']}, amp "
        f"{result['amp'] or 'off'}, channels_last "
        f"{result['channels_last']}, optimizer {result['optimizer']} "
        f"({result['optimizer_impl']}), {result['steps']} steps after "
        f"{result['warmup']} warm-up"
    ]
    if 'modalities' in result:
        lines.append(f"modalities {result['modalities']}" +
                     (f", {result['num_views']} views of "
                      f"{result['input_size'][0]}x{result['input_size'][1]}"
                      if 'input_size' in result else ''))
    header = f"{'':<22}{'real step':>14}"
    if ref:
        header += f"{'reference':>14}{'ref / real':>12}"
    lines.append(header)

    def row(name, a, b=None, fmt='{:.1f}', ratio=True):
        s = f'{name:<22}{fmt.format(a):>14}'
        if ref is not None:
            s += f'{fmt.format(b):>14}'
            if ratio and a:
                s += f'{b / a:>11.2f}x'
        return s

    get = (lambda k: ref[k]) if ref else (lambda k: None)
    lines.append(
        row('samples/s',
            real['samples_per_s'],
            get('samples_per_s'),
            ratio=False))
    lines.append(
        row('  without data',
            real['samples_per_s_without_data'],
            get('samples_per_s_without_data'),
            ratio=False))
    lines.append(row('ms / step', real['ms_per_step'], get('ms_per_step')))
    for p in PHASES:
        lines.append(
            row(f'  {p}', real['phases_ms'][p],
                ref['phases_ms'][p] if ref else None))
    lines.append(
        row('peak memory (MiB)',
            real['peak_memory_mib'],
            get('peak_memory_mib'),
            fmt='{:.0f}'))
    lines.append(
        row('loss at step 1',
            real['loss_step1'],
            get('loss_step1'),
            fmt='{:.6g}',
            ratio=False))
    if ref:
        lines.append(f"speed-up of the real step: {result['speedup']:.2f}x; "
                     f"loss at step 1 differs by "
                     f"{result['loss_step1_rel_diff']:.1e} (relative); "
                     f"peak memory: {real['peak_memory_kind']}")
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Time whole training steps of a config (split into '
        'data/forward/loss/backward/optimizer) against a plain reference '
        'loop')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--device', help='cpu, cuda, cuda:1 ... (default: cuda if any)')
    parser.add_argument(
        '--amp', action='store_true', help='mixed precision, both loops')
    parser.add_argument(
        '--amp-dtype', choices=['bfloat16', 'float16'], default='bfloat16')
    parser.add_argument(
        '--batch-size',
        type=int,
        help='samples per step (default: the config\'s per-GPU batch)')
    parser.add_argument('--steps', type=int, default=10, help='timed steps')
    parser.add_argument(
        '--warmup', type=int, default=3, help='untimed steps first')
    parser.add_argument(
        '--data',
        choices=['synthetic', 'loader'],
        default='synthetic',
        help='fixed random uint8 batch (data loading excluded) or the '
        "config's train dataloader")
    parser.add_argument(
        '--input-size',
        type=int,
        nargs='+',
        help='synthetic H [W] (default: the config\'s crop size)')
    parser.add_argument(
        '--num-views', type=int, help='synthetic views per modality')
    parser.add_argument(
        '--workers', type=int, help='DataLoader workers for --data loader')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='backbone.channels_last=True (ResNets) in the real step')
    parser.add_argument(
        '--optimizer-impl',
        choices=['config', 'fused', 'foreach', 'default'],
        default='config',
        help='optimizer implementation of the real step')
    parser.add_argument(
        '--no-reference',
        action='store_true',
        help='skip the plain reference loop')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--threads', type=int, help='torch.set_num_threads (CPU)')
    parser.add_argument(
        '--clock',
        choices=['wall', 'process'],
        default='wall',
        help="CPU only: wall time, or this process's CPU time (robust on a "
        'shared machine; use with --threads 1)')
    parser.add_argument('--out', help='also write the results as JSON here')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. key=value')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    size = args.input_size
    if size is not None:
        size = _as_hw(size[0] if len(size) == 1 else size)
    # Not MMEngine's per-parameter init and paramwise reports (INFO).
    loggers = [MMLogger.get_current_instance()]
    if MMLogger.check_instance_created('mmengine'):
        loggers.append(MMLogger.get_instance('mmengine'))
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        result = benchmark(
            args.config,
            device=args.device,
            amp=args.amp,
            amp_dtype=args.amp_dtype,
            batch_size=args.batch_size,
            steps=args.steps,
            warmup=args.warmup,
            data=args.data,
            input_size=size,
            num_views=args.num_views,
            channels_last=args.channels_last,
            optimizer_impl=args.optimizer_impl,
            reference=not args.no_reference,
            cfg_options=args.cfg_options,
            workers=args.workers,
            clock=args.clock,
            seed=args.seed)
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
    print(format_table(result))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == '__main__':
    main()

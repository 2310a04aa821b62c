# Copyright (c) mmdecur contributors. All rights reserved.
"""Check mmdecur's CUDA paths against the CPU and measure training speed.

The one prepared script for a GPU machine (a new machine, software stack or
an issue's measurement), in this order:

1. the DeCUR loss on the GPU (fp32, and under bf16/fp16 autocast, where it
   must still compute in fp32) against float64 on the CPU, values and
   gradients;
2. the deformable attention and a whole RN50-RDA (forward and backward) on
   the GPU against the CPU, in fp32 with TF32 off;
3. every backbone family forward + backward under bf16 autocast (finite,
   right shapes);
4. MiT under AMP: mmseg's attention/Mix-FFN forward against mmdecur's
   (``F.scaled_dot_product_attention``, linear Mix-FFN): fp32 equality, the
   dtypes the heavy ops run in under bf16 autocast (an ATen dispatch
   census), casts and copies, and backbone forward + backward time;
5. the CUDA-only tests of the GPU batch augmentations
   (``tests/.../test_batch_augment.py``, in a subprocess);
6. training-step throughput of every main pretraining config and the
   FCN/CMX configs at their per-GPU batch size: fp32, bf16 AMP and AMP with
   the backbones compiled (``model.compile_backbones`` /
   ``model.backbone.compile_encoders``; by default for a few configs, as
   compilation takes minutes), samples/s and peak memory, timed by
   ``tools/analysis_tools/benchmark_train_step.py`` (see
   :func:`bench_train_step`, the one place that calls it).

The results go to a JSON file (``--out``) and a markdown table with the
date, GPU, torch, CUDA and cuDNN versions (``--table``). The throughput
runs stop starting once ``--budget-s`` seconds have passed since the start
(the rest are listed as skipped), so that the whole script fits a fixed GPU
time: about 7 minutes on an H200 with the defaults.

Examples::

    python tools/misc/check_cuda.py --out work_dirs/check_cuda.json \\
        --table work_dirs/check_cuda.md
    # the CPU smoke test of the same code (tests/test_tools)
    python tools/misc/check_cuda.py --device cpu --quick

Exits 1 if an error bound is exceeded, a CUDA test fails or a throughput
run fails.
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import contextlib
import datetime
import gc
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys
import time
import warnings
from contextlib import nullcontext
from typing import List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmdecur.compat import mmcv_ops_available
from mmdecur.models.backbones import DeformableAttention2d, ResNet
from mmdecur.models.backbones.resnet import RDA_PAPER_SETTINGS
from mmdecur.models.losses import DeCURLoss
from mmdecur.models.utils.compile import CompileFallbackWarning
from mmdecur.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN_CONFIGS = (
    'configs/decur/rgbd_mitb2.py',
    'configs/decur/rgbd_mitb5.py',
    'configs/decur/rgbd_rn50.py',
    'configs/decur/sar_optical_rn50.py',
    'configs/decur/sar_optical_rn50_rda.py',
    'configs/decur/sar_optical_vits16.py',
    'configs/decur/rgb_dem_rn50.py',
    'configs/decur/rgb_dem_rn50_rda.py',
)
SEG_CONFIGS = (
    'configs/fcn/fcn_rn50_nyudv2.py',
    'configs/fcn/fcn_rn50_geonrw.py',
    'configs/cmx/cmx_mitb2_nyudv2.py',
    'configs/cmx/cmx_mitb5_nyudv2.py',
    'configs/cmx/cmx_mitb2_geonrw.py',
)
# Inductor compiles each backbone for ~1 min: one config per family.
COMPILE_CONFIGS = ('configs/decur/rgbd_mitb2.py',
                   'configs/decur/sar_optical_rn50.py',
                   'configs/decur/sar_optical_vits16.py')
QUICK_CONFIGS = ('configs/decur/demo_synthetic.py', )
MODES = ('fp32', 'amp', 'amp+compile')
#: RDA for ResNet-18 at 64 px (quick mode; the paper's needs ResNet-50).
SMALL_RDA = dict(
    layer3=dict(
        num_heads=8,
        head_channels=32,
        num_groups=4,
        offset_stride=2,
        offset_kernel_size=5,
        rpe_size=(4, 4)),
    layer4=dict(
        num_heads=8,
        head_channels=64,
        num_groups=8,
        offset_stride=1,
        offset_kernel_size=3,
        rpe_size=(2, 2)))
BATCH_AUGMENT_TESTS = ('tests/test_models/test_data_preprocessors/'
                       'test_batch_augment.py')
# The tests there that use CUDA where it is available.
CUDA_TESTS_SELECTION = 'cuda or non_blocking'


def _free(device: torch.device) -> None:
    gc.collect()
    if device.type == 'cuda':
        torch.cuda.empty_cache()


def _synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


@contextlib.contextmanager
def _exact_fp32():
    """TF32 off (matmuls and cuDNN) for comparisons with the CPU."""
    flags = (torch.backends.cuda.matmul.allow_tf32,
             torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32,
         torch.backends.cudnn.allow_tf32) = flags


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| in float64."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


def total_loss(losses: dict) -> torch.Tensor:
    return sum(v for k, v in losses.items() if k.startswith('loss_'))


def check_loss(device: torch.device,
               batch: int = 256,
               dim: int = 2048) -> dict:
    """DeCUR loss value and gradients on the GPU vs float64 on the CPU."""
    g = torch.Generator().manual_seed(0)
    shared = torch.randn(batch, dim, generator=g)
    views = [shared + torch.randn(batch, dim, generator=g) for _ in range(4)]
    loss = DeCURLoss(dim_common=dim * 3 // 4)
    out = {}
    for name, dtype, ctx in (
        ('fp32', torch.float32, None),
        ('autocast_bf16', torch.bfloat16, torch.bfloat16),
        ('autocast_fp16', torch.float16, torch.float16),
    ):
        # The reference sees the same (rounded) embeddings in float64.
        ref = [v.to(dtype).double().detach().requires_grad_() for v in views]
        ref_loss = total_loss(loss(dict(m1=ref[:2], m2=ref[2:])))
        ref_loss.backward()
        gpu = [
            v.to(device=device, dtype=dtype, copy=True).requires_grad_()
            for v in views
        ]
        amp = (
            torch.autocast(device.type, dtype=ctx)
            if ctx is not None else nullcontext())
        with amp:
            gpu_loss = total_loss(loss(dict(m1=gpu[:2], m2=gpu[2:])))
        gpu_loss.backward()
        out[name] = dict(
            loss_dtype=str(gpu_loss.dtype),
            loss_rel_err=rel_err(gpu_loss, ref_loss),
            # bf16/fp16 leaves get gradients rounded to their dtype.
            grad_rel_err=max(
                rel_err(a.grad.float(), b.grad) for a, b in zip(gpu, ref)))
    return out


def check_deformable(device: torch.device, small: bool = False) -> dict:
    """DeformableAttention2d and RN50-RDA on the GPU vs the CPU (fp32);
    ``small``: a ResNet-18-RDA (:data:`SMALL_RDA`) at 64 px instead."""
    torch.manual_seed(0)
    out = {}
    # The paper's stage-3 module at two map sizes.
    settings = dict(RDA_PAPER_SETTINGS['layer3'], rpe_size=14)
    if small:
        settings = dict(SMALL_RDA['layer3'], rpe_size=7)
    channels = settings['num_heads'] * settings['head_channels']
    attn = DeformableAttention2d(channels, **settings)
    for size in ((7, 5) if small else (14, 9)):
        x = torch.randn(2, channels, size, size)
        with torch.no_grad():
            y_cpu, pos_cpu, _ = attn.cpu()(x)
            y_gpu, pos_gpu, _ = attn.to(device)(x.to(device))
        out[f'attention_{size}px'] = dict(
            out_rel_err=rel_err(y_gpu, y_cpu),
            points_max_abs_err=(pos_gpu.cpu() - pos_cpu).abs().max().item())
    # A whole RN50-RDA, forward and backward, in eval mode: train-mode BN
    # over the few pixels of small maps is ill-conditioned (fp32 vs fp64
    # on the CPU alone differs by ~2 %), which would hide kernel errors.
    model = (ResNet(18, in_channels=13, rda=SMALL_RDA) if small else ResNet(
        50, in_channels=13, rda=True)).eval()
    size = 64 if small else 96
    x = torch.randn(2, 13, size, size)
    results = {}
    for dev in (torch.device('cpu'), device):
        model.to(dev).zero_grad(set_to_none=True)
        feat = model(x.to(dev))[0]
        feat.square().mean().backward()
        results[dev.type] = (feat.detach().cpu(), {
            n: p.grad.detach().cpu()
            for n, p in model.named_parameters() if p.grad is not None
        })
    (f_cpu, g_cpu), (f_gpu, g_gpu) = results['cpu'], results[device.type]
    # Parameters whose true gradient is zero (biases before a softmax or a
    # BN) hold only rounding noise: left out of the per-parameter errors.
    scale = max(g.norm() for g in g_cpu.values())
    live = [n for n in g_cpu if g_cpu[n].norm() > 1e-6 * scale]
    out['rn50_rda'] = dict(
        out_rel_err=rel_err(f_gpu, f_cpu),
        grad_rel_err_global=rel_err(
            torch.cat([g_gpu[n].flatten() for n in g_cpu]),
            torch.cat([g_cpu[n].flatten() for n in g_cpu])),
        grad_rel_err_max=max(rel_err(g_gpu[n], g_cpu[n]) for n in live),
        grad_rel_err_rda=max(
            rel_err(g_gpu[n], g_cpu[n]) for n in live
            if n.startswith('da_layer')))
    return out


def check_backbones(device: torch.device,
                    batch: int = 4,
                    size: int = 224,
                    small: bool = False) -> dict:
    """Every backbone family forward + backward under bf16 autocast
    (``small``: ResNet-18, MiT-B0 and ViT-T for the plain families)."""
    init_default_scope('mmdecur')
    cases = {
        'ResNet-50, 13 bands': (dict(type='ResNet', depth=50,
                                     in_channels=13), 13),
        'ResNet-50-RDA, 2 bands':
        (dict(type='ResNet', depth=50, in_channels=2, rda=True), 2),
        'MiT-B2, 3 bands': (Config.fromfile(
            osp.join(ROOT, 'configs/decur/rgbd_mitb2.py')).model.backbone, 3),
        'ViT-S/16, 13 bands':
        (dict(type='TimmViT', arch='vit_small_patch16_224',
              in_channels=13), 13),
    }
    if small:
        cases['ResNet-50, 13 bands'] = (dict(
            type='ResNet', depth=18, in_channels=13), 13)
        cases['ResNet-50-RDA, 2 bands'] = (dict(
            type='ResNet', depth=18, in_channels=2, rda=SMALL_RDA), 2)
        cases['MiT-B2, 3 bands'] = (dict(type='MiT', arch='b0'), 3)
        cases['ViT-S/16, 13 bands'] = (dict(
            type='TimmViT', arch='vit_tiny_patch16_224', in_channels=13), 13)
    out = {}
    for name, (cfg, bands) in cases.items():
        cfg = dict(cfg)
        cfg.pop('init_cfg', None)
        model = MODELS.build(cfg).to(device).train()
        x = torch.randn(batch, bands, size, size, device=device)
        with torch.autocast(device.type, dtype=torch.bfloat16):
            feat = model(x)
        feat = feat[-1] if isinstance(feat, (tuple, list)) else feat
        feat.float().square().mean().backward()
        grads_finite = all(
            torch.isfinite(p.grad).all().item() for p in model.parameters()
            if p.grad is not None)
        out[name] = dict(
            shape=list(feat.shape),
            finite=bool(torch.isfinite(feat).all().item() and grads_finite))
        del model
        _free(device)
    return out


# --------------------------------------------------------------------------
# MiT under AMP
# --------------------------------------------------------------------------
def check_mit_amp(device: torch.device,
                  arch: str = 'b2',
                  batch: int = 64,
                  size: int = 224,
                  steps: int = 5,
                  warmup: int = 2) -> dict:
    """mmseg's MiT forward vs mmdecur's fast paths: equality, AMP dtypes,
    casts/copies and forward + backward time (both at ``batch`` images,
    e.g. 2 views x 32 of rgbd_mitb2)."""
    from mmdecur.models.backbones import MiT
    from mmdecur.testing.op_census import OpCensus
    torch.manual_seed(0)
    impls = {
        'mmseg': MiT(arch, sdpa_attention=False, linear_ffn=False),
        'mmdecur': MiT(arch),
    }
    impls['mmseg'].load_state_dict(impls['mmdecur'].state_dict())
    x = torch.randn(batch, 3, size, size, device=device)
    out = dict(arch=arch, batch=batch, size=size)

    def fwd_bwd(model, amp):
        ctx = (
            torch.autocast(device.type, dtype=torch.bfloat16)
            if amp else nullcontext())
        with ctx:
            y = model(x)[0]
        y.float().square().mean().backward()
        return y

    # fp32 equality (eval: no drop-path draws) on a slice of the batch
    with _exact_fp32(), torch.no_grad():
        ys = {
            k: m.to(device).eval()(x[:4])[0].float()
            for k, m in impls.items()
        }
    out['fp32_rel_err'] = rel_err(ys['mmdecur'], ys['mmseg'])
    for name, model in impls.items():
        model.to(device).train()
        with OpCensus() as census:
            fwd_bwd(model, True)
        model.zero_grad(set_to_none=True)
        casts = sum(
            n for (op, _), n in census.counts.items() if op == '_to_copy')
        kernels = sum(census.counts.values())
        res = dict(
            aten_ops=kernels,
            casts=casts,
            copy_mib={
                k: round(v, 1)
                for k, v in census.copy_mib().items()
            },
            heavy_not_bf16={
                f'{op}{list(d)}': n
                for (op, d), n in census.heavy_not_in('bfloat16').items()
            },
            softmax_calls=sum(census.ops(['_softmax']).values()))
        for amp in (False, True):
            for _ in range(warmup):  # cuDNN/cuBLAS plans
                fwd_bwd(model, amp)
            _synchronize(device)
            start = time.perf_counter()
            for _ in range(steps):
                fwd_bwd(model, amp)
            _synchronize(device)
            res['ms_amp' if amp else 'ms_fp32'] = (
                1e3 * (time.perf_counter() - start) / steps)
            model.zero_grad(set_to_none=True)
        if device.type == 'cuda':
            res['top_kernels_amp'] = _top_kernels(lambda: fwd_bwd(model, True))
            model.zero_grad(set_to_none=True)
        out[name] = res
        model.cpu()
        _free(device)
    return out


def _top_kernels(fn, rows: int = 12) -> List[dict]:
    """The GPU kernels that take the most time in one call of ``fn``."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    events = [e for e in prof.key_averages() if e.device_time_total > 0]
    total = sum(e.self_device_time_total for e in events) or 1.
    events.sort(key=lambda e: -e.self_device_time_total)
    return [
        dict(
            kernel=e.key[:120],
            calls=e.count,
            ms=round(e.self_device_time_total / 1e3, 3),
            share=round(e.self_device_time_total / total, 3))
        for e in events[:rows]
    ]


# --------------------------------------------------------------------------
# CUDA tests of the batch augmentations
# --------------------------------------------------------------------------
def run_cuda_tests(device: torch.device,
                   tests: str = BATCH_AUGMENT_TESTS) -> dict:
    """``pytest -k CUDA_TESTS_SELECTION`` on ``tests`` in a subprocess
    (CUDA only)."""
    if device.type != 'cuda':
        return dict(skipped='no CUDA device')
    cmd = [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider']
    if importlib.util.find_spec('xdist') is not None:
        cmd += ['-n', '0']
    cmd += ['-k', CUDA_TESTS_SELECTION, osp.join(ROOT, tests)]
    proc = subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
    return dict(returncode=proc.returncode, tail=tail)


# --------------------------------------------------------------------------
# training-step throughput
# --------------------------------------------------------------------------
_BENCHMARK = None


def _benchmark_module():
    global _BENCHMARK
    if _BENCHMARK is None:
        path = osp.join(ROOT, 'tools', 'analysis_tools',
                        'benchmark_train_step.py')
        spec = importlib.util.spec_from_file_location('benchmark_train_step',
                                                      path)
        _BENCHMARK = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(_BENCHMARK)
    return _BENCHMARK


def compile_switch(config: str) -> Optional[str]:
    """The config key that compiles the config's backbones, if any."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    init_default_scope(cfg.get('default_scope', 'mmdecur'))
    from mmdecur.models.algorithms.base import MultiModalSelfSupervisor
    model_cls = MODELS.get(cfg.model.type)
    if isinstance(model_cls, type) and issubclass(model_cls,
                                                  MultiModalSelfSupervisor):
        return 'model.compile_backbones'
    backbone = cfg.model.get('backbone')
    if isinstance(backbone,
                  dict) and backbone.get('type') == 'MultiModalEncoder':
        return 'model.backbone.compile_encoders'
    return None


def bench_train_step(config: str,
                     device: torch.device,
                     mode: str,
                     steps: int,
                     warmup: int,
                     extra_args: Sequence[str] = (),
                     compile_backend: Optional[str] = None) -> dict:
    """One run of ``benchmark_train_step.py`` (its CLI, in this process).

    ``benchmark_train_step.py CONFIG --device D [--amp] --steps N --warmup
    N --no-reference [--cfg-options <compile switch>]``; ``mode`` is one of
    :data:`MODES`. Adapt here if that tool's interface changes.

    Returns:
        dict: The tool's result (``real.samples_per_s``,
        ``real.peak_memory_mib``...).
    """
    if mode not in MODES:
        raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    argv = [
        osp.join(ROOT, config), '--device',
        str(device), '--steps',
        str(steps), '--warmup',
        str(warmup), '--no-reference', *extra_args
    ]
    if mode != 'fp32':
        argv.append('--amp')
    if mode == 'amp+compile':
        switch = compile_switch(config)
        if switch is None:
            raise NotImplementedError('no compile switch for this model')
        argv += [
            '--cfg-options', f'{switch}.backend={compile_backend}'
            if compile_backend else f'{switch}=True'
        ]
    try:
        return _benchmark_module().main(argv)
    finally:
        if mode == 'amp+compile' and hasattr(torch, '_dynamo'):
            torch._dynamo.reset()  # drop compiled graphs and their memory
        _free(device)


def run_throughput(configs: Sequence[str],
                   compile_configs: Sequence[str],
                   device: torch.device,
                   steps: int,
                   warmup: int,
                   deadline: float,
                   extra_args: Sequence[str] = (),
                   compile_backend: Optional[str] = None) -> dict:
    """fp32 and AMP for every config, then AMP + compile for
    ``compile_configs``; runs that would start after ``deadline``
    (``time.time()``) are skipped."""
    plan = [(c, m) for c in configs for m in ('fp32', 'amp')]
    plan += [(c, 'amp+compile') for c in compile_configs]
    results = {c: {} for c in list(configs) + list(compile_configs)}
    longest = {'fp32': 0., 'amp': 0., 'amp+compile': 60.}
    for config, mode in plan:
        if time.time() + longest[mode] > deadline:
            results[config][mode] = dict(skipped='time budget')
            print(f'{config} ({mode}): skipped (time budget)', flush=True)
            continue
        start = time.time()
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always', CompileFallbackWarning)
                res = bench_train_step(config, device, mode, steps, warmup,
                                       extra_args, compile_backend)
            real = res['real']
            entry = dict(
                samples_per_s=real['samples_per_s'],
                ms_per_step=real['ms_per_step'],
                peak_memory_mib=real['peak_memory_mib'],
                batch_size=res['batch_size'],
                loss_step1=real['loss_step1'],
                phases_ms=real['phases_ms'])
            fallbacks = [
                str(w.message) for w in caught
                if issubclass(w.category, CompileFallbackWarning)
            ]
            if fallbacks:  # it ran, but (partly) eagerly
                entry['compile_fallback'] = fallbacks
        except NotImplementedError as e:
            entry = dict(skipped=str(e))
        except Exception as e:  # keep measuring the others
            entry = dict(error=f'{type(e).__name__}: {e}'[:500])
            _free(device)
        entry['wall_s'] = time.time() - start
        longest[mode] = max(longest[mode], entry['wall_s'])
        results[config][mode] = entry
        print(f'{config} ({mode}): {json.dumps(entry)}', flush=True)
    return results


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
def _cell(entry: Optional[dict], key: str, fmt: str) -> str:
    if not entry:
        return ''
    if 'error' in entry:
        return 'error'
    if 'skipped' in entry:
        return 'n/a' if 'switch' in entry['skipped'] else 'skipped'
    text = fmt.format(entry[key])
    return text + ' (eager: compile failed)' if entry.get(
        'compile_fallback') else text


def markdown_table(report: dict) -> str:
    env = report['env']
    lines = [
        f"### Training throughput, {env['date']}",
        '',
        f"{env['device_name']}; torch {env['torch']}, CUDA {env['cuda']}, "
        f"cuDNN {env['cudnn']}, mmcv {env['mmcv']}. Per-GPU batch of the "
        f"config, synthetic uint8 batches (no data loading), "
        f"{report['settings']['steps']} timed steps after "
        f"{report['settings']['warmup']} warm-up; AMP is bf16 "
        f"(`--amp`); compile is AMP with the backbones compiled "
        f"(`model.compile_backbones` / `model.backbone.compile_encoders`, "
        f"{report['settings']['compile']}; n/a: no switch). Peak memory: "
        f"{env['peak_memory']}.",
        '',
        '| config | batch | fp32 samples/s | AMP | AMP / fp32 | AMP + compile '
        '| peak GiB fp32 / AMP / compile |',
        '|---|---|---|---|---|---|---|',
    ]
    for config, runs in report['throughput'].items():
        fp32, amp, comp = (runs.get(m) for m in MODES)
        batch = next((r['batch_size']
                      for r in (fp32, amp, comp) if r and 'batch_size' in r),
                     '')
        ratio = ''
        if fp32 and amp and 'samples_per_s' in fp32 and ('samples_per_s'
                                                         in amp):
            ratio = f"{amp['samples_per_s'] / fp32['samples_per_s']:.2f}x"
        mem = ' / '.join(f"{r['peak_memory_mib'] / 1024:.1f}"
                         if r and 'peak_memory_mib' in r else _cell(r, '', '')
                         for r in (fp32, amp, comp))
        lines.append(f'| `{osp.basename(config)}` | {batch} | '
                     f"{_cell(fp32, 'samples_per_s', '{:.0f}')} | "
                     f"{_cell(amp, 'samples_per_s', '{:.0f}')} | {ratio} | "
                     f"{_cell(comp, 'samples_per_s', '{:.0f}')} | {mem} |")
    mit = report.get('mit_amp')
    if mit:
        lines += [
            '',
            f"MiT-{mit['arch'].upper()} backbone forward + backward, "
            f"{mit['batch']} images of {mit['size']} px (fp32 outputs of the "
            f"two forwards differ by {mit['fp32_rel_err']:.1e}):",
            '',
            '| forward | fp32 ms | AMP ms | AMP / fp32 speed | ATen ops '
            '(AMP) | casts | heavy ops not in bf16 |',
            '|---|---|---|---|---|---|---|',
        ]
        for name in ('mmseg', 'mmdecur'):
            r = mit[name]
            lines.append(
                f"| {name} | {r['ms_fp32']:.1f} | {r['ms_amp']:.1f} | "
                f"{r['ms_fp32'] / r['ms_amp']:.2f}x | {r['aten_ops']} | "
                f"{r['casts']} | {sum(r['heavy_not_bf16'].values())} |")
    if report.get('failed'):
        lines += ['', f"Failed: {report['failed']}"]
    return '\n'.join(lines) + '\n'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='small sizes, the demo config only, compile with the eager '
        'backend: a smoke test of this script (e.g. --device cpu)')
    parser.add_argument('--steps', type=int, help='timed steps per run')
    parser.add_argument('--warmup', type=int, help='warm-up steps per run')
    parser.add_argument(
        '--configs',
        nargs='+',
        help='throughput configs (default: the pretraining and FCN/CMX '
        'configs)')
    parser.add_argument(
        '--compile-configs',
        nargs='*',
        help='configs also timed with compiled backbones (default: one per '
        'backbone family)')
    parser.add_argument(
        '--budget-s',
        type=float,
        default=400,
        help='start no throughput run after this many seconds')
    parser.add_argument(
        '--skip',
        nargs='*',
        default=[],
        choices=[
            'loss', 'deformable', 'backbones', 'mit', 'tests', 'throughput'
        ],
        help='sections to leave out')
    parser.add_argument('--out', help='write the results as JSON here')
    parser.add_argument(
        '--table',
        help='write the markdown tables here (default: next to '
        '--out, .md)')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.quick and torch.device(args.device).type == 'cpu':
        # Small ops on a (shared) CPU: more threads only spin and wait.
        torch.set_num_threads(1)
    try:
        return _main(args)
    finally:
        torch.set_num_threads(threads)


def _main(args) -> dict:
    begin = time.time()
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        raise SystemExit('check_cuda.py: no CUDA device visible to PyTorch')
    quick = args.quick
    steps = args.steps or (1 if quick else 6)
    warmup = args.warmup if args.warmup is not None else (1 if quick else 2)
    configs = args.configs or list(
        QUICK_CONFIGS if quick else PRETRAIN_CONFIGS + SEG_CONFIGS)
    compile_configs = (
        args.compile_configs if args.compile_configs is not None else
        list(QUICK_CONFIGS if quick else COMPILE_CONFIGS))
    import mmcv
    flavour = 'full' if mmcv_ops_available() else 'lite'
    cuda = device.type == 'cuda'
    report = dict(
        env=dict(
            date=datetime.date.today().isoformat(),
            device=str(device),
            device_name=(torch.cuda.get_device_name(device)
                         if cuda else 'CPU'),
            torch=torch.__version__,
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
            mmcv=f'{mmcv.__version__} ({flavour})',
            peak_memory=('torch.cuda.max_memory_allocated'
                         if cuda else 'process peak RSS')),
        settings=dict(
            quick=quick,
            steps=steps,
            warmup=warmup,
            budget_s=args.budget_s,
            compile='Inductor' if cuda and not quick else 'eager backend'))
    print(json.dumps(report, indent=1), flush=True)

    def section(key, name, fn, *fn_args):
        if name in args.skip:
            return
        start = time.time()
        try:
            # exact fp32 for the comparisons; MiT timings at the defaults
            with _exact_fp32() if name != 'mit' else nullcontext():
                report[key] = fn(*fn_args)
        except Exception as e:  # report it, go on with the others
            report.setdefault('errors',
                              {})[key] = (f'{type(e).__name__}: {e}'[:1000])
            print(f'{key}: FAILED: {e!r}', flush=True)
            _free(device)
            return
        finally:
            report.setdefault('section_s', {})[key] = time.time() - start
        print(f'{key}:', json.dumps(report[key], indent=1), flush=True)

    section('loss', 'loss', check_loss, device,
            *((64, 256) if quick else (256, 2048)))
    section('deformable', 'deformable', check_deformable, device, quick)
    section('backbones', 'backbones', check_backbones, device,
            *((2, 64, True) if quick else (4, 224, False)))
    section('mit_amp', 'mit', check_mit_amp, device,
            *(('b0', 2, 64, 1, 0) if quick else ('b2', 64, 224, 5, 2)))
    section('cuda_tests', 'tests', run_cuda_tests, device)
    if 'throughput' not in args.skip:
        start = time.time()
        extra = ['--batch-size', '4'] if quick else []
        report['throughput'] = run_throughput(
            configs,
            compile_configs,
            device,
            steps,
            warmup,
            deadline=begin + args.budget_s,
            extra_args=extra,
            compile_backend=None if cuda and not quick else 'eager')
        report.setdefault('section_s', {})['throughput'] = time.time() - start
    report['total_s'] = time.time() - begin

    report['failed'] = [list(map(str, f)) for f in failures(report)]
    out = args.out
    table = args.table or (osp.splitext(out)[0] + '.md' if out else None)
    if out:
        os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
        with open(out, 'w') as f:
            json.dump(report, f, indent=1)
    if table and 'throughput' in report:
        os.makedirs(osp.dirname(osp.abspath(table)), exist_ok=True)
        with open(table, 'w') as f:
            f.write(markdown_table(report))
    if 'throughput' in report:
        print(markdown_table(report))
    print(f"total {report['total_s']:.0f} s; " +
          ('FAILED: ' +
           str(report['failed']) if report['failed'] else 'all checks passed'))
    return report


def failures(report: dict) -> List[tuple]:
    """``(check, value, bound)`` of everything that failed."""
    bounds = []
    for name, r in report.get('loss', {}).items():
        bounds.append((f'loss {name} value', r['loss_rel_err'], 1e-5))
        bounds.append((f'loss {name} grads', r['grad_rel_err'],
                       1e-5 if name == 'fp32' else 1e-2))
    deformable = report.get('deformable')
    if deformable:
        for name, r in deformable.items():
            bounds.append((f'{name} output', r['out_rel_err'], 1e-4))
        # cuDNN's fp32 convolution algorithms (Winograd, FFT) are accurate
        # to ~1e-3 in the plain ResNet layers; the deformable attention's
        # own parameters get the tight bound.
        rda = deformable['rn50_rda']
        bounds.append(
            ('rn50_rda grads (global)', rda['grad_rel_err_global'], 1e-3))
        bounds.append(
            ('rn50_rda grads (per parameter)', rda['grad_rel_err_max'], 1e-2))
        bounds.append(('rn50_rda grads (attention parameters)',
                       rda['grad_rel_err_rda'], 1e-4))
    mit = report.get('mit_amp')
    if mit:
        bounds.append(
            ('MiT fast paths vs mmseg (fp32)', mit['fp32_rel_err'], 1e-4))
        bounds.append(('MiT (mmdecur) heavy ops not in bf16 under AMP',
                       sum(mit['mmdecur']['heavy_not_bf16'].values()), 0))
    failed = [(n, v, b) for n, v, b in bounds if not v <= b]
    failed += [(f'section {k}', e, None)
               for k, e in report.get('errors', {}).items()]
    failed += [(f'backbone {n}', 'not finite', None)
               for n, r in report.get('backbones', {}).items()
               if not r['finite']]
    tests = report.get('cuda_tests', {})
    if tests.get('returncode'):
        failed.append(('CUDA tests', tests['returncode'], 0))
    for config, runs in report.get('throughput', {}).items():
        for mode, r in runs.items():
            if 'error' in r:
                failed.append((f'{config} ({mode})', r['error'], None))
    return failed


if __name__ == '__main__':
    if main()['failed']:
        raise SystemExit(1)

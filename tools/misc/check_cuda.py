# Copyright (c) mmdecur contributors. All rights reserved.
"""Check mmdecur's CUDA paths against the CPU and time training steps.

Run it once on a new GPU machine or software stack, before a long run:

1. the DeCUR loss on the GPU (fp32, and under bf16/fp16 autocast, where it
   must still compute in fp32) against float64 on the CPU, values and
   gradients;
2. the deformable attention and a whole RN50-RDA (forward and backward) on
   the GPU against the CPU, in fp32 with TF32 off;
3. every backbone family forward + backward under bf16 autocast (finite,
   right shapes);
4. training-step throughput (samples/s, peak memory) of pretraining configs
   at their per-GPU batch size, fp32 vs AMP (and, for MiT/ViT, the views of
   a modality batched through the backbone vs one call per view).

Example::

    python tools/misc/check_cuda.py --out work_dirs/check_cuda.json

Exits 1 if an error bound is exceeded.
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import json
import os.path as osp
import time
from contextlib import nullcontext
from typing import Optional

import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.registry import init_default_scope

from mmdecur.compat import mmcv_ops_available
from mmdecur.models.backbones import DeformableAttention2d, ResNet
from mmdecur.models.losses import DeCURLoss
from mmdecur.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
THROUGHPUT_CONFIGS = ('configs/decur/rgbd_mitb2.py',
                      'configs/decur/sar_optical_vits16.py',
                      'configs/decur/sar_optical_rn50.py',
                      'configs/decur/sar_optical_rn50_rda.py')


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||b|| in float64."""
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return ((a - b).norm() / b.norm().clamp_min(1e-300)).item()


def total_loss(losses: dict) -> torch.Tensor:
    return sum(v for k, v in losses.items() if k.startswith('loss_'))


def check_loss(device: torch.device) -> dict:
    """DeCUR loss value and gradients on the GPU vs float64 on the CPU."""
    g = torch.Generator().manual_seed(0)
    batch, dim = 256, 2048
    shared = torch.randn(batch, dim, generator=g)
    views = [shared + torch.randn(batch, dim, generator=g) for _ in range(4)]
    loss = DeCURLoss(dim_common=1536)
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


def check_deformable(device: torch.device) -> dict:
    """DeformableAttention2d and RN50-RDA on the GPU vs the CPU (fp32)."""
    torch.manual_seed(0)
    out = {}
    # The paper's stage-3 module at two map sizes.
    attn = DeformableAttention2d(
        1024,
        num_heads=8,
        head_channels=128,
        num_groups=4,
        offset_stride=2,
        offset_kernel_size=5,
        rpe_size=14)
    for size in (14, 9):
        x = torch.randn(2, 1024, size, size)
        with torch.no_grad():
            y_cpu, pos_cpu, _ = attn.cpu()(x)
            y_gpu, pos_gpu, _ = attn.to(device)(x.to(device))
        out[f'attention_{size}px'] = dict(
            out_rel_err=rel_err(y_gpu, y_cpu),
            points_max_abs_err=(pos_gpu.cpu() - pos_cpu).abs().max().item())
    # A whole RN50-RDA, forward and backward, in eval mode: train-mode BN
    # over the few pixels of small maps is ill-conditioned (fp32 vs fp64
    # on the CPU alone differs by ~2 %), which would hide kernel errors.
    model = ResNet(50, in_channels=13, rda=True).eval()
    x = torch.randn(2, 13, 96, 96)
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


def check_backbones(device: torch.device) -> dict:
    """Every backbone family forward + backward under bf16 autocast."""
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
    out = {}
    for name, (cfg, bands) in cases.items():
        cfg = dict(cfg)
        cfg.pop('init_cfg', None)
        model = MODELS.build(cfg).to(device).train()
        x = torch.randn(4, bands, 224, 224, device=device)
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
        torch.cuda.empty_cache()
    return out


def _fake_batch(model, batch: int, size: int, device: torch.device) -> dict:
    prep = model.data_preprocessor
    return dict(
        inputs={
            m: [
                torch.randint(
                    0,
                    256, (batch, prep.num_bands(m), size, size),
                    dtype=torch.uint8,
                    device=device).float() for _ in range(2)
            ]
            for m in prep.modalities
        })


def time_training(config: str,
                  device: torch.device,
                  amp: bool,
                  steps: int,
                  batch_views: Optional[bool] = None) -> dict:
    """Samples/s of ``train_step`` at the config's per-GPU batch size."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    init_default_scope('mmdecur')
    cfg.model.pop('init_cfg', None)
    cfg.model.backbone.pop('init_cfg', None)
    if cfg.get('data_preprocessor'):  # as the Runner merges it
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    cfg.model.batch_views = batch_views
    model = MODELS.build(cfg.model).to(device).train()
    batch = cfg.train_dataloader.batch_size
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    wrapper = (
        AmpOptimWrapper(optimizer=optimizer, dtype='bfloat16')
        if amp else OptimWrapper(optimizer))
    data = _fake_batch(model, batch, 224, device)
    torch.cuda.reset_peak_memory_stats(device)
    for _ in range(3):
        model.train_step(data, wrapper)
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        log = model.train_step(data, wrapper)
    torch.cuda.synchronize(device)
    sec = (time.perf_counter() - start) / steps
    result = dict(
        batch=batch,
        batch_views=model.batch_views,
        ms_per_step=1e3 * sec,
        samples_per_s=batch / sec,
        peak_mem_gib=torch.cuda.max_memory_allocated(device) / 2**30,
        loss=float(log['loss'].detach()))
    del model, wrapper, optimizer
    torch.cuda.empty_cache()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--steps', type=int, default=10)
    parser.add_argument(
        '--configs', nargs='+', default=list(THROUGHPUT_CONFIGS))
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args()
    device = torch.device(args.device)
    if not torch.cuda.is_available():
        raise SystemExit('check_cuda.py: no CUDA device visible to PyTorch')
    # Exact fp32 for the CPU comparisons; AMP timings are unaffected.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    import mmcv
    flavour = 'full' if mmcv_ops_available() else 'lite'
    report = dict(
        device=torch.cuda.get_device_name(device),
        torch=torch.__version__,
        cuda=torch.version.cuda,
        mmcv=f'{mmcv.__version__} ({flavour})')
    print(json.dumps(report, indent=1), flush=True)
    report['loss'] = check_loss(device)
    print('loss:', json.dumps(report['loss'], indent=1), flush=True)
    report['deformable'] = check_deformable(device)
    print(
        'deformable:', json.dumps(report['deformable'], indent=1), flush=True)
    report['backbones'] = check_backbones(device)
    print('backbones:', json.dumps(report['backbones'], indent=1), flush=True)
    # PyTorch's defaults again for the timings (cuDNN may use TF32).
    torch.backends.cudnn.allow_tf32 = True
    report['throughput'] = {}
    for config in args.configs:
        runs = [('fp32', False, None), ('AMP bf16', True, None)]
        if 'mit' in config or 'vit' in config:
            # Views batched (the default for LayerNorm backbones) vs one
            # backbone call per view.
            runs.append(('AMP bf16, one call per view', True, False))
        for name, amp, batch_views in runs:
            key = f'{config} ({name})'
            res = time_training(config, device, amp, args.steps, batch_views)
            report['throughput'][key] = res
            print(
                f'{key}: {res["samples_per_s"]:.0f} samples/s '
                f'({res["ms_per_step"]:.0f} ms/step, batch {res["batch"]}), '
                f'peak {res["peak_mem_gib"]:.1f} GiB',
                flush=True)

    bounds = []
    for name, r in report['loss'].items():
        bounds.append((f'loss {name} value', r['loss_rel_err'], 1e-5))
        bounds.append((f'loss {name} grads', r['grad_rel_err'],
                       1e-5 if name == 'fp32' else 1e-2))
    for name, r in report['deformable'].items():
        bounds.append((f'{name} output', r['out_rel_err'], 1e-4))
    # cuDNN's fp32 convolution algorithms (Winograd, FFT) are accurate to
    # ~1e-3 in the plain ResNet layers; the deformable attention's own
    # parameters get the tight bound.
    rda = report['deformable']['rn50_rda']
    bounds.append(
        ('rn50_rda grads (global)', rda['grad_rel_err_global'], 1e-3))
    bounds.append(
        ('rn50_rda grads (per parameter)', rda['grad_rel_err_max'], 1e-2))
    bounds.append(('rn50_rda grads (attention parameters)',
                   rda['grad_rel_err_rda'], 1e-4))
    failed = [(n, v, b) for n, v, b in bounds if not v <= b]
    failed += [(n, 'not finite', None) for n, r in report['backbones'].items()
               if not r['finite']]
    report['failed'] = [list(map(str, f)) for f in failed]
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=1)
    print('FAILED: ' + str(failed) if failed else 'all checks passed')
    if failed:
        raise SystemExit(1)


if __name__ == '__main__':
    main()

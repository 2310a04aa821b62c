# Copyright (c) mmdecur contributors. All rights reserved.
"""Time forward + backward of ResNet-50 with and without DeCUR's RDA.

Example::

    python tools/analysis_tools/benchmark_backbone.py --size 224 --batch 8
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import time

import torch

from mmdecur.models.backbones import ResNet


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Benchmark RN50 vs RN50-RDA (paper settings), '
        'forward + backward, pooled output.')
    parser.add_argument('--size', type=int, default=224, help='input size')
    parser.add_argument(
        '--batch', type=int, default=8, help='batch size (small for CPU)')
    parser.add_argument(
        '--in-channels', type=int, default=3, help='input bands')
    parser.add_argument('--iters', type=int, default=5, help='timed steps')
    parser.add_argument(
        '--warmup', type=int, default=2, help='untimed steps first')
    parser.add_argument(
        '--device', default='cpu', help='e.g. cpu, cuda, cuda:1')
    parser.add_argument(
        '--amp', action='store_true', help='bf16 autocast (as --amp trains)')
    return parser.parse_args()


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_step(model: torch.nn.Module,
              x: torch.Tensor,
              iters: int,
              warmup: int,
              amp: bool = False) -> float:
    """Mean seconds of one forward + backward pass."""
    model.train()
    for i in range(warmup + iters):
        if i == warmup:
            synchronize(x.device)
            start = time.perf_counter()
        model.zero_grad(set_to_none=True)
        with torch.autocast(x.device.type, torch.bfloat16, enabled=amp):
            out = model(x)[0]
        out.float().square().mean().backward()
    synchronize(x.device)
    return (time.perf_counter() - start) / iters


def main() -> None:
    args = parse_args()
    device = torch.device(args.device)
    torch.manual_seed(0)
    x = torch.randn(
        args.batch, args.in_channels, args.size, args.size, device=device)
    models = {
        'RN50': ResNet(50, in_channels=args.in_channels),
        'RN50-RDA': ResNet(50, in_channels=args.in_channels, rda=True),
    }
    print(f'device={device} input={tuple(x.shape)} iters={args.iters} '
          f'warmup={args.warmup} threads={torch.get_num_threads()} '
          f'amp={"bf16" if args.amp else "off"}')
    times = {}
    for name, model in models.items():
        model.to(device)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        times[name] = time_step(model, x, args.iters, args.warmup, args.amp)
        print(f'{name:>9}: {params:7.2f} M params, '
              f'{times[name] * 1e3:9.1f} ms / step '
              f'({args.batch / times[name]:.1f} img/s)')
        model.cpu()
    print(f'overhead RDA / plain: {times["RN50-RDA"] / times["RN50"]:.2f}x')


if __name__ == '__main__':
    main()

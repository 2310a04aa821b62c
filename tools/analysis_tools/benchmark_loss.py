# Copyright (c) mmdecur contributors. All rights reserved.
"""Benchmark the DeCUR loss against a plain K x K implementation.

Times forward + backward of :class:`DeCURLoss` (Gram-matrix route, never
forming K x K) and of a plain reference that builds the full K x K
cross-correlation matrices the way the official code does (one per
modality for the intra terms, one per pair of modalities for the cross
terms: M + M(M-1)/2 matrices), checks that both give the same value, and
prints the time ratio plus the bytes each approach communicates per step
under DDP.

    python tools/analysis_tools/benchmark_loss.py --batch 256 --dim 8192 \
        --dim-common 6144 [--modalities 3]
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import time
from itertools import combinations

import torch
import torch.nn.functional as F

from mmdecur.models.losses import DeCURLoss

LAMBD = 0.0051


def plain_reference(views, kc):
    """The official formulation, extended pair by pair: K x K matrices."""
    n = views[0][0].shape[0]

    def bn(z):
        return F.batch_norm(z, None, None, training=True, eps=1e-5)

    def xcorr(a, b):
        return bn(a).T @ bn(b) / n

    def bt(c, target):
        diag = torch.diagonal(c)
        off = c.pow(2).sum() - diag.pow(2).sum()
        return (diag - target).pow(2).sum() + LAMBD * off

    loss = sum(bt(xcorr(*v), 1.) for v in views)
    for a, b in combinations(views, 2):
        c = xcorr(a[0], b[0])
        loss = loss + bt(c[:kc, :kc], 1.) + bt(c[kc:, kc:], 0.)
    return loss


def time_fn(fn, inputs, warmup, iters, device):

    def step():
        for z in inputs:
            z.grad = None
        loss = fn()
        loss.backward()
        return loss

    for _ in range(warmup):
        step()
    if device.type == 'cuda':
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        loss = step()
    if device.type == 'cuda':
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / iters, loss.detach()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--batch', type=int, default=256)
    parser.add_argument('--dim', type=int, default=8192)
    parser.add_argument('--dim-common', type=int, default=6144)
    parser.add_argument(
        '--modalities', type=int, default=2, help='M, number of modalities')
    parser.add_argument(
        '--world-size',
        type=int,
        default=4,
        help='for the communication estimate')
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args()

    device = torch.device(args.device)
    g = torch.Generator().manual_seed(0)
    num = args.modalities
    shared = torch.randn(args.batch, args.dim, generator=g)
    flat = [(shared + torch.randn(args.batch, args.dim,
                                  generator=g)).to(device).requires_grad_()
            for _ in range(2 * num)]
    views = [flat[2 * i:2 * i + 2] for i in range(num)]
    loss_module = DeCURLoss(dim_common=args.dim_common)

    def ours():
        out = loss_module({f'm{i + 1}': v for i, v in enumerate(views)})
        return sum(v for k, v in out.items() if k.startswith('loss_'))

    t_ours, l_ours = time_fn(ours, flat, args.warmup, args.iters, device)
    t_ref, l_ref = time_fn(lambda: plain_reference(views, args.dim_common),
                           flat, args.warmup, args.iters, device)
    rel = ((l_ours - l_ref).abs() / l_ref.abs()).item()

    n, k, w = args.batch, args.dim, args.world_size
    mib = 2.0**20
    num_matrices = num + num * (num - 1) // 2
    gather = 2 * num * n * k * 4  # 2M embeddings, fp32, global batch each
    # all-gather forward + all-reduce of the same size backward
    ours_comm = 2 * gather
    ref_comm = num_matrices * k * k * 4  # all-reduced (forward only)
    print(f'DeCUR loss, M={num} modalities, B={n}, K={k}, '
          f'Kc={args.dim_common}, device={device}, torch '
          f'{torch.__version__}, {torch.get_num_threads()} threads')
    print(f'  plain ({num_matrices} x KxK matrices) : {t_ref * 1e3:9.1f} ms '
          'fwd+bwd')
    print(f'  mmdecur (Gram matrices)  : {t_ours * 1e3:9.1f} ms fwd+bwd')
    print(f'  time ratio mmdecur/plain : {t_ours / t_ref:9.3f}')
    print(f'  loss values agree to     : {rel:.1e} (relative)')
    print(f'  communication per step (W={w}): mmdecur {ours_comm / mib:.0f} '
          f'MiB (all-gather {n}x{k} x{2 * num} fwd + all-reduce bwd; '
          f'{n * k * 4 / mib:.0f} MiB per embedding) vs plain '
          f'{ref_comm / mib:.0f} MiB ({k * k * 4 / mib:.0f} MiB per matrix): '
          f'ratio {ours_comm / ref_comm:.3f}')


if __name__ == '__main__':
    main()

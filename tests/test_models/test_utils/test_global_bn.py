# Copyright (c) mmdecur contributors. All rights reserved.
"""GlobalBN and the differentiable gather: 2 gloo ranks == 1 process."""
import pytest
import torch
import torch.nn as nn

from mmdecur.models.losses import DeCURLoss
from mmdecur.models.utils import GlobalBatchNorm, gather_batch
from mmdecur.testing import run_distributed


def batch(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=torch.float64) * 3 + 5


def bn_step(x, weight_seed=1):
    """Forward + backward of GlobalBN (N, C, H, W) with a non-trivial loss."""
    bn = GlobalBatchNorm(x.shape[1], momentum=0.3).double()
    nn.init.normal_(
        bn.weight, generator=torch.Generator().manual_seed(weight_seed))
    x = x.clone().requires_grad_()
    out = bn(x)
    loss = (out**3).sum()
    loss.backward()
    return dict(
        out=out.detach(),
        grad_x=x.grad,
        grad_w=bn.weight.grad,
        running_mean=bn.running_mean,
        running_var=bn.running_var)


def _bn_rank(rank, world_size, x):
    local = x.chunk(world_size)[rank]
    result = bn_step(local)
    # DDP averages parameter gradients; sum-of-losses semantics otherwise.
    torch.distributed.all_reduce(result['grad_w'])
    return result


def test_single_process_is_batchnorm():
    x = batch((6, 4, 3, 3))
    ours = bn_step(x)
    ref = nn.BatchNorm2d(4, momentum=0.3).double()
    nn.init.normal_(ref.weight, generator=torch.Generator().manual_seed(1))
    xr = x.clone().requires_grad_()
    (ref(xr)**3).sum().backward()
    torch.testing.assert_close(ours['grad_x'], xr.grad)
    torch.testing.assert_close(ours['running_var'], ref.running_var)


def test_two_ranks_equal_one_process_on_the_concatenated_batch():
    # Unequal split (5 + 3) also exercises the padding in gather_batch.
    x = batch((8, 3, 2, 2))
    single = bn_step(x)
    ranks = run_distributed(_bn_rank_uneven, 2, x)
    torch.testing.assert_close(
        torch.cat([r['out'] for r in ranks]), single['out'])
    torch.testing.assert_close(
        torch.cat([r['grad_x'] for r in ranks]), single['grad_x'])
    torch.testing.assert_close(ranks[0]['grad_w'], single['grad_w'])
    for r in ranks:
        torch.testing.assert_close(r['running_mean'], single['running_mean'])
        torch.testing.assert_close(r['running_var'], single['running_var'])


def _bn_rank_uneven(rank, world_size, x):
    local = x[:5] if rank == 0 else x[5:]
    result = bn_step(local)
    torch.distributed.all_reduce(result['grad_w'])
    return result


def _gather_rank(rank, world_size, x):
    local = (x[:3] if rank == 0 else x[3:]).clone().requires_grad_()
    full = gather_batch(local)
    # Each rank's own loss; the true objective is their sum.
    loss = (full * (rank + 1)).pow(2).sum()
    loss.backward()
    return dict(full=full.detach(), grad=local.grad)


def test_gather_batch_backward_sums_every_ranks_gradient():
    x = batch((7, 4))
    ranks = run_distributed(_gather_rank, 2, x)
    for r in ranks:
        torch.testing.assert_close(r['full'], x)
    # d/dx sum_r (r+1)^2 x^2 = 2 * (1 + 4) * x
    torch.testing.assert_close(torch.cat([r['grad'] for r in ranks]), 10 * x)


def _loss_rank(rank, world_size, views):
    local = {
        m: [v.chunk(world_size)[rank].clone().requires_grad_() for v in vs]
        for m, vs in views.items()
    }
    out = DeCURLoss(dim_common=12)(local)
    total = sum(v for k, v in out.items() if k.startswith('loss'))
    total.backward()
    grads = {m: [v.grad for v in vs] for m, vs in local.items()}
    # DDP averages; emulate it on the inputs' gradient contributions.
    return dict(total=total.detach(), grads=grads)


@pytest.mark.parametrize('world_size', [2])
def test_decur_loss_is_exact_across_ranks(world_size):
    views = {
        m: [batch((8, 16), seed=s) for s in (i, i + 10)]
        for i, m in enumerate(('rgb', 'hha'))
    }
    ref_views = {
        m: [v.clone().requires_grad_() for v in vs]
        for m, vs in views.items()
    }
    out = DeCURLoss(dim_common=12)(ref_views)
    total = sum(v for k, v in out.items() if k.startswith('loss'))
    total.backward()
    ranks = run_distributed(_loss_rank, world_size, views)
    for r in ranks:
        torch.testing.assert_close(r['total'], total.detach())
    for m in views:
        for i in range(2):
            # gather's backward sums the W identical per-rank losses; DDP's
            # 1/W average on parameters brings that back to the true value.
            got = torch.cat([r['grads'][m][i] for r in ranks]) / world_size
            torch.testing.assert_close(got, ref_views[m][i].grad)

# Copyright (c) mmdecur contributors. All rights reserved.
"""DeCUR under DDP (2 gloo ranks) equals one process on the whole batch."""
import pytest
import torch

from mmdecur.testing import run_distributed

BATCH = 8


def build_model(dtype=torch.float32):
    from mmdecur.registry import MODELS
    from mmdecur.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='DeCUR',
            backbone=dict(
                type='ResNet',
                depth=18,
                base_channels=4,
                stem_channels=4,
                norm_cfg=dict(type='GlobalBN')),
            projector=dict(type='Projector', hid_channels=24, out_channels=24),
            loss=dict(type='DeCURLoss', common_ratio=0.75),
            data_preprocessor=dict(
                type='MultiModalDataPreprocessor',
                modalities=dict(
                    rgb=dict(mean=[100.] * 3, std=[50.] * 3),
                    hha=dict(mean=[80.] * 3, std=[40.] * 3))))).to(dtype)


def make_batch():
    g = torch.Generator().manual_seed(1)
    return {
        m: [
            torch.randint(
                0, 256, (BATCH, 3, 32, 32), generator=g, dtype=torch.uint8)
            for _ in range(2)
        ]
        for m in ('rgb', 'hha')
    }


def step(model, inputs):
    module = model.module if hasattr(model, 'module') else model
    data = module.data_preprocessor(dict(inputs=inputs), True)
    losses = model(**data, mode='loss')
    loss, _ = module.parse_losses(losses)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in module.named_parameters()}
    buffers = {
        n: b.clone()
        for n, b in module.named_buffers() if 'running' in n
    }
    return dict(loss=loss.detach(), grads=grads, buffers=buffers)


def _rank(rank, world_size, inputs, dtype):
    from mmdecur.engine import DeviceAgnosticDDP
    model = DeviceAgnosticDDP(
        module=build_model(dtype), device_ids=[0], broadcast_buffers=False)
    local = {
        m: [v.chunk(world_size)[rank] for v in views]
        for m, views in inputs.items()
    }
    return step(model, local)


def rel_err(a, b):
    return ((a - b).norm() / b.norm().clamp(min=1e-12)).item()


@pytest.mark.parametrize(
    'dtype,per_param_tol,total_tol',
    [
        # float64 shows the computation is exact; float32 differs by rounding.
        (torch.float64, 1e-9, 1e-9),
        (torch.float32, 1e-4, 1e-5),
    ])
def test_loss_and_every_gradient_equal_a_single_process(
        dtype, per_param_tol, total_tol):
    inputs = make_batch()
    single = step(build_model(dtype), inputs)
    ranks = run_distributed(_rank, 2, inputs, dtype)
    for r in ranks:
        assert rel_err(r['loss'], single['loss']) <= total_tol
    names = list(single['grads'])
    worst = max(
        rel_err(ranks[0]['grads'][n], single['grads'][n]) for n in names)
    assert worst <= per_param_tol, worst
    flat = torch.cat([ranks[0]['grads'][n].flatten() for n in names])
    flat_ref = torch.cat([single['grads'][n].flatten() for n in names])
    assert rel_err(flat, flat_ref) <= total_tol
    # DDP leaves identical gradients on every rank.
    for n, g in ranks[0]['grads'].items():
        assert torch.equal(g, ranks[1]['grads'][n])
    for n, b in single['buffers'].items():
        assert rel_err(ranks[0]['buffers'][n], b) <= per_param_tol, n

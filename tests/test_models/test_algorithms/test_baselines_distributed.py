# Copyright (c) mmdecur contributors. All rights reserved.
"""The baselines under 2 gloo ranks equal one process on the whole batch.

One spawn checks (a) every loss on an UNEQUAL split (5 + 3 samples), loss
value and input gradients, plus CLIP's temperature gradient, and (b) a DDP
training step of every algorithm, loss and every parameter gradient.
"""
import torch

from mmdecur.testing import run_distributed

LOSSES = dict(
    bt_cross=dict(type='BarlowTwinsLoss'),
    bt_intra=dict(type='BarlowTwinsLoss', pairs='intra'),
    ntxent=dict(type='NTXentLoss', temperature=0.2),
    clip=dict(type='SymmetricInfoNCELoss'),
    vicreg=dict(type='VICRegLoss'),
)
ALGORITHMS = dict(
    BarlowTwins=('rgb', 'hha'),
    BarlowTwins_single=('rgb', ),
    SimCLR=('rgb', 'hha'),
    CLIP=('rgb', 'hha'),
    VICReg=('rgb', 'hha'),
)
SPLIT = (5, 3)
BATCH = 8


def make_views():
    g = torch.Generator().manual_seed(0)
    shared = torch.randn(sum(SPLIT), 12, generator=g, dtype=torch.float64)
    return {
        m: [
            shared +
            torch.randn(sum(SPLIT), 12, generator=g, dtype=torch.float64)
            for _ in range(2)
        ]
        for m in ('rgb', 'hha')
    }


def loss_step(cfg, views):
    """Total loss, its input gradients and the loss parameters' gradients."""
    from mmdecur.registry import MODELS
    loss_module = MODELS.build(cfg).double()
    views = {
        m: [v.clone().requires_grad_() for v in vs]
        for m, vs in views.items()
    }
    out = loss_module(views)
    total = sum(v for k, v in out.items() if k.startswith('loss'))
    total.backward()
    return dict(
        total=total.detach(),
        grads={
            m: [v.grad for v in vs]
            for m, vs in views.items()
        },
        params={
            n: p.grad
            for n, p in loss_module.named_parameters()
        })


def build_model(name):
    from mmdecur.registry import MODELS
    from mmdecur.utils import register_all_modules
    register_all_modules()
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type=name.split('_')[0],
            backbone=dict(
                type='ResNet',
                depth=18,
                base_channels=4,
                stem_channels=4,
                norm_cfg=dict(type='GlobalBN')),
            projector=dict(type='Projector', hid_channels=16, out_channels=16),
            data_preprocessor=dict(
                type='MultiModalDataPreprocessor',
                modalities={
                    m: dict(mean=[100.] * 3, std=[50.] * 3)
                    for m in ALGORITHMS[name]
                }))).double()


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


def model_step(model, inputs):
    module = model.module if hasattr(model, 'module') else model
    inputs = {m: v for m, v in inputs.items() if m in module.modalities}
    data = module.data_preprocessor(dict(inputs=inputs), True)
    loss, _ = module.parse_losses(model(**data, mode='loss'))
    loss.backward()
    return dict(
        loss=loss.detach(),
        grads={
            n: p.grad.clone()
            for n, p in module.named_parameters()
        })


def _rank(rank, world_size, views, inputs):
    from mmdecur.engine import DeviceAgnosticDDP
    start = sum(SPLIT[:rank])
    local = {
        m: [v[start:start + SPLIT[rank]] for v in vs]
        for m, vs in views.items()
    }
    losses = {name: loss_step(cfg, local) for name, cfg in LOSSES.items()}
    models = {}
    for name in ALGORITHMS:
        model = DeviceAgnosticDDP(
            module=build_model(name), broadcast_buffers=False)
        models[name] = model_step(model, {
            m: [v.chunk(world_size)[rank] for v in vs]
            for m, vs in inputs.items()
        })
    return dict(losses=losses, models=models)


def rel_err(a, b):
    return ((a - b).norm() / b.norm().clamp(min=1e-12)).item()


def test_losses_and_training_steps_equal_a_single_process():
    views, inputs = make_views(), make_batch()
    ranks = run_distributed(_rank, 2, views, inputs)
    world_size = len(ranks)

    for name, cfg in LOSSES.items():
        single = loss_step(cfg, views)
        got = [r['losses'][name] for r in ranks]
        # Mean over ranks (what DDP optimises): exact even for 5 + 3.
        torch.testing.assert_close(
            sum(r['total'] for r in got) / world_size, single['total'])
        if name.startswith(('bt', 'vicreg')):  # global loss on every rank
            for r in got:
                torch.testing.assert_close(r['total'], single['total'])
        for m in views:
            for i, want in enumerate(single['grads'][m]):
                if want is None:  # a view the loss does not read
                    assert all(r['grads'][m][i] is None for r in got)
                    continue
                # Each rank's inputs get the gradient of sum_r L_r = W * L;
                # DDP's 1/W average on the parameters undoes the W.
                grad = torch.cat([r['grads'][m][i] for r in got])
                torch.testing.assert_close(grad / world_size, want)
        for param, want in single['params'].items():  # CLIP's logit scale
            mean = sum(r['params'][param] for r in got) / world_size
            torch.testing.assert_close(mean, want)
    assert 'logit_scale' in loss_step(LOSSES['clip'], views)['params']

    for name in ALGORITHMS:
        single = model_step(build_model(name), inputs)
        got = [r['models'][name] for r in ranks]
        mean_loss = sum(r['loss'] for r in got) / world_size
        assert rel_err(mean_loss, single['loss']) <= 1e-9, name
        for param, want in single['grads'].items():
            assert rel_err(got[0]['grads'][param], want) <= 1e-9, (name, param)
            assert torch.equal(got[0]['grads'][param], got[1]['grads'][param])

# Copyright (c) mmdecur contributors. All rights reserved.
"""Fused/foreach optimizer settings step exactly like the defaults."""
import copy
import os.path as osp
import warnings

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope
from mmpretrain.engine.optimizers import LARS as MMPretrainLARS

import mmdecur  # noqa: F401  (applies the compat patches)
from mmdecur.engine import LARS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCHEDULES = osp.join(ROOT, 'configs', '_base_', 'schedules')


class Net(nn.Module):
    """Conv, norm (``bn``), biases and a ``downsample.1`` like a ResNet.

    ReLUs after the norms and no bias before a norm: every parameter has a
    true gradient (a bias that a norm cancels would hold rounding noise,
    which AdamW and LARS's trust ratio blow up).
    """

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.downsample = nn.Sequential(
            nn.Conv2d(4, 4, 1, bias=False), nn.BatchNorm2d(4))
        self.fc = nn.Linear(4, 5)
        self.unused = nn.Linear(2, 2)  # never gets a gradient
        self.zero = nn.Parameter(torch.zeros(3))  # zero weight norm

    def forward(self, x):
        x = self.bn(self.conv(x)).relu()
        x = self.downsample(x).relu().mean((2, 3))
        return self.fc(x).square().sum() + (self.zero * x[:, :3]).sum()


def nets(n=2):
    torch.manual_seed(0)
    net = Net()
    return [copy.deepcopy(net) for _ in range(n)]


def run_steps(net, optimizer, steps=3, seed=1):
    dtype = next(net.parameters()).dtype
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        optimizer.zero_grad()
        net(torch.randn(2, 3, 6, 6, generator=gen).to(dtype)).backward()
        optimizer.step()


def assert_same_params(a, b, rtol):
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        err = ((p - q).norm() / p.norm().clamp_min(1e-30)).item()
        assert err <= rtol, f'{name}: relative error {err:.2e}'


def lars_groups(net):
    """Barlow Twins' groups: LARS on weights, excluded biases and norms."""
    excluded = [
        p for n, p in net.named_parameters()
        if 'bn' in n or 'bias' in n or 'downsample.1' in n
    ]
    ids = {id(p) for p in excluded}
    return [
        dict(params=[p for p in net.parameters() if id(p) not in ids]),
        dict(
            params=excluded,
            lr=0.2 * 0.024,
            lars_exclude=True,
            weight_decay=0.)
    ]


@pytest.mark.parametrize('foreach', [False, True])
@pytest.mark.parametrize(
    'kwargs',
    [
        dict(lr=0.2, momentum=0.9, weight_decay=1e-6),  # the schedule's
        dict(lr=0.1, momentum=0.9, weight_decay=1e-2, nesterov=True),
        dict(lr=0.1, momentum=0.9, dampening=0.3, eta=0.01),
        dict(lr=0.1),  # no momentum
    ])
@pytest.mark.parametrize('dtype,rtol', [(torch.float32, 1e-6),
                                        (torch.float64, 1e-13)])
def test_lars_steps_like_mmpretrains(foreach, kwargs, dtype, rtol):
    ours, theirs = [n.to(dtype) for n in nets()]
    opt = LARS(lars_groups(ours), foreach=foreach, **kwargs)
    ref = MMPretrainLARS(lars_groups(theirs), **kwargs)
    run_steps(ours.to(dtype), opt)
    run_steps(theirs.to(dtype), ref)
    assert_same_params(ours, theirs, rtol)
    # The same state, so checkpoints move between the two.
    state, ref_state = opt.state_dict(), ref.state_dict()
    assert state['state'].keys() == ref_state['state'].keys()
    for k, v in ref_state['state'].items():
        assert v.keys() == state['state'][k].keys()
    theirs_again = copy.deepcopy(theirs)
    resumed = MMPretrainLARS(lars_groups(theirs_again), **kwargs)
    resumed.load_state_dict(state)  # ours -> mmpretrain's
    run_steps(theirs_again, resumed, steps=1, seed=2)
    run_steps(theirs, ref, steps=1, seed=2)
    assert_same_params(theirs_again, theirs, rtol)


def test_lars_never_reads_values_on_the_host(monkeypatch):
    """No .item()/float()/bool() of a tensor: no host-device sync."""
    net, = nets(1)
    opt = LARS(lars_groups(net), lr=0.2, momentum=0.9, weight_decay=1e-6)
    run_steps(net, opt, steps=1)  # momentum buffers exist now

    def refuse(self, *args):
        raise AssertionError('LARS read a tensor value on the host')

    for name in ('item', '__float__', '__bool__', 'tolist'):
        monkeypatch.setattr(torch.Tensor, name, refuse)
    for foreach in (False, True):
        for group in opt.param_groups:
            group['foreach'] = foreach
        opt.step()
    monkeypatch.undo()
    with pytest.raises(AssertionError, match='on the host'):
        monkeypatch.setattr(torch.Tensor, 'item', refuse)
        MMPretrainLARS(lars_groups(net), lr=0.2).step()


def test_lars_rejects_bad_settings():
    net, = nets(1)
    with pytest.raises(ValueError, match='learning rate'):
        LARS(net.parameters(), lr=-1.)
    with pytest.raises(ValueError, match='Nesterov'):
        LARS(net.parameters(), lr=0.1, nesterov=True)


def schedule(name):
    cfg = Config.fromfile(osp.join(SCHEDULES, name))
    return copy.deepcopy(cfg.optim_wrapper)


def plain(cfg):
    """The same optim_wrapper config with the default implementation."""
    cfg = copy.deepcopy(cfg)
    cfg.pop('constructor')
    cfg.optimizer.pop('fused', None)
    cfg.optimizer.pop('foreach', None)
    if cfg.optimizer.type == 'LARS':
        cfg.optimizer.type = 'mmpretrain.LARS'
    return cfg


@pytest.mark.parametrize('name', [
    'adamw_coslr_100e.py', 'adamw_coslr_200e.py', 'cmx_adamw_poly_500e.py',
    'seg_adamw_30e.py', 'sgd_step_100e.py', 'lars_coslr_100e.py',
    'lars_coslr_200e.py'
])
def test_schedule_steps_like_the_default_implementation(name):
    init_default_scope('mmdecur')
    cfg = schedule(name)
    assert cfg.constructor == 'FusedOptimWrapperConstructor'
    fast_net, plain_net = nets()
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # fused is there: no step-down
        fast = build_optim_wrapper(fast_net, cfg)
    ref = build_optim_wrapper(plain_net, plain(cfg))
    if cfg.optimizer.type == 'LARS':
        assert type(fast.optimizer) is LARS
        assert type(ref.optimizer) is MMPretrainLARS
    else:
        assert type(fast.optimizer) is type(ref.optimizer)
        assert fast.optimizer.defaults['fused'] is True
        assert not ref.optimizer.defaults['fused']
    # paramwise_cfg gave both the same groups.
    assert len(fast.optimizer.param_groups) == len(ref.optimizer.param_groups)
    for g, r in zip(fast.optimizer.param_groups, ref.optimizer.param_groups):
        assert {
            k: v
            for k, v in g.items() if k not in ('params', 'fused', 'foreach')
        } == {
            k: v
            for k, v in r.items() if k not in ('params', 'fused', 'foreach')
        }
    # Large enough learning rates that a wrong update would show.
    for wrapper in (fast, ref):
        for group in wrapper.optimizer.param_groups:
            group['lr'] *= 100
    run_steps(fast_net, fast.optimizer)
    run_steps(plain_net, ref.optimizer)
    assert_same_params(fast_net, plain_net, 1e-5)
    changed = [
        not torch.equal(p, q) for p, q in zip(fast_net.parameters(),
                                              nets(1)[0].parameters())
    ]
    assert sum(changed) >= 5


def test_constructor_steps_down_where_fused_is_missing():
    init_default_scope('mmdecur')
    net, = nets(1)
    # mmpretrain's LARS has neither fused nor foreach: both are dropped.
    cfg = dict(
        constructor='FusedOptimWrapperConstructor',
        optimizer=dict(type='mmpretrain.LARS', lr=0.1, fused=True))
    with pytest.warns(UserWarning) as record:
        wrapper = build_optim_wrapper(net, cfg)
    assert type(wrapper.optimizer) is MMPretrainLARS
    messages = [str(w.message) for w in record]
    assert any('fused=True is not available' in m for m in messages)
    assert any('foreach=True is not available' in m for m in messages)
    # Ours has foreach but no fused.
    with pytest.warns(UserWarning, match='using foreach=True'):
        wrapper = build_optim_wrapper(
            net,
            dict(
                constructor='FusedOptimWrapperConstructor',
                optimizer=dict(type='LARS', lr=0.1, fused=True)))
    assert wrapper.optimizer.defaults['foreach'] is True
    # Errors that are not about the implementation still surface.
    with pytest.raises(
            ValueError, match='learning rate'), pytest.warns(
                UserWarning, match='fused=True is not available'):
        build_optim_wrapper(
            net,
            dict(
                constructor='FusedOptimWrapperConstructor',
                optimizer=dict(type='LARS', lr=-1., fused=True)))


def test_constructor_steps_down_like_old_torch_on_a_cpu():
    """PyTorch < 2.4 has no fused CPU kernels and raises at construction."""
    from mmdecur.registry import OPTIMIZERS

    @OPTIMIZERS.register_module(force=True)
    class OldTorchAdamW(torch.optim.AdamW):

        def __init__(self, params, fused=None, **kwargs):
            if fused:
                raise RuntimeError(
                    '`fused=True` requires all the params to be floating '
                    'point Tensors of supported devices: [\'cuda\'].')
            super().__init__(params, **kwargs)

    init_default_scope('mmdecur')
    fast_net, plain_net = nets()
    with pytest.warns(UserWarning, match='using foreach=True'):
        fast = build_optim_wrapper(
            fast_net,
            dict(
                constructor='FusedOptimWrapperConstructor',
                optimizer=dict(type='OldTorchAdamW', lr=0.1, fused=True)))
    assert fast.optimizer.defaults['foreach'] is True
    ref = torch.optim.AdamW(plain_net.parameters(), lr=0.1)
    run_steps(fast_net, fast.optimizer)
    run_steps(plain_net, ref)
    assert_same_params(fast_net, plain_net, 1e-5)


def test_amp_wrapper_scales_float16_only():
    from mmdecur.engine import amp_optim_wrapper
    base = dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))
    bf16 = amp_optim_wrapper(base, 'bfloat16')
    assert bf16['type'] == 'AmpOptimWrapper' and bf16['dtype'] == 'bfloat16'
    assert bf16['loss_scale'] == dict(enabled=False)  # no GradScaler work
    fp16 = amp_optim_wrapper(base, 'float16')
    assert fp16['loss_scale'] == 'dynamic'
    assert base == dict(
        type='OptimWrapper', optimizer=dict(type='SGD', lr=0.1))
    kept = amp_optim_wrapper(dict(base, loss_scale=512.), 'bfloat16')
    assert kept['loss_scale'] == 512.
    with pytest.raises(ValueError, match='ZeroRedundancy'):
        amp_optim_wrapper(dict(type='ZeroRedundancyOptimizer'), 'float16')
    with pytest.raises(ValueError, match='dtype'):
        amp_optim_wrapper(base, 'float8')

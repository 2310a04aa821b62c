# Copyright (c) mmdecur contributors. All rights reserved.
"""torch.compile of the backbones/encoders behind a switch, with a fallback."""
import warnings

import pytest
import torch

from mmdecur.models.utils.compile import (CompileFallbackWarning,
                                          LazyCompiledModule, compile_options)
from mmdecur.registry import MODELS
from mmdecur.utils import register_all_modules

register_all_modules()


def decur(**kwargs):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='DeCUR',
            backbone=dict(
                type='ResNet', depth=18, base_channels=4, stem_channels=4),
            projector=dict(type='Projector', hid_channels=16, out_channels=16),
            loss=dict(type='DeCURLoss', common_ratio=0.75),
            data_preprocessor=dict(
                type='MultiModalDataPreprocessor',
                modalities=dict(
                    rgb=dict(mean=[100.] * 3, std=[50.] * 3),
                    dem=dict(mean=[80.], std=[40.]))),
            **kwargs))


def batch():
    g = torch.Generator().manual_seed(1)
    return dict(
        inputs={
            m: [
                torch.randint(0, 256, (4, c, 32, 32), generator=g).float()
                for _ in range(2)
            ]
            for m, c in (('rgb', 3), ('dem', 1))
        })


def loss_and_grads(model, steps=2):
    """Two forward/backward passes (train-mode BN statistics move)."""
    out = []
    for _ in range(steps):
        model.zero_grad()
        data = model.data_preprocessor(batch(), True)
        loss, _ = model.parse_losses(model(**data, mode='loss'))
        loss.backward()
        out.append((loss.detach(), {
            n: p.grad.clone()
            for n, p in model.named_parameters()
        }))
    buffers = {n: b.clone() for n, b in model.named_buffers()}
    return out, buffers


def assert_same(a, b):
    (steps_a, buf_a), (steps_b, buf_b) = a, b
    for (la, ga), (lb, gb) in zip(steps_a, steps_b):
        torch.testing.assert_close(la, lb, rtol=1e-6, atol=0)
        for n in ga:
            torch.testing.assert_close(ga[n], gb[n], rtol=1e-5, atol=1e-8)
    for n in buf_a:
        torch.testing.assert_close(buf_a[n], buf_b[n], rtol=1e-6, atol=1e-8)


@pytest.fixture(scope='module')
def eager_result():
    return loss_and_grads(decur())


def test_compiled_backbones_equal_eager(eager_result):
    model = decur(compile_backbones=dict(backend='eager'))
    assert model.state_dict().keys() == decur().state_dict().keys()
    with warnings.catch_warnings():
        warnings.simplefilter('error', CompileFallbackWarning)
        result = loss_and_grads(model)
    assert all(c.failed is None and c._compiled is not None
               for c in model._compiled_backbones.values())
    assert_same(result, eager_result)


def test_bogus_backend_falls_back_with_one_warning_per_backbone(eager_result):
    model = decur(compile_backbones=dict(backend='no_such_backend'))
    with pytest.warns(CompileFallbackWarning) as record:
        result = loss_and_grads(model)
    messages = [str(w.message) for w in record]
    assert len(messages) == 2, messages  # once per backbone, not per call
    assert "backbone 'rgb' (ResNet)" in messages[0]
    assert "backbone 'dem' (ResNet)" in messages[1]
    assert 'no_such_backend' in messages[0]
    assert_same(result, eager_result)


def test_failure_at_the_first_call_falls_back(monkeypatch, eager_result):

    def broken_compile(module, **kwargs):

        def run(*args, **kw):
            raise RuntimeError('inductor: no working C++ compiler found')

        return run

    monkeypatch.setattr(torch, 'compile', broken_compile)
    model = decur(compile_backbones=True)
    with pytest.warns(CompileFallbackWarning) as record:
        result = loss_and_grads(model)
    assert len(record) == 2
    assert 'no working C++ compiler' in str(record[0].message)
    assert model._compiled_backbones['rgb'].failed.startswith('RuntimeError')
    # the failed call itself was repeated eagerly: same numbers
    assert_same(result, eager_result)


def test_a_torch_without_compile_runs_eagerly(monkeypatch):
    monkeypatch.delattr(torch, 'compile')
    layer = torch.nn.Linear(3, 2)
    call = LazyCompiledModule(layer, 'the layer')
    x = torch.randn(4, 3)
    with pytest.warns(CompileFallbackWarning, match='has no torch.compile'):
        assert torch.equal(call(x), layer(x))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        call(x)  # no second warning


def test_input_errors_are_raised_not_blamed_on_the_compiler():
    backbone = MODELS.build(
        dict(type='ResNet', depth=18, base_channels=4, stem_channels=4))
    call = LazyCompiledModule(backbone, 'rn18', dict(backend='eager'))
    with warnings.catch_warnings():
        warnings.simplefilter('error', CompileFallbackWarning)
        with pytest.raises(ValueError, match='input channels'):
            call(torch.randn(2, 5, 32, 32))
    assert call.failed is None


def test_multimodal_encoder_compiles_its_encoders():
    cfg = dict(
        type='MultiModalEncoder',
        encoders=dict(
            rgb=dict(
                type='ResNet', depth=18, base_channels=4, stem_channels=4),
            dem=dict(
                type='ResNet',
                depth=18,
                base_channels=4,
                stem_channels=4,
                in_channels=1)))
    torch.manual_seed(0)
    eager = MODELS.build(cfg)
    compiled = MODELS.build(dict(cfg, compile_encoders=dict(backend='eager')))
    compiled.load_state_dict(eager.state_dict())
    assert compiled.state_dict().keys() == eager.state_dict().keys()
    g = torch.Generator().manual_seed(0)
    x = dict(
        rgb=torch.randn(2, 3, 32, 32, generator=g),
        dem=torch.randn(2, 1, 32, 32, generator=g))
    for a, b in zip(eager(x), compiled(x)):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)
    assert compiled._compiled_encoders['dem']._compiled is not None


def test_compile_options():
    assert compile_options(False) is None and compile_options(None) is None
    assert compile_options(True) == {}
    assert compile_options(
        dict(mode='max-autotune')) == dict(mode='max-autotune')
    with pytest.raises(TypeError, match='compile_backbones must be'):
        compile_options('yes', 'compile_backbones')

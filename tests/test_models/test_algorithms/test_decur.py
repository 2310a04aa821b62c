# Copyright (c) mmdecur contributors. All rights reserved.
import copy

import pytest
import torch

from mmdecur.registry import MODELS

TINY_BACKBONE = dict(
    type='ResNet',
    depth=18,
    base_channels=4,
    stem_channels=4,
    norm_cfg=dict(type='GlobalBN'))


def decur_cfg(**kwargs):
    cfg = dict(
        type='DeCUR',
        backbone=TINY_BACKBONE,
        projector=dict(type='Projector', hid_channels=16, out_channels=16),
        loss=dict(type='DeCURLoss', dim_common=12),
        data_preprocessor=dict(
            type='MultiModalDataPreprocessor',
            modalities=dict(
                s1=dict(mean=[0., 0.], std=[1., 1.]),
                s2=dict(mean=[0.] * 13, std=[1.] * 13))))
    cfg.update(kwargs)
    return cfg


def batch(n=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        inputs=dict(
            s1=[torch.randn(n, 2, size, size, generator=g) for _ in range(2)],
            s2=[torch.randn(n, 13, size, size, generator=g)
                for _ in range(2)]))


def test_modalities_and_band_counts_come_from_the_data_preprocessor():
    model = MODELS.build(decur_cfg())
    assert model.modalities == ['s1', 's2']
    assert model.backbones['s1'].in_channels == 2
    assert model.backbones['s2'].in_channels == 13
    # Projector input width inferred from the backbone (ResNet-18 / 16).
    assert model.projectors['s1'].in_channels == 32


def test_loss_is_the_decur_loss_of_the_per_modality_embeddings():
    torch.manual_seed(0)
    model = MODELS.build(decur_cfg())
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    assert {'loss_com', 'loss_uni', 'loss_intra_s1',
            'loss_intra_s2'} <= set(losses)
    views = {
        m: [model.embed(m, x) for x in data['inputs'][m]]
        for m in ('s1', 's2')
    }
    want = model.loss_module(views)
    for key in ('loss_com', 'loss_uni', 'loss_intra_s1'):
        torch.testing.assert_close(losses[key], want[key])
    parsed, log_vars = model.parse_losses(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    torch.testing.assert_close(parsed, total)
    assert 'com_on_diag' in log_vars  # logged, not summed


def test_train_step_updates_both_encoders():
    from mmengine.optim import OptimWrapper
    torch.manual_seed(0)
    model = MODELS.build(decur_cfg())
    before = {m: b.conv1.weight.clone() for m, b in model.backbones.items()}
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    log_vars = model.train_step(batch(), optim)
    assert torch.isfinite(log_vars['loss'])
    for m, b in model.backbones.items():
        assert not torch.equal(before[m], b.conv1.weight)


def test_shared_projector_ties_weights_like_the_official_code():
    model = MODELS.build(decur_cfg(share_projector=True))
    assert model.projectors['s1'] is model.projectors['s2']
    keys = model.state_dict().keys()
    assert 'projectors.s1.layers.0.weight' in keys
    assert 'projectors.s2.layers.0.weight' in keys
    n_params = sum(p.numel() for p in model.parameters())
    separate = MODELS.build(decur_cfg())
    assert n_params == sum(p.numel() for p in separate.parameters()) - sum(
        p.numel() for p in separate.projectors['s2'].parameters())


def test_predict_returns_embeddings_and_the_common_split():
    model = MODELS.build(decur_cfg()).eval()
    data = model.data_preprocessor(batch(n=3), False)
    samples = model(**data, mode='predict')
    assert len(samples) == 3
    assert samples[0].embedding_s1.shape == (16, )
    assert samples[0].dim_common == 12
    feats = model(**data, mode='tensor')
    assert feats['s2'].shape == (3, 32)


def test_wrong_channel_count_names_the_modality():
    model = MODELS.build(decur_cfg())
    inputs = batch()['inputs']
    inputs['s1'] = [torch.randn(4, 3, 32, 32)] * 2
    with pytest.raises(ValueError, match="'s1'.*3 channels.*in_channels=2"):
        model(inputs, mode='loss')


def test_backbone_in_channels_disagreeing_with_the_data_fails_at_build():
    cfg = decur_cfg(backbone=dict(TINY_BACKBONE, in_channels=3))
    with pytest.raises(ValueError, match="'s1'.*2 bands.*in_channels=3"):
        MODELS.build(cfg)


def test_dim_common_larger_than_the_embedding_fails_at_build():
    cfg = decur_cfg(loss=dict(type='DeCURLoss', dim_common=17))
    with pytest.raises(ValueError, match='dim_common=17 exceeds.*K=16'):
        MODELS.build(cfg)


def test_missing_modality_in_batch_is_a_clear_error():
    model = MODELS.build(decur_cfg())
    inputs = batch()['inputs']
    del inputs['s2']
    with pytest.raises(KeyError, match="no modality 's2'"):
        model(inputs, mode='loss')


def test_explicit_modalities_and_per_modality_backbones():
    cfg = decur_cfg(
        modalities=['s2', 's1'],
        backbone=dict(
            s1=copy.deepcopy(TINY_BACKBONE), s2=dict(TINY_BACKBONE, depth=50)),
        projector=dict(
            type='Projector',
            in_channels=None,
            hid_channels=16,
            out_channels=16))
    cfg['projector'].pop('in_channels')
    model = MODELS.build(cfg)
    assert model.modalities == ['s2', 's1']
    assert model.projectors['s2'].in_channels == 128  # ResNet-50 / 16
    assert model.projectors['s1'].in_channels == 32


def _loss_and_grads(model, data):
    model.zero_grad()
    losses = model(**copy.deepcopy(data), mode='loss')
    total = sum(v for k, v in losses.items() if k.startswith('loss_'))
    total.backward()
    return total.detach(), {
        n: p.grad.clone()
        for n, p in model.named_parameters() if p.grad is not None
    }


def test_batched_views_equal_per_view_calls_for_layer_norm_backbones():
    # MiT has no batch-dependent layer: both views in one backbone call
    # must give the loss and gradients of one call per view.
    torch.manual_seed(0)
    cfg = decur_cfg(
        backbone=dict(
            type='MiT', arch='b0', pooled_channels=32, drop_path_rate=0.),
        data_preprocessor=dict(
            type='MultiModalDataPreprocessor',
            modalities=dict(
                s1=dict(mean=[0.] * 2, std=[1.] * 2),
                s2=dict(mean=[0.] * 13, std=[1.] * 13))))
    batched = MODELS.build(cfg)
    assert batched.batch_views == dict(s1=True, s2=True)
    per_view = MODELS.build(dict(cfg, batch_views=False))
    per_view.load_state_dict(batched.state_dict())
    data = batched.data_preprocessor(batch(n=6), True)
    calls = []
    batched.backbones['s2'].register_forward_hook(
        lambda mod, args, out: calls.append(args[0].shape[0]))
    loss_a, grads_a = _loss_and_grads(batched, data)
    loss_b, grads_b = _loss_and_grads(per_view, data)
    assert calls == [12]  # one call holding both views of 6 samples
    torch.testing.assert_close(loss_a, loss_b, rtol=1e-5, atol=1e-5)
    assert grads_a.keys() == grads_b.keys()
    # Per parameter, relative to its gradient; biases feeding the
    # projector's BN have a zero true gradient, so only rounding is left
    # there, measured against the largest gradient.
    scale = max(g.norm() for g in grads_b.values())
    for name in grads_a:
        err = (grads_a[name] - grads_b[name]).norm()
        assert err <= 1e-4 * grads_b[name].norm() + 1e-6 * scale, name


def test_batch_norm_backbones_keep_one_call_per_view():
    model = MODELS.build(decur_cfg())
    assert model.batch_views == dict(s1=False, s2=False)
    calls = []
    model.backbones['s1'].register_forward_hook(
        lambda mod, args, out: calls.append(args[0].shape[0]))
    model(**model.data_preprocessor(batch(n=4), True), mode='loss')
    assert calls == [4, 4]

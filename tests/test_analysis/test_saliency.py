# Copyright (c) mmdecur contributors. All rights reserved.
import copy
import json
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from mmdecur.analysis import (CommonUniqueTargets, band_importance,
                              band_names_of, default_gradcam_layer,
                              gradcam_maps, overlap_score,
                              plot_band_importance, plot_overlap_histogram,
                              plot_saliency_examples, saliency_statistics,
                              saliency_summary, save_saliency_csv)
from mmdecur.apis import build_dataloader_from_cfg, init_model
from mmdecur.testing import DEMO_CONFIG, tiny_demo_options


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_model(DEMO_CONFIG, cfg_options=tiny_demo_options())


def test_overlap_score_known_answers():
    a = torch.rand(3, 5, 5)
    assert torch.allclose(overlap_score(a, a), torch.ones(3).double())
    # Invariant to the scale of either map.
    assert torch.allclose(overlap_score(a, 7 * a), torch.ones(3).double())
    left, right = torch.zeros(4, 4), torch.zeros(4, 4)
    left[:, :2], right[:, 2:] = 1, 1
    assert overlap_score(left, right).item() == 0
    # Half of each map's mass in common.
    top = torch.zeros(4, 4)
    top[:2] = 1
    assert overlap_score(left, top).item() == pytest.approx(0.5)
    assert math.isnan(overlap_score(left, torch.zeros(4, 4)).item())
    with pytest.raises(ValueError, match='non-negative'):
        overlap_score(-left, right)
    with pytest.raises(ValueError, match='shape'):
        overlap_score(left, top[:2])


def test_targets_are_means_of_common_and_unique_dims(model):
    x = torch.randn(2, 3, 32, 32)
    out = CommonUniqueTargets(model, 'rgb', 24)(x)
    z = model.embed('rgb', x)
    assert torch.allclose(out[:, 0], z[:, :24].mean(1))
    assert torch.allclose(out[:, 1], z[:, 24:].mean(1))
    with pytest.raises(ValueError, match='no unique dimensions'):
        CommonUniqueTargets(model, 'rgb', 32)(x)


def test_a_band_the_model_ignores_gets_zero_ig_importance(model):
    model = copy.deepcopy(model)
    with torch.no_grad():
        model.backbones['rgb'].conv1.weight[:, 1] = 0
    x = torch.randn(3, 3, 32, 32)
    out = band_importance(model, 'rgb', x, 24, n_steps=8)
    imp = out['importance']
    assert imp.shape == (3, 2, 3)
    assert torch.allclose(imp.sum(-1), torch.ones(3, 2))
    assert imp[..., 1].abs().max() < 1e-6
    assert (imp[..., [0, 2]] > 0.05).all()
    assert out['delta'].shape == (3, 2)


def test_gradcam_maps_and_layers(model):
    backbone = model.backbones['rgb']
    assert default_gradcam_layer(backbone) == 'layer4.1.conv2'
    x = torch.randn(2, 3, 32, 32)
    maps = gradcam_maps(model, 'rgb', x, 24)
    assert maps.shape == (2, 2, 1, 1)  # layer4 of a 32 px input
    maps = gradcam_maps(model, 'rgb', x, 24, layer='layer2.1.conv2')
    assert maps.shape == (2, 2, 4, 4) and (maps >= 0).all()
    with pytest.raises(ValueError, match='no layer'):
        gradcam_maps(model, 'rgb', x, 24, layer='layer9')
    with pytest.raises(ValueError, match='unsupported for Linear'):
        default_gradcam_layer(nn.Linear(2, 2))


def test_band_names():

    class Data:
        metainfo = dict(bands=dict(s2=('B2', 'B3', 'B4')))

    class Wrapper:
        metainfo = {}
        dataset = Data()

    assert band_names_of(Wrapper(), 's2', 3) == ['B2', 'B3', 'B4']
    assert band_names_of(Data(), 's2', 3, {'s2': 'abc'}) == ['a', 'b', 'c']
    assert band_names_of(Data(), 'rgb', 3) == ['R', 'G', 'B']
    assert band_names_of(Data(), 'depth', 1) == ['depth']
    assert band_names_of(Data(), 's2', 2) == ['band0', 'band1']

    class SSL4EOS12Dataset:
        metainfo = dict(modalities=('s1', 's2c'))

    assert band_names_of(SSL4EOS12Dataset(), 's1', 2) == ['VV', 'VH']
    assert band_names_of(SSL4EOS12Dataset(), 's2c', 13)[8] == 'B8A'


def test_dataset_statistics_summary_and_plots(model, tmp_path):
    loader = build_dataloader_from_cfg(
        model.cfg, 'val', num_workers=0, batch_size=4)
    stats = saliency_statistics(
        model,
        loader,
        layer='layer2.1.conv2',
        n_steps=4,
        max_samples=6,
        num_examples=2,
        progress=False)
    assert stats['num_samples'] == 6 and stats['dim_common'] == 24
    assert stats['overlap']['common'].shape == (6, )
    assert stats['band_importance']['rgb']['unique'].shape == (6, 3)
    np.testing.assert_allclose(stats['band_importance']['depth']['common'], 1)
    assert stats['band_names'] == dict(rgb=['R', 'G', 'B'], depth=['depth'])
    assert stats['examples']['maps']['rgb'].shape == (2, 2, 32, 32)
    summary = saliency_summary(stats)
    json.dumps(summary)
    defined = summary['overlap']['common']['num_defined']
    assert sum(summary['overlap']['common']['histogram']) == defined
    assert len(summary['band_importance']['rgb']['common']['mean']) == 3
    for name, plot in (('o', plot_overlap_histogram),
                       ('b', plot_band_importance), ('e',
                                                     plot_saliency_examples)):
        plot(stats, str(tmp_path / f'{name}.png'))
        assert (tmp_path / f'{name}.png').read_bytes()[:4] == b'\x89PNG'
    save_saliency_csv(stats, str(tmp_path / 's.csv'))
    rows = (tmp_path / 's.csv').read_text().splitlines()
    assert len(rows) == 7 and rows[0].split(',')[3] == 'rgb/common/R'


def test_models_without_a_split_are_refused(model):
    loader = build_dataloader_from_cfg(
        model.cfg, 'val', num_workers=0, batch_size=4)
    loss = model.loss_module
    model.loss_module = nn.Identity()
    try:
        with pytest.raises(TypeError, match='num_common'):
            saliency_statistics(model, loader, max_samples=4, progress=False)
    finally:
        model.loss_module = loss


def test_a_one_pixel_gradcam_layer_is_warned_about(model):
    loader = build_dataloader_from_cfg(
        model.cfg, 'val', num_workers=0, batch_size=2)
    with pytest.warns(UserWarning, match='1x1 maps'):
        stats = saliency_statistics(
            model, loader, n_steps=2, max_samples=2, progress=False)
    assert stats['layer']['rgb'] == 'layer4.1.conv2'
    # One-pixel maps: every defined overlap is exactly 1.
    overlap = stats['overlap']['common']
    assert (overlap[~np.isnan(overlap)] == 1).all()

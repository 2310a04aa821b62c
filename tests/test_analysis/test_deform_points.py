# Copyright (c) mmdecur contributors. All rights reserved.
import copy
import os.path as osp

import pytest
import torch

from mmdecur.analysis import (check_rda, deform_points, feature_pc1,
                              plot_deform_points, points_summary,
                              save_points_csv, to_pixels)
from mmdecur.apis import init_model
from mmdecur.testing import DEMO_CONFIG, tiny_demo_options

RDA_CONFIG = osp.join(osp.dirname(DEMO_CONFIG), 'demo_synthetic_rda.py')


def tiny_rda_options():
    """The RDA demo at the tiny width: 16 (layer3) and 32 (layer4) ch."""
    opts = tiny_demo_options()
    opts.update({
        'model.backbone.rda.layer3.head_channels': 4,
        'model.backbone.rda.layer4.head_channels': 4,
    })
    return opts


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return init_model(RDA_CONFIG, cfg_options=tiny_rda_options())


def test_zero_offsets_put_the_points_on_the_reference_grid(model):
    x = torch.randn(2, 3, 64, 64)
    points = deform_points(model, 'rgb', x)
    assert set(points) == {'layer3', 'layer4'}
    p = points['layer3']
    assert p['pos'].shape == (2, 2, 4, 4, 2) and p['map_size'] == (4, 4)
    assert p['pc1'].shape == (2, 4, 4)
    assert not torch.allclose(p['pos'], p['ref'])  # learned/random offsets
    assert points_summary({'rgb':
                           points})['rgb']['layer3']['mean_offset_cells'] > 0

    model = copy.deepcopy(model)
    with torch.no_grad():
        for stage in ('layer3', 'layer4'):
            block = getattr(model.backbones['rgb'], f'da_{stage}')
            block.offset_net.proj.weight.zero_()
    points = deform_points(model, 'rgb', x)
    for stage, p in points.items():
        assert torch.equal(p['pos'], p['ref'])
        assert torch.equal(p['pos_px'], p['ref_px'])
        assert p['ref'].abs().max() <= 1
    summary = points_summary({'rgb': points})
    assert summary['rgb']['layer4'] == dict(
        num_groups=2,
        grid=[2, 2],
        map_size=[2, 2],
        mean_offset_cells=0.,
        max_offset_cells=0.)


def test_to_pixels_maps_stage_cell_centres_to_input_pixels():
    pts = torch.tensor([[-1., -1.], [1., 1.], [0., 1.]])
    # 4x4 map of a 64x64 input: cells of 16 px, centres at 7.5 .. 55.5.
    assert to_pixels(pts, (4, 4), (64, 64)).tolist() == [[7.5, 7.5],
                                                         [55.5, 55.5],
                                                         [31.5, 55.5]]
    # A 1x1 map: its only cell centre is the image centre.
    assert to_pixels(torch.zeros(1, 2), (1, 1),
                     (32, 32)).tolist() == [[15.5, 15.5]]


def test_pc1_recovers_a_one_dimensional_feature_map():
    g = torch.Generator().manual_seed(0)
    strength = torch.rand(3, 1, 5, 5, generator=g) + 0.5
    direction = torch.randn(1, 8, 1, 1, generator=g)
    feature = strength * direction + 0.001 * torch.randn(
        3, 8, 5, 5, generator=g)
    pc = feature_pc1(feature)
    assert pc.shape == (3, 5, 5)
    corr = torch.corrcoef(torch.stack([pc.flatten(),
                                       strength.flatten()]))[0, 1]
    assert corr > 0.999  # positive: the sign follows the feature norm
    assert not feature_pc1(torch.ones(2, 4, 3, 3)).any()


def test_backbones_without_rda_are_refused_clearly():
    plain = init_model(DEMO_CONFIG, cfg_options=tiny_demo_options())
    with pytest.raises(
            ValueError,
            match=r"'rgb' backbone \(ResNet18\) has no "
            'deformable-attention'):
        check_rda(plain, 'rgb')
    with pytest.raises(ValueError, match='no deformable-attention'):
        deform_points(plain, 'depth', torch.randn(1, 1, 32, 32))


def test_unknown_stage_csv_and_plot(model, tmp_path):
    x = {'rgb': torch.randn(2, 3, 64, 64), 'depth': torch.randn(2, 1, 64, 64)}
    with pytest.raises(ValueError, match='not'):
        deform_points(model, 'rgb', x['rgb'], stages=['layer2'])
    points = {m: deform_points(model, m, v) for m, v in x.items()}
    save_points_csv(points, str(tmp_path / 'p.csv'))
    rows = (tmp_path / 'p.csv').read_text().splitlines()
    # samples x modalities x groups x (4x4 + 2x2) points.
    assert len(rows) == 1 + 2 * 2 * 2 * (16 + 4)
    assert rows[1].startswith('0,rgb,layer3,0,0,0,')
    plot_deform_points(x, points, 'layer3', str(tmp_path / 'd.png'))
    assert (tmp_path / 'd.png').read_bytes()[:4] == b'\x89PNG'

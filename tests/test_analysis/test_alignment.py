# Copyright (c) mmdecur contributors. All rights reserved.
import json

import numpy as np
import pytest
import torch

from mmdecur.analysis import (alignment_comparison, alignment_over_batches,
                              alignment_per_dim, alignment_summary,
                              dim_common_of, linear_probe, model_alignment,
                              plot_alignment_comparison,
                              plot_alignment_histogram, require_common_split,
                              save_alignment_csv)


def test_identical_dims_cost_zero_and_independent_dims_about_one():
    g = torch.Generator().manual_seed(0)
    n = 4000
    common = torch.randn(n, 6, generator=g)
    z1 = torch.cat([common, torch.randn(n, 2, generator=g)], 1)
    z2 = torch.cat([common, torch.randn(n, 2, generator=g)], 1)
    per_dim = alignment_per_dim(z1, z2)
    np.testing.assert_allclose(per_dim['loss'][:6], 0, atol=1e-8)
    np.testing.assert_allclose(per_dim['loss'][6:], 1, atol=0.1)
    summary = alignment_summary(per_dim, 6, np.linspace(0, 1, 11))
    assert summary['common']['histogram'][0] == 6
    assert summary['unique']['histogram'][-1] + summary['unique']['histogram'][
        -2] == 2
    assert summary['unique']['mean_abs_correlation'] < 0.05


def test_anticorrelated_dims_exceed_one_and_land_in_the_last_bin():
    z = torch.randn(100, 1)
    per_dim = alignment_per_dim(z, -z)
    assert per_dim['loss'][0] == pytest.approx(4.0, abs=1e-4)  # BN eps
    summary = alignment_summary(per_dim, 1, np.linspace(0, 1, 5))
    assert summary['common']['histogram'] == [0, 0, 0, 1]


def test_probe_recovers_a_linearly_encoded_class_and_not_noise():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 600)
    informative = np.eye(4)[labels] + 0.1 * rng.normal(size=(600, 4))
    noise = rng.normal(size=(600, 4))
    assert linear_probe(informative, labels) > 0.95
    assert linear_probe(noise, labels) < 0.4


def test_histogram_png(tmp_path):
    out = tmp_path / 'hist.png'
    plot_alignment_histogram({
        'common': np.zeros(3),
        'unique': np.ones(2)
    }, str(out), np.linspace(0, 1, 11))
    assert out.read_bytes()[:4] == b'\x89PNG'


def test_alignment_over_batches_averages_per_batch_losses():
    g = torch.Generator().manual_seed(1)
    n, batch = 1000, 200
    common = torch.randn(n, 3, generator=g)
    z1 = torch.cat([common, torch.randn(n, 2, generator=g)], 1)
    z2 = torch.cat([common, torch.randn(n, 2, generator=g)], 1)
    per_dim = alignment_over_batches(z1, z2, batch)
    assert per_dim['num_batches'] == 5 and per_dim['batch_size'] == batch
    np.testing.assert_allclose(per_dim['loss'][:3], 0, atol=1e-8)
    # Independent dims: E[(1 - C)^2] = 1 + Var(C) = 1 + 1/B.
    np.testing.assert_allclose(per_dim['loss'][3:], 1, atol=0.1)
    first = alignment_per_dim(z1[:batch], z2[:batch])['loss']
    manual = np.mean([
        alignment_per_dim(z1[s:s + batch], z2[s:s + batch])['loss']
        for s in range(0, n, batch)
    ], 0)
    np.testing.assert_allclose(per_dim['loss'], manual)
    assert not np.allclose(per_dim['loss'][3:], first[3:])
    # A short remainder is dropped rather than averaged in.
    assert alignment_over_batches(z1[:450], z2[:450],
                                  batch)['num_batches'] == 2


def _model(**loss):
    from mmdecur.apis import init_model
    from mmdecur.testing import DEMO_CONFIG, tiny_demo_options
    opts = tiny_demo_options()
    opts.update({f'model.loss.{k}': v for k, v in loss.items()})
    return init_model(DEMO_CONFIG, cfg_options=opts)


def test_dim_common_of_names_what_is_missing():
    assert dim_common_of(_model(), 32) == 24
    # An explicit Kc (here 20 of 32) is not probed with a wrong K.
    model = _model(common_ratio=None, dim_common=20)
    require_common_split(model)
    assert dim_common_of(model, 32) == 20

    class NotDeCUR(torch.nn.Module):
        loss_module = torch.nn.MSELoss()

    with pytest.raises(TypeError, match='num_common'):
        dim_common_of(NotDeCUR(), 32)


def test_model_alignment_and_json_summary_of_two_models(tmp_path):
    from mmdecur.apis import build_dataloader_from_cfg
    model = _model()
    loader = build_dataloader_from_cfg(model.cfg, 'val', num_workers=0)
    res = model_alignment(model, loader, max_samples=48, progress=False)
    assert res['dim_common'] == 24 and res['num_samples'] == 48
    # One full batch of 32 (the loader's); the other 16 are dropped.
    assert res['per_dim']['num_batches'] == 1

    # A model without a split only counts as "all dims" when allowed.
    model.loss_module = torch.nn.Identity()
    with pytest.raises(TypeError, match='DeCUR'):
        model_alignment(model, loader, max_samples=48, progress=False)
    other = model_alignment(
        model, loader, max_samples=48, require_split=False, progress=False)
    assert other['dim_common'] is None

    bins = np.linspace(0, 1, 11)
    results = {'decoup.': res, 'baseline': other}
    summary = alignment_comparison(results, bins)
    decoup, base = summary['models']['decoup.'], summary['models']['baseline']
    assert decoup['common']['num_dims'] == 24
    assert decoup['unique']['num_dims'] == 8
    assert decoup['all']['num_dims'] == 32
    assert sum(decoup['all']['histogram']) == 32
    assert 'common' not in base and base['all']['num_dims'] == 32
    json.dumps(summary)
    png, csv_file = tmp_path / 'a.png', tmp_path / 'a.csv'
    plot_alignment_comparison(results, str(png), bins)
    assert png.read_bytes()[:4] == b'\x89PNG'
    save_alignment_csv(results, str(csv_file))
    rows = csv_file.read_text().splitlines()
    assert len(rows) == 1 + 64
    assert rows[1].startswith('decoup.,0,common,')
    assert rows[25].startswith('decoup.,24,unique,')
    assert rows[33].startswith('baseline,0,all,')

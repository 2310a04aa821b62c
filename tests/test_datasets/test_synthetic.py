# Copyright (c) mmdecur contributors. All rights reserved.
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate
from torch.utils.data import DataLoader

import mmdecur  # noqa: F401
from mmdecur.datasets import SyntheticFactorDataset, SyntheticMultiModalDataset
from mmdecur.registry import DATASETS

CROP = dict(type='RandomResizedCropND', size=32, scale=(0.5, 1.0))
FLIP = dict(type='RandomFlipND')
DECUR_PIPELINE = [
    dict(
        type='MultiModalMultiView',
        num_views=2,
        transforms=dict(
            rgb=[
                CROP,
                dict(type='ColorJitterND', brightness=0.2, contrast=0.2),
                dict(type='GaussianBlurND', sigma=(0.1, 1.0)), FLIP
            ],
            depth=[CROP, FLIP])),
    dict(type='PackMultiModalInputs')
]


def _arrays(ds, idx):
    return ds.get_data_info(idx)['imgs']


def test_data_info_contract():
    ds = SyntheticMultiModalDataset(num_samples=10, image_size=24)
    assert len(ds) == 10
    info = ds.get_data_info(3)
    assert info['sample_idx'] == 3
    assert info['imgs']['rgb'].shape == (24, 24, 3)
    assert info['imgs']['depth'].shape == (24, 24, 1)
    assert all(v.dtype == np.uint8 for v in info['imgs'].values())
    assert info['img_paths'] == dict(rgb=None, depth=None)
    assert info['value_ranges'] == dict(rgb=(0., 255.), depth=(0., 255.))
    meta = ds.metainfo
    names = meta['factor_names']
    assert list(info['factors']) == list(names)
    np.testing.assert_allclose(
        info['gt_factors'], [info['factors'][n] for n in names], rtol=1e-6)
    for name, k in meta['num_classes'].items():
        assert isinstance(info['factors'][name], int)
        assert 0 <= info['factors'][name] < k
    assert meta['private_factors'] == dict(rgb=('hue', ), depth=('texture', ))
    assert set(meta['shared_factors']) == {'shape', 'size', 'pos_x', 'pos_y'}


def test_determinism_and_splits():
    a = SyntheticMultiModalDataset(num_samples=8)
    b = DATASETS.build(dict(type='SyntheticMultiModalDataset', num_samples=8))
    for idx in (0, 5):
        first, again, other = _arrays(a, idx), _arrays(a, idx), _arrays(b, idx)
        for m in first:
            np.testing.assert_array_equal(first[m], again[m])
            np.testing.assert_array_equal(first[m], other[m])
    val = SyntheticMultiModalDataset(num_samples=8, split='val')
    seed1 = SyntheticMultiModalDataset(num_samples=8, seed=1)
    for ds in (val, seed1):
        assert not np.array_equal(_arrays(a, 0)['rgb'], _arrays(ds, 0)['rgb'])
        assert a.get_data_info(0)['factors'] != ds.get_data_info(0)['factors']
    # A subset renders the same samples as the full dataset.
    sub = SyntheticMultiModalDataset(num_samples=8, indices=[5, 6])
    np.testing.assert_array_equal(
        _arrays(sub, 0)['depth'],
        _arrays(a, 5)['depth'])
    assert sub.get_data_info(0)['factors'] == a.get_data_info(5)['factors']


def test_private_factors_change_one_modality_only():
    ds = SyntheticMultiModalDataset(num_samples=4)
    factors = ds.get_data_info(2)['factors']
    base = ds.render(factors, 2)
    for name, changed, same in (('hue', 'rgb', 'depth'), ('background', 'rgb',
                                                          'depth'),
                                ('texture', 'depth', 'rgb'), ('phase', 'depth',
                                                              'rgb')):
        other = dict(factors)
        if name in ds.metainfo['num_classes']:
            other[name] = (factors[name] + 1) % 4
        else:
            other[name] = factors[name] * 0.8 + 0.05
        img = ds.render(other, 2)
        np.testing.assert_array_equal(img[same], base[same], err_msg=name)
        assert not np.array_equal(img[changed], base[changed]), name
    # Shared factors change both modalities.
    for name in ('shape', 'pos_x'):
        other = dict(factors)
        other[name] = (factors[name] + 1) % 4 if name == 'shape' else 0.6
        img = ds.render(other, 2)
        assert not np.array_equal(img['rgb'], base['rgb'])
        assert not np.array_equal(img['depth'], base['depth'])


def test_factors_are_spread_and_independent():
    ds = SyntheticMultiModalDataset(num_samples=2000, lazy_init=True)
    f = np.stack([ds.sample_factors(i)['shape'] for i in range(2000)]), \
        np.stack([ds.sample_factors(i)['hue'] for i in range(2000)]), \
        np.stack([ds.sample_factors(i)['texture'] for i in range(2000)])
    for x in f:
        assert np.bincount(x, minlength=4).min() > 400
    # Joint hue x texture counts are close to uniform (chi-square, 9 dof).
    joint = np.bincount(f[1] * 4 + f[2], minlength=16)
    chi2 = ((joint - 125.)**2 / 125.).sum()
    assert chi2 < 40


def test_private_factors_are_visible():
    ds = SyntheticMultiModalDataset(num_samples=32, noise_std=0)
    for idx in range(32):
        info = ds.get_data_info(idx)
        f, imgs = info['factors'], info['imgs']
        mask = ds.object_mask(f)
        # The object has its hue's colour in rgb and is raised in depth.
        colour = imgs['rgb'][mask].mean(0)
        assert int(np.argmax(colour)) == (0, 1, 2, 0)[f['hue']]
        depth = imgs['depth'][..., 0].astype(float)
        assert depth[mask].mean() > depth[~mask].mean() + 60


def test_depth_channels_and_errors():
    ds = SyntheticMultiModalDataset(
        num_samples=2, modalities=('rgb', 'hha'), depth_channels=3)
    hha = ds.get_data_info(0)['imgs']['hha']
    assert hha.shape == (32, 32, 3)
    assert (hha[..., 0] == hha[..., 2]).all()
    with pytest.raises(ValueError):
        SyntheticMultiModalDataset(modalities=('rgb', ))
    with pytest.raises(ValueError):
        SyntheticMultiModalDataset(split='holdout')
    assert 'num_samples=2' in repr(ds)


def test_decur_pipeline_and_collate():
    np.random.seed(0)
    ds = SyntheticMultiModalDataset(num_samples=16, pipeline=DECUR_PIPELINE)
    loader = DataLoader(ds, batch_size=8, collate_fn=default_collate)
    batch = next(iter(loader))
    rgb, depth = batch['inputs']['rgb'], batch['inputs']['depth']
    assert len(rgb) == len(depth) == 2
    assert rgb[0].shape == (8, 3, 32, 32) and rgb[0].dtype == torch.uint8
    assert depth[1].shape == (8, 1, 32, 32)
    factors = torch.stack([s.gt_factors for s in batch['data_samples']])
    assert factors.shape == (8, len(ds.metainfo['factor_names']))
    expected = torch.as_tensor(
        np.stack([ds.get_data_info(i)['gt_factors'] for i in range(8)]))
    torch.testing.assert_close(factors, expected)


def test_a_third_modality_leaves_the_first_two_untouched():
    two = SyntheticMultiModalDataset(num_samples=6)
    three = SyntheticMultiModalDataset(
        num_samples=6, modalities=('rgb', 'depth', 'thermal'))
    assert three.metainfo['private_factors'] == dict(
        rgb=('hue', ), depth=('texture', ), thermal=('grating', ))
    assert three.metainfo['num_classes']['grating'] == 4
    assert three.metainfo['modalities'] == ('rgb', 'depth', 'thermal')
    for idx in range(6):
        a, b = two.get_data_info(idx), three.get_data_info(idx)
        for m in ('rgb', 'depth'):
            np.testing.assert_array_equal(a['imgs'][m], b['imgs'][m])
        assert b['imgs']['thermal'].shape == (32, 32, 1)
        names = three.metainfo['factor_names']
        assert len(b['gt_factors']) == len(names) == len(a['gt_factors']) + 2


def test_the_grating_is_private_to_the_third_modality():
    ds = SyntheticMultiModalDataset(
        num_samples=4, modalities=('rgb', 'depth', 'thermal'), noise_std=0)
    factors = ds.get_data_info(1)['factors']
    base = ds.render(factors, 1)
    for name in ('grating', 'grating_phase'):
        other = dict(factors)
        other[name] = ((factors[name] + 1) %
                       4 if name == 'grating' else factors[name] + 1.)
        img = ds.render(other, 1)
        np.testing.assert_array_equal(img['rgb'], base['rgb'])
        np.testing.assert_array_equal(img['depth'], base['depth'])
        assert not np.array_equal(img['thermal'], base['thermal']), name
    # Its stripes vary along x: columns differ, rows of the background do
    # not (the object is the only thing along y).
    cycles = (1.5, 3.0, 6.0, 12.0)[factors['grating']]
    row = base['thermal'][0, :, 0].astype(float)
    x = (np.arange(32) + 0.5) / 32
    want = 170 + 35 * np.sin(2 * np.pi * cycles * x + factors['grating_phase'])
    mask = ds.object_mask(factors)[0]
    np.testing.assert_allclose(row[~mask], np.rint(want)[~mask], atol=0.51)


def test_factor_dataset_knows_its_common_fraction():
    ds = SyntheticFactorDataset(
        num_samples=8,
        modalities=('a', 'b', 'c'),
        num_common_factors=2,
        num_private_factors=dict(a=6, b=2, c=0))
    meta = ds.metainfo
    # 4 levels per factor: functions of the 2 common factors span 4^2 - 1
    # dims of a modality's 4^(2+dp) - 1 (its private factors and every
    # interaction are unique); the entropy share is 2 / (2 + dp).
    frac = meta['true_common_fraction']
    assert frac['a'] == pytest.approx(15 / (4**8 - 1))
    assert frac['b'] == pytest.approx(15 / 255)
    assert frac['c'] == 1.0
    assert meta['common_information_fraction'] == pytest.approx(
        dict(a=0.25, b=0.5, c=1.0))
    assert meta['shared_factors'] == ('common_0', 'common_1')
    assert meta['private_factors']['a'] == tuple(f'a_private_{j}'
                                                 for j in range(6))
    assert meta['private_factors']['c'] == ()
    assert set(meta['num_classes'].values()) == {4}
    info = ds.get_data_info(0)
    assert set(info['imgs']) == {'a', 'b', 'c'}
    assert list(info['factors']) == list(meta['factor_names'])
    assert all(0 <= v < 4 for v in info['factors'].values())


def test_factors_reach_exactly_the_modalities_they_belong_to():
    ds = SyntheticFactorDataset(
        num_samples=4, num_common_factors=2, num_private_factors=2)
    factors = ds.get_data_info(3)['factors']
    base = ds.render(factors, 3)
    for name, changed in (('common_1', {'a', 'b'}), ('a_private_0', {'a'}),
                          ('b_private_1', {'b'})):
        other = dict(factors, **{name: (factors[name] + 1) % 4})
        img = ds.render(other, 3)
        for m in ('a', 'b'):
            assert (not np.array_equal(img[m],
                                       base[m])) == (m in changed), (name, m)


def test_each_factor_is_the_amplitude_of_its_carrier():
    """Without noise, a band holding one factor is 127.5 + A sin(...): the
    Fourier coefficient at the carrier's frequency gives A back."""
    ds = SyntheticFactorDataset(
        num_samples=16,
        num_common_factors=1,
        num_private_factors=0,
        num_bands=1,
        noise_std=0,
        amplitude=40.)
    band, axis, cycles = ds.carriers['a']['common_0']
    for idx in range(16):
        info = ds.get_data_info(idx)
        img = info['imgs']['a'][..., band].astype(float)
        profile = img.mean(1) if axis == 'y' else img.mean(0)
        spectrum = np.abs(np.fft.rfft(profile - profile.mean())) * 2 / 32
        amp = 40. * (info['factors']['common_0'] + 1) / 4
        assert spectrum[int(cycles)] == pytest.approx(amp, abs=0.6)
        # and nothing but that carrier
        assert np.delete(spectrum, int(cycles)).max() < 0.6


def test_factor_dataset_errors():
    with pytest.raises(ValueError, match='carriers'):
        SyntheticFactorDataset(
            num_common_factors=10, num_private_factors=10, num_bands=1)
    with pytest.raises(KeyError, match="'b'"):
        SyntheticFactorDataset(num_private_factors=dict(a=1))
    with pytest.raises(ValueError, match='two or more'):
        SyntheticFactorDataset(modalities=('a', ))


def test_factor_images_follow_one_law_in_every_split():
    """Without noise and random phases an image is a function of its factors
    alone: the same in train, val and test, so that validation measures the
    training distribution."""
    kwargs = dict(num_samples=4, num_common_factors=1, num_private_factors=1)
    splits = [
        SyntheticFactorDataset(split=s, **kwargs)
        for s in ('train', 'val', 'test')
    ]
    factors = splits[0].get_data_info(0)['factors']
    want = splits[0].render(factors, 0)
    for ds in splits:
        for index in (0, 3):
            got = ds.render(factors, index)
            for m in want:
                np.testing.assert_array_equal(got[m], want[m])
    # Random phases differ per sample (the layout still fixed by seed).
    random = SyntheticFactorDataset(random_phase=True, **kwargs)
    a, b = random.render(factors, 0), random.render(factors, 1)
    assert not np.array_equal(a['a'], b['a'])

# Copyright (c) mmdecur contributors. All rights reserved.
import cv2
import numpy as np
import pytest

import mmdecur  # noqa: F401
from mmdecur.datasets.transforms import (ColorJitterND, GaussianBlurND,
                                         RandomGrayscaleND, SolarizeND)


def _results(value_ranges=None, **imgs):
    if value_ranges is None:
        value_ranges = {
            k: (float(np.iinfo(v.dtype).min), float(np.iinfo(v.dtype).max))
            for k, v in imgs.items() if np.issubdtype(v.dtype, np.integer)
        }
    return dict(
        imgs=imgs,
        value_ranges=value_ranges,
        img_paths={k: f'/data/{k}.png'
                   for k in imgs})


def test_brightness_clips_instead_of_wrapping():
    img = np.full((4, 4, 3), 200, np.uint8)
    jitter = ColorJitterND(brightness=(1.4, 1.4), contrast=0, prob=1.)
    out = jitter(_results(rgb=img))['imgs']['rgb']
    # The official uint8 code wrapped: (200 * 1.4) % 256 = 24.
    assert out.dtype == np.uint8 and (out == 255).all()
    dark = ColorJitterND(brightness=(0.5, 0.5), contrast=0, prob=1.)
    assert (dark(_results(rgb=img))['imgs']['rgb'] == 100).all()
    # Float data clips to its configured range.
    flt = np.full((2, 2, 1), 0.9, np.float32)
    out = jitter(_results(value_ranges=dict(x=(0., 1.)), x=flt))
    assert out['imgs']['x'].dtype == np.float32
    np.testing.assert_allclose(out['imgs']['x'], 1.0)


def test_contrast_formula():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 4000, (6, 5, 4)).astype(np.uint16)
    jitter = ColorJitterND(brightness=0, contrast=(0.5, 0.5), prob=1.)
    out = jitter(_results(value_ranges=dict(s=(0, 4000)), s=img))
    x = img.astype(np.float64)
    gray_mean = x.mean(axis=2).mean()
    expected = np.clip(np.rint(x * 0.5 + gray_mean * 0.5), 0, 4000)
    np.testing.assert_allclose(out['imgs']['s'], expected, atol=1)


def test_solarize_uint8_threshold():
    img = np.array([0, 100, 127, 128, 200, 255], np.uint8).reshape(1, 6, 1)
    out = SolarizeND(threshold=0.5, prob=1.)(_results(m=img))['imgs']['m']
    # Threshold 127.5: the official absolute 0.5 inverted only zeros.
    np.testing.assert_array_equal(out.ravel(), [0, 100, 127, 127, 55, 0])


def test_solarize_float_and_custom_range():
    x = np.array([-1, -0.5, 0, 0.5, 1], np.float32).reshape(1, 5, 1)
    out = SolarizeND(
        threshold=0.5,
        prob=1.)(_results(value_ranges=dict(s1=(-1., 1.)), s1=x))['imgs']['s1']
    np.testing.assert_allclose(out.ravel(), [-1, -0.5, 0, -0.5, -1])
    dn = np.array([0, 2000, 7500, 10000], np.uint16).reshape(1, 4, 1)
    out = SolarizeND(
        threshold=0.75,
        prob=1.)(_results(value_ranges=dict(s2=(0, 10000)),
                          s2=dn))['imgs']['s2']
    np.testing.assert_array_equal(out.ravel(), [0, 2000, 2500, 0])


def test_grayscale_13_bands_is_band_mean():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 10000, (5, 7, 13)).astype(np.uint16)
    out = RandomGrayscaleND(prob=1.)(_results(s2=img))['imgs']['s2']
    assert out.shape == img.shape and out.dtype == np.uint16
    mean = np.rint(img.astype(np.float64).mean(axis=2))
    for band in range(13):
        np.testing.assert_allclose(out[..., band], mean, atol=1)


def test_blur():
    const = np.full((16, 16, 3), 77, np.uint8)
    out = GaussianBlurND(prob=1.)(_results(rgb=const))['imgs']['rgb']
    assert (out == 77).all()
    rng = np.random.default_rng(2)
    flt = rng.random((16, 16, 13)).astype(np.float32)
    blur = GaussianBlurND(sigma=(1.5, 1.5), prob=1.)
    out = blur(_results(value_ranges=dict(s2=(0., 1.)), s2=flt))['imgs']['s2']
    assert out.shape == flt.shape and out.dtype == np.float32
    assert abs(out.mean() - flt.mean()) < 0.01
    for band in (0, 7, 12):
        np.testing.assert_allclose(
            out[..., band],
            cv2.GaussianBlur(flt[..., band], (0, 0), 1.5),
            atol=1e-5)
    one = rng.integers(0, 255, (9, 9, 1)).astype(np.uint8)
    assert GaussianBlurND(prob=1.)(_results(d=one))['imgs']['d'].shape == (9,
                                                                           9,
                                                                           1)


def test_modality_selection_and_prob():
    a = np.full((4, 4, 3), 200, np.uint8)
    b = np.full((4, 4, 3), 200, np.uint8)
    jitter = ColorJitterND(
        brightness=(0.5, 0.5),
        contrast=0,
        modalities=['rgb', 'absent'],
        prob=1.)
    results = _results(rgb=a, hha=b)
    out = jitter(dict(results))
    assert (out['imgs']['rgb'] == 100).all()
    assert out['imgs']['hha'] is b
    # The caller's dict of images is untouched (other views share it).
    assert results['imgs']['rgb'] is a and (a == 200).all()
    never = SolarizeND(prob=0.)(_results(rgb=a))
    assert never['imgs']['rgb'] is a


def test_independent_draws_per_modality():
    np.random.seed(3)
    img = np.full((2, 2, 1), 100, np.uint8)
    jitter = ColorJitterND(brightness=0.4, contrast=0, prob=1.)
    out = jitter(_results(a=img, b=img.copy()))['imgs']
    assert out['a'][0, 0, 0] != out['b'][0, 0, 0]


def test_errors_and_repr():
    with pytest.raises(ValueError):
        ColorJitterND(brightness=-1)
    with pytest.raises(ValueError):
        SolarizeND(threshold=128)
    with pytest.raises(ValueError):
        GaussianBlurND(kernel_size=4)
    flt = np.zeros((2, 2, 2), np.float32)
    with pytest.raises(ValueError, match=r"'s1'.*set value_range"):
        SolarizeND(prob=1.)(_results(s1=flt))
    for t in (ColorJitterND(), RandomGrayscaleND(), GaussianBlurND(),
              SolarizeND()):
        assert type(t).__name__ in repr(t) and 'prob=' in repr(t)


@pytest.mark.parametrize('transform', [
    ColorJitterND(brightness=0.4, contrast=0.4, prob=1.),
    ColorJitterND(brightness=(1.3, 1.3), contrast=0, prob=1.),
    ColorJitterND(brightness=0, contrast=(0.6, 0.6), prob=1.),
    SolarizeND(threshold=0.5, prob=1.),
    SolarizeND(threshold=0.3, prob=1.),
])
def test_uint8_lookup_table_equals_float_arithmetic(transform):
    # uint8 runs through a 256-entry table, uint16 through float32 math on
    # every pixel: with the same values, range and draws, the same result.
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (20, 17, 13)).astype(np.uint8)
    outs = []
    for dtype in (np.uint8, np.uint16):
        np.random.seed(11)
        res = _results(value_ranges=dict(s2=(0., 255.)), s2=img.astype(dtype))
        outs.append(transform(res)['imgs']['s2'])
    assert outs[0].dtype == np.uint8 and outs[1].dtype == np.uint16
    np.testing.assert_array_equal(outs[0], outs[1])
    assert not np.array_equal(outs[0], img)


def test_jitter_by_hand_on_uint8():
    img = np.array([0, 50, 100, 250], np.uint8).reshape(1, 4, 1)
    jitter = ColorJitterND(brightness=(1.2, 1.2), contrast=(0.5, 0.5), prob=1)
    out = jitter(_results(rgb=img))['imgs']['rgb'].ravel()
    x = img.ravel() * 1.2  # brightness, then contrast around the new mean
    expected = np.clip(np.rint(x * 0.5 + x.mean() * 0.5), 0, 255)
    np.testing.assert_array_equal(out, expected)


def test_blur_uint8_is_per_band_opencv_blur():
    rng = np.random.default_rng(4)
    img = rng.integers(0, 256, (30, 28, 13)).astype(np.uint8)
    np.random.seed(5)
    out = GaussianBlurND(prob=1.)(_results(s2=img))['imgs']['s2']
    np.random.seed(5)
    np.random.rand()  # the prob draw
    sigma = np.random.uniform(0.1, 2.0)
    assert out.dtype == np.uint8
    for band in range(13):
        np.testing.assert_array_equal(
            out[..., band],
            cv2.GaussianBlur(
                np.ascontiguousarray(img[..., band]), (0, 0),
                sigmaX=sigma,
                sigmaY=sigma))

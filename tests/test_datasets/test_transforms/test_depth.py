# Copyright (c) mmdecur contributors. All rights reserved.
"""Raw depth maps as released (1-band uint16 millimetres or uint8 PNGs),
read and scaled by the SUN-RGBD configs' depth pieces, against values
computed by hand."""
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

import mmdecur  # noqa: F401
from mmdecur.datasets.transforms import DepthScale
from mmdecur.registry import TRANSFORMS

ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
BASE = Config.fromfile(
    osp.join(ROOT, 'configs/_base_/datasets/sunrgbd_pretrain.py'))


def _png(tmp_path, img, name='d.png'):
    path = tmp_path / name
    assert cv2.imwrite(str(path), img)
    return str(path)


def _read_and_scale(path, **scale):
    load = TRANSFORMS.build(
        dict(type='LoadModalities', modalities=dict(depth=BASE.depth_reader)))
    results = load(dict(img_paths=dict(depth=path)))
    raw = results['imgs']['depth']
    cfg = dict(BASE.depth_scale, **scale)
    out = TRANSFORMS.build(cfg)(results)
    return raw, out['imgs']['depth'][..., 0], out['value_ranges']['depth']


def _ramp_with_holes():
    """11 x 10 uint16 millimetres: 1000, 1010, ..., 2000 (101 measured
    pixels, row-major) then 9 unmeasured ones (0)."""
    depth = np.zeros(110, np.uint16)
    depth[:101] = 1000 + 10 * np.arange(101)
    return depth.reshape(11, 10)


def test_uint16_millimetres_percentile_scaling(tmp_path):
    raw, out, value_range = _read_and_scale(_png(tmp_path, _ramp_with_holes()))
    assert raw.dtype == np.uint16 and raw.shape == (11, 10, 1)
    np.testing.assert_array_equal(raw[..., 0], _ramp_with_holes())
    assert out.dtype == np.uint8 and value_range == (0., 255.)
    flat = out.ravel()
    # Percentiles of the 101 MEASURED values (the holes do not count):
    # 1st = 1010 (index 1 of 0..100), 99th = 1990. t = (d - 1010) / 980,
    # measured depth -> round(1 + 254 t), unmeasured -> 0.
    assert (flat[101:] == 0).all()
    assert flat[0] == flat[1] == 1  # 1000 (clipped), 1010: t = 0
    assert flat[50] == 128  # 1500: t = 0.5, 1 + 127
    assert flat[20] == 50  # 1200: t = 190/980, round(1 + 49.24)
    assert flat[99] == flat[100] == 255  # 1990, 2000 (clipped): t = 1
    assert flat[:101].min() >= 1  # no measured pixel looks unmeasured


def test_uint16_millimetres_fixed_range(tmp_path):
    depth = np.array([[0, 300, 500], [4500, 6900, 9000]], np.uint16)
    _, out, _ = _read_and_scale(
        _png(tmp_path, depth), mode='fixed', depth_range=(500, 8500))
    # t = clip((d - 500) / 8000, 0, 1): 300 -> 0, 4500 -> 0.5, 6900 -> 0.8;
    # round(1 + 254 t).
    np.testing.assert_array_equal(out, [[0, 1, 1], [128, 204, 255]])


def test_uint8_depth_percentile_and_fixed(tmp_path):
    depth = np.array([[0, 10, 20], [35, 45, 60]], np.uint8)
    raw, out, _ = _read_and_scale(_png(tmp_path, depth), low=0, high=100)
    assert raw.dtype == np.uint8
    # Measured 10..60: t = (d - 10) / 50 -> 0, .2, .5, .7, 1;
    # round(1 + 254 t) = 1, 51.8, 128, 178.8, 255.
    np.testing.assert_array_equal(out, [[0, 1, 52], [128, 179, 255]])
    _, fixed, _ = _read_and_scale(
        _png(tmp_path, depth), mode='fixed', depth_range=(0, 100))
    # t = d / 100 -> round(1 + 254 t): 26.4, 51.8, 89.9, 115.3, 153.4.
    np.testing.assert_array_equal(fixed, [[0, 26, 52], [90, 115, 153]])


def test_every_pixel_measured_and_float_output():
    depth = np.array([[0., 10.], [30., 40.]], np.float32)[..., None]
    full = DepthScale(low=0, high=100, invalid_value=None)
    np.testing.assert_array_equal(
        full.scale(depth)[..., 0], [[0, 64], [191, 255]])  # round(255 t)
    as_float = DepthScale(low=0, high=100, out_dtype='float32')
    np.testing.assert_allclose(
        as_float.scale(depth)[..., 0],
        [[0, 1 / 255], [(1 + 254 * 2 / 3) / 255, 1]],
        rtol=1e-6)
    out = as_float(dict(imgs=dict(depth=depth, rgb=np.zeros((2, 2, 3)))))
    assert out['value_ranges'] == dict(depth=(0., 1.))


def test_degenerate_images():
    scale = DepthScale()
    empty = np.zeros((4, 5, 1), np.uint16)
    assert (scale.scale(empty) == 0).all()  # nothing measured
    flat = np.full((4, 5, 1), 1234, np.uint16)
    flat[0, 0] = 0
    out = scale.scale(flat)
    assert out[0, 0, 0] == 0 and (out.ravel()[1:] == 1).all()
    nan = np.array([[np.nan, 2.], [4., 6.]], np.float32)[..., None]
    out = DepthScale(low=0, high=100).scale(nan)[..., 0]
    np.testing.assert_array_equal(out, [[0, 1], [128, 255]])


def test_invalid_options():
    with pytest.raises(ValueError, match='mode'):
        DepthScale(mode='log')
    with pytest.raises(ValueError, match='depth_range'):
        DepthScale(mode='fixed')
    with pytest.raises(ValueError, match='depth_range'):
        DepthScale(mode='fixed', depth_range=(10, 10))
    with pytest.raises(ValueError, match="mode='fixed' only"):
        DepthScale(depth_range=(0, 10))
    with pytest.raises(ValueError, match='low < high'):
        DepthScale(low=99, high=1)
    with pytest.raises(ValueError, match='out_dtype'):
        DepthScale(out_dtype='uint16')

# Copyright (c) mmdecur contributors. All rights reserved.
import cv2
import numpy as np
import pytest

import mmdecur  # noqa: F401
from mmdecur.datasets.transforms import (CenterCropND, RandomFlipND,
                                         RandomResizedCropND, ResizeND)
from mmdecur.datasets.transforms.geometric import CV2_INTERP, resize_image


def _blocks(h=48, w=64, block=8):
    """A label map of distinct block ids and images derived from it."""
    ids = (np.arange(h)[:, None] // block) * (w // block) + (
        np.arange(w)[None, :] // block)
    return ids.astype(np.uint8)


def test_coregistered_crop_and_label():
    np.random.seed(0)
    label = _blocks()
    rgb = np.stack([label, label + 1, label + 2], axis=2)
    x = label[..., None].astype(np.uint16) * 100
    crop = RandomResizedCropND(
        size=20, scale=(0.2, 0.6), interpolation='nearest')
    for _ in range(5):
        out = crop(
            dict(
                imgs=dict(rgb=rgb, x=x, same=rgb.copy()),
                gt_seg_map=label,
                seg_fields=['gt_seg_map']))
        imgs = out['imgs']
        assert imgs['rgb'].shape == (20, 20, 3)
        assert imgs['x'].shape == (20, 20, 1)
        assert imgs['x'].dtype == np.uint16
        np.testing.assert_array_equal(imgs['rgb'], imgs['same'])
        # Same box for every entry: all derive from the same label pixels.
        np.testing.assert_array_equal(imgs['rgb'][..., 0], out['gt_seg_map'])
        np.testing.assert_array_equal(imgs['x'][..., 0],
                                      out['gt_seg_map'].astype(int) * 100)
        assert out['img_shape'] == (20, 20)


def test_bilinear_crop_label_alignment():
    np.random.seed(1)
    label = _blocks(64, 64, 16)
    img = label[..., None].astype(np.float32)
    out = RandomResizedCropND(
        size=32, scale=(0.5, 1.0))(
            dict(
                imgs=dict(a=img), gt_seg_map=label, seg_fields=['gt_seg_map']))
    # Away from block edges, bilinear values equal the nearest labels.
    close = np.abs(out['imgs']['a'][..., 0] - out['gt_seg_map']) < 1e-4
    assert close.mean() > 0.6


def test_size_mismatch_error():
    results = dict(
        imgs=dict(
            rgb=np.zeros((10, 12, 3), np.uint8),
            hha=np.zeros((10, 14, 3), np.uint8)),
        img_paths=dict(rgb='/d/RGB/a.jpg', hha='/d/HHA/a.jpg'))
    for t in (RandomResizedCropND(8), RandomFlipND(), ResizeND(8),
              CenterCropND(8)):
        with pytest.raises(ValueError, match='co-registration') as e:
            t(dict(results))
        msg = str(e.value)
        for s in ('rgb 10x12', 'hha 10x14', '/d/RGB/a.jpg', '/d/HHA/a.jpg'):
            assert s in msg


@pytest.mark.parametrize('bands,dtype', [(1, np.uint8), (13, np.uint16),
                                         (13, np.float32), (2, np.int32),
                                         (600, np.float32)])
def test_any_band_count(bands, dtype):
    np.random.seed(2)
    img = (np.random.rand(30, 40, bands) * 1000).astype(dtype)
    for t, shape in ((RandomResizedCropND(16, interpolation='area'),
                      (16, 16)), (RandomResizedCropND((12, 20)), (12, 20)),
                     (ResizeND(15), (15, 20)), (ResizeND(
                         (9, 7)), (9, 7)), (CenterCropND(10), (10, 10)),
                     (RandomFlipND(1.), (30, 40))):
        out = t(dict(imgs=dict(m=img)))['imgs']['m']
        assert out.shape == shape + (bands, ), repr(t)
        assert out.dtype == dtype


def test_resize_values():
    const = np.full((20, 30, 13), 1234, np.uint16)
    out = ResizeND((7, 11))(dict(imgs=dict(s2=const)))['imgs']['s2']
    assert (out == 1234).all()
    # Each band is resized on its own.
    ramp = np.broadcast_to(np.arange(13, dtype=np.float32), (20, 30, 13))
    out = ResizeND((7, 11))(dict(imgs=dict(s2=ramp)))['imgs']['s2']
    np.testing.assert_allclose(out, np.broadcast_to(ramp[:7, :11], out.shape))


def test_flip():
    label = _blocks(8, 16, 4)
    img = np.stack([label, label * 2], axis=2)
    results = dict(
        imgs=dict(a=img), gt_seg_map=label, seg_fields=['gt_seg_map'])
    out = RandomFlipND(prob=1.)(dict(results))
    np.testing.assert_array_equal(out['imgs']['a'], img[:, ::-1])
    np.testing.assert_array_equal(out['gt_seg_map'], label[:, ::-1])
    assert out['flip'] and out['flip_direction'] == 'horizontal'
    out = RandomFlipND(prob=1., direction='vertical')(out)
    np.testing.assert_array_equal(out['imgs']['a'], img[::-1, ::-1])
    assert out['flip_direction'] == 'diagonal'
    out = RandomFlipND(prob=1., direction='diagonal')(out)
    np.testing.assert_array_equal(out['imgs']['a'], img)
    assert not out['flip'] and out['flip_direction'] is None
    out = RandomFlipND(prob=0.)(dict(results))
    assert out['imgs']['a'] is img and out['flip'] is False
    # The input dict of images is never modified.
    assert results['imgs']['a'] is img


def test_center_crop_pads_label_with_ignore():
    img = np.full((4, 6, 2), 7, np.uint8)
    label = np.ones((4, 6), np.uint8)
    out = CenterCropND((8, 6))(
        dict(imgs=dict(a=img), gt_seg_map=label, seg_fields=['gt_seg_map']))
    assert out['imgs']['a'].shape == (8, 6, 2)
    assert (out['imgs']['a'][:2] == 0).all()
    assert (out['imgs']['a'][2:6] == 7).all()
    assert (out['gt_seg_map'][:2] == 255).all()
    assert (out['gt_seg_map'][2:6] == 1).all()


def test_label_without_seg_fields_is_still_transformed():
    label = _blocks(8, 8, 4)
    out = RandomFlipND(prob=1.)(dict(imgs=dict(), gt_seg_map=label))
    np.testing.assert_array_equal(out['gt_seg_map'], label[:, ::-1])


def test_fallback_and_repr():
    # A 1x10 strip cannot fit ratio (3/4, 4/3): central fallback.
    crop = RandomResizedCropND(4, scale=(0.9, 1.0))
    top, left, h, w = crop.get_params(10, 100)
    assert (h, w) == (10, round(10 * 4 / 3))
    assert top == 0 and left == (100 - w) // 2
    for t in (crop, RandomFlipND(), ResizeND(3), CenterCropND(3)):
        assert type(t).__name__ in repr(t)
    with pytest.raises(ValueError):
        RandomResizedCropND(4, interpolation='cubic')
    with pytest.raises(ValueError):
        RandomFlipND(direction='up')


@pytest.mark.parametrize('interpolation', ['bilinear', 'nearest'])
@pytest.mark.parametrize('size', [(224, 224), (50, 71), (300, 290)])
def test_resize_13_uint8_bands_equals_band_by_band(interpolation, size):
    # Resized in one OpenCV call: must equal resizing each band alone.
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (133, 121, 13)).astype(np.uint8)[5:, 3:]
    out = resize_image(img, size, interpolation)
    flag = CV2_INTERP[interpolation]
    for band in range(13):
        np.testing.assert_array_equal(
            out[..., band],
            cv2.resize(
                np.ascontiguousarray(img[..., band]),
                size[::-1],
                interpolation=flag))

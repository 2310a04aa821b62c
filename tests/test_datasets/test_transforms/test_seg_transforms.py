# Copyright (c) mmdecur contributors. All rights reserved.
"""Segmentation transforms: label loading, random resize/crop, packing."""
import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate, pseudo_collate
from mmseg.structures import SegDataSample

import mmdecur  # noqa: F401
from mmdecur.datasets import FileContentError, MissingFileError
from mmdecur.datasets.transforms import (LoadSegLabel, PackMultiModalSegInputs,
                                         RandomCropND, RandomFlipND,
                                         RandomResizeND, cmx_label_to_train_id)
from mmdecur.registry import TRANSFORMS


def _write_label(path, label):
    assert cv2.imwrite(str(path), label)
    return str(path)


# ---------------------------------------------------------------- LoadSegLabel
def test_cmx_shift_on_uint8(tmp_path):
    stored = np.array([[0, 1, 2], [40, 7, 0]], np.uint8)
    path = _write_label(tmp_path / 'a.png', stored)
    load = TRANSFORMS.build(
        dict(type='LoadSegLabel', reduce='cmx', num_classes=40))
    out = load(dict(seg_map_path=path, seg_fields=['gt_seg_map']))
    label = out['gt_seg_map']
    assert label.dtype == np.uint8 and label.shape == (2, 3)
    # void 0 wraps to 255 (not -1), class c becomes c - 1.
    np.testing.assert_array_equal(label, [[255, 0, 1], [39, 6, 255]])
    assert out['seg_fields'] == ['gt_seg_map']  # listed once
    np.testing.assert_array_equal(
        cmx_label_to_train_id(np.zeros(2, np.uint8)), [255, 255])
    with pytest.raises(ValueError, match='uint8'):
        cmx_label_to_train_id(np.zeros(2, np.int32))


def test_geonrw_mapping(tmp_path):
    stored = np.arange(11, dtype=np.uint8).reshape(1, 11)
    for suffix in ('.tif', '.png'):
        path = _write_label(tmp_path / f'x_seg{suffix}', stored)
        out = LoadSegLabel(
            reduce='geonrw', num_classes=10)(
                dict(seg_map_path=path))
        np.testing.assert_array_equal(out['gt_seg_map'][0],
                                      [255] + list(range(10)))
        assert out['seg_fields'] == ['gt_seg_map']
    bad = _write_label(tmp_path / 'bad_seg.tif',
                       np.array([[3, 11, 12]], np.uint8))
    with pytest.raises(FileContentError) as e:
        LoadSegLabel(reduce='geonrw', num_classes=10)(dict(seg_map_path=bad))
    assert bad in str(e.value) and '[11, 12]' in str(e.value)
    assert e.value.kind == 'label' and e.value.path == bad


def test_out_of_range_labels_name_file_and_values(tmp_path):
    path = _write_label(tmp_path / 'b.png',
                        np.array([[0, 41, 45, 41, 255]], np.uint8))
    with pytest.raises(FileContentError) as e:
        LoadSegLabel(reduce='cmx', num_classes=40)(dict(seg_map_path=path))
    msg = str(e.value)
    assert path in msg and e.value.kind == 'label'
    # Stored values (and their train ids); 255 - 1 = 254 is no class either.
    assert 'stored value(s) [41, 45, 255]' in msg
    assert 'train id(s) [40, 44, 254]' in msg
    # As stored: 255 is the ignore index, 9 is out of 0..4.
    path = _write_label(tmp_path / 'c.png', np.array([[0, 4, 255]], np.uint8))
    out = LoadSegLabel(num_classes=5)(dict(seg_map_path=path))
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 4, 255]])
    path = _write_label(tmp_path / 'd.png', np.array([[0, 9]], np.uint8))
    with pytest.raises(FileContentError, match=r'd\.png.*\[9\]'):
        LoadSegLabel(num_classes=5)(dict(seg_map_path=path))
    # Without num_classes nothing is checked.
    out = LoadSegLabel()(dict(seg_map_path=path))
    np.testing.assert_array_equal(out['gt_seg_map'], [[0, 9]])


def test_label_file_problems(tmp_path):
    colour = _write_label(tmp_path / 'colour.png', np.zeros((2, 2, 3),
                                                            np.uint8))
    with pytest.raises(FileContentError, match=r'colour\.png has 3 bands'):
        LoadSegLabel()(dict(seg_map_path=colour))
    wide = _write_label(tmp_path / 'wide.png', np.array([[3, 300]], np.uint16))
    with pytest.raises(FileContentError, match=r'wide\.png.*\[300\]'):
        LoadSegLabel()(dict(seg_map_path=wide))
    narrow = _write_label(tmp_path / 'narrow.png', np.array([[0, 3]],
                                                            np.uint16))
    out = LoadSegLabel(reduce='cmx')(dict(seg_map_path=narrow))
    assert out['gt_seg_map'].dtype == np.uint8
    np.testing.assert_array_equal(out['gt_seg_map'], [[255, 2]])
    floats = _write_label(tmp_path / 'f.tif', np.ones((2, 2), np.float32))
    with pytest.raises(FileContentError, match=r'f\.tif holds float32'):
        LoadSegLabel()(dict(seg_map_path=floats))
    with pytest.raises(MissingFileError, match='nope.png'):
        LoadSegLabel()(dict(seg_map_path=str(tmp_path / 'nope.png')))
    with pytest.raises(KeyError, match='seg_map_path'):
        LoadSegLabel()(dict())
    with pytest.raises(ValueError, match='reduce'):
        LoadSegLabel(reduce='ade')


# ------------------------------------------------------ co-registered geometry
def _coordinate_sample(h=40, w=60):
    """Images whose pixels encode their (row + 1, col + 1), and labels made
    from the same coordinates; 0 in an image means padding."""
    rows, cols = np.mgrid[1:h + 1, 1:w + 1]
    rgb = np.stack([rows, cols, np.full_like(rows, 7)], -1).astype(np.uint8)
    return dict(
        imgs=dict(
            rgb=rgb,
            hha=np.ascontiguousarray(rgb[..., ::-1]),
            dem=(rows * 1000. + cols)[..., None].astype(np.float32)),
        gt_seg_map=(rows % 11 + 3 * (cols % 5)).astype(np.uint8),
        gt_col=cols.astype(np.uint8),
        seg_fields=['gt_seg_map', 'gt_col'],
        img_paths=dict(rgb='RGB/a.jpg', hha='HHA/a.jpg', dem='DEM/a.tif'),
        seg_map_path='Label/a.png',
        ori_shape=dict(rgb=(h, w), hha=(h, w), dem=(h, w)))


def _check_aligned(out, exact=True):
    rgb = out['imgs']['rgb'].astype(np.int64)
    rows, cols = rgb[..., 0], rgb[..., 1]
    real = rgb[..., 2] != 0  # padding is 0 in every image band
    label, col_map = out['gt_seg_map'], out['gt_col']
    assert (label[~real] == 255).all() and (col_map[~real] == 255).all()
    assert (out['imgs']['dem'][~real] == 0).all()
    if exact:
        np.testing.assert_array_equal(out['imgs']['hha'], rgb[..., ::-1])
        np.testing.assert_array_equal(out['imgs']['dem'][..., 0][real],
                                      (rows * 1000 + cols)[real])
        np.testing.assert_array_equal(label[real],
                                      (rows % 11 + 3 * (cols % 5))[real])
        np.testing.assert_array_equal(col_map[real], cols[real])
    else:
        # Bilinear images, nearest labels: the same place to within a pixel.
        assert np.abs(col_map[real].astype(int) - cols[real]).max() <= 1
        dem = out['imgs']['dem'][..., 0]
        assert np.abs(dem[real] / 1000 - rows[real]).max() <= 1


@pytest.mark.parametrize('interpolation', ['nearest', 'bilinear'])
def test_resize_crop_flip_keep_everything_aligned(interpolation):
    pipeline = [
        RandomResizeND(
            scales=(0.5, 0.75, 1.25, 1.5), interpolation=interpolation),
        RandomCropND((48, 64)),
        RandomFlipND(0.5, 'horizontal'),
        RandomFlipND(0.5, 'vertical'),
    ]
    np.random.seed(0)
    shapes, flips = set(), set()
    for _ in range(12):
        out = _coordinate_sample()
        for t in pipeline:
            out = t(out)
        for img in out['imgs'].values():
            assert img.shape[:2] == (48, 64)
        assert out['img_shape'] == (48, 64)
        assert out['gt_seg_map'].shape == out['gt_col'].shape == (48, 64)
        assert out['imgs']['dem'].dtype == np.float32
        _check_aligned(out, exact=interpolation == 'nearest')
        shapes.add(out['scale_factor'])
        flips.add(out['flip_direction'])
    assert len(shapes) > 1 and len(flips) > 2  # the draws did vary


def test_random_resize_scales_and_ranges():
    np.random.seed(1)
    resize = RandomResizeND(scales=(0.5, 1.5))
    seen = set()
    for _ in range(10):
        out = resize(_coordinate_sample(40, 60))
        seen.add(out['img_shape'])
        assert out['gt_seg_map'].shape == out['img_shape']
        assert out['imgs']['dem'].shape[:2] == out['img_shape']
    assert seen == {(20, 30), (60, 90)}
    out = RandomResizeND(ratio_range=(0.5, 2.0))(_coordinate_sample())
    h, w = out['img_shape']
    assert 20 <= h <= 80 and abs(w / h - 1.5) < 0.05
    # Without keep_ratio the axes are drawn independently.
    free = RandomResizeND(scales=(0.5, 2.0), keep_ratio=False)
    shapes = {free(_coordinate_sample())['img_shape'] for _ in range(20)}
    assert {(20, 120), (80, 30)} <= shapes
    # scale_factor is (w, h) and composes over resizes.
    out = RandomResizeND(scales=(0.5, ))(_coordinate_sample())
    out = RandomResizeND(scales=(1.5, ))(out)
    assert out['img_shape'] == (30, 45)
    np.testing.assert_allclose(out['scale_factor'], (0.75, 0.75))
    with pytest.raises(ValueError, match='exactly one'):
        RandomResizeND()
    with pytest.raises(ValueError, match='exactly one'):
        RandomResizeND(scales=(1, ), ratio_range=(1, 2))


def test_crop_pads_images_with_0_and_labels_with_255():
    img = np.full((10, 12, 3), 9, np.uint8)
    dem = np.full((10, 12, 1), -3.5, np.float32)
    label = np.full((10, 12), 4, np.uint8)
    out = RandomCropND((16, 20))(
        dict(
            imgs=dict(rgb=img, dem=dem),
            gt_seg_map=label,
            seg_fields=['gt_seg_map']))
    assert out['img_shape'] == (16, 20)
    # Symmetric padding as CMX: 3 rows above, 3 below; 4 columns each side.
    inner = (slice(3, 13), slice(4, 16))
    assert (out['imgs']['rgb'][inner] == 9).all()
    assert (out['imgs']['dem'][inner] == -3.5).all()
    assert (out['gt_seg_map'][inner] == 4).all()
    assert out['imgs']['rgb'].sum() == 9 * img.size
    assert out['imgs']['dem'].sum() == -3.5 * dem.size
    assert (out['gt_seg_map'] == 255).sum() == 16 * 20 - 10 * 12
    # Larger in one dimension only: random rows, all padded columns.
    out = RandomCropND((6, 20), pad_val=1, seg_pad_val=200)(
        dict(imgs=dict(rgb=img), gt_seg_map=label))
    assert out['imgs']['rgb'].shape == (6, 20, 3)
    assert (out['imgs']['rgb'][:, :4] == 1).all()
    assert (out['gt_seg_map'][:, 16:] == 200).all()
    assert (out['gt_seg_map'][:, 4:16] == 4).all()


def test_cat_max_ratio_redraws_dominated_crops():
    # A class-1 square in a sea of class 0 (and ignored pixels).
    label = np.zeros((100, 100), np.uint8)
    label[:50, :50] = 1
    label[70:, 70:] = 255
    img = label[..., None].copy()

    def balanced_share(ratio):
        np.random.seed(3)
        crop = RandomCropND(40, cat_max_ratio=ratio)
        good = 0
        for _ in range(30):
            out = crop(dict(imgs=dict(a=img), gt_seg_map=label))
            np.testing.assert_array_equal(out['imgs']['a'][..., 0],
                                          out['gt_seg_map'])
            values, counts = np.unique(out['gt_seg_map'], return_counts=True)
            counts = counts[values != 255]
            good += len(counts) > 1 and counts.max() / counts.sum() < 0.75
        return good / 30

    with_check, without = balanced_share(0.75), balanced_share(1.0)
    assert with_check > 0.85 and without < 0.5, (with_check, without)


def test_size_mismatch_names_the_files():
    results = _coordinate_sample()
    results['imgs']['hha'] = results['imgs']['hha'][:, :59]
    for t in (RandomResizeND(scales=(1.0, )), RandomCropND(8),
              PackMultiModalSegInputs()):
        with pytest.raises(ValueError, match='co-registration') as e:
            t(dict(results))
        assert 'HHA/a.jpg' in str(e.value) and '40x59' in str(e.value)
    # The label is part of the check.
    results = _coordinate_sample()
    results['gt_seg_map'] = results['gt_seg_map'][:39]
    with pytest.raises(ValueError, match='co-registration') as e:
        RandomCropND(8)(results)
    assert 'Label/a.png' in str(e.value) and '39x60' in str(e.value)


# ------------------------------------------------------------------- packing
def _packed(h=40, w=60, **extra):
    results = _coordinate_sample(h, w)
    results.update(sample_idx=3, **extra)
    return PackMultiModalSegInputs()(results)


def test_pack_seg_inputs():
    packed = _packed()
    inputs, sample = packed['inputs'], packed['data_samples']
    assert set(inputs) == {'rgb', 'hha', 'dem'}
    assert inputs['rgb'].shape == (3, 40, 60)
    assert inputs['rgb'].dtype == torch.uint8
    assert inputs['dem'].shape == (1, 40, 60)
    assert inputs['dem'].dtype == torch.float32
    assert isinstance(sample, SegDataSample)
    gt = sample.gt_sem_seg.data
    assert gt.shape == (1, 40, 60) and gt.dtype == torch.int64
    np.testing.assert_array_equal(gt[0].numpy(),
                                  _coordinate_sample()['gt_seg_map'])
    meta = sample.metainfo
    assert meta['img_path'] == 'RGB/a.jpg'
    assert meta['img_paths'] == dict(
        rgb='RGB/a.jpg', hha='HHA/a.jpg', dem='DEM/a.tif')
    assert meta['seg_map_path'] == 'Label/a.png'
    assert meta['ori_shape'] == (40, 60) and meta['img_shape'] == (40, 60)
    assert meta['flip'] is False and meta['flip_direction'] is None
    assert meta['reduce_zero_label'] is False
    assert meta['sample_idx'] == 3
    assert 'scale_factor' not in meta


def test_pack_after_augmentation_and_without_label():
    np.random.seed(0)
    results = _coordinate_sample()
    results = RandomResizeND(scales=(1.5, ))(results)
    results = RandomFlipND(1.0)(results)  # negative strides
    packed = PackMultiModalSegInputs()(results)
    meta = packed['data_samples'].metainfo
    assert meta['ori_shape'] == (40, 60) and meta['img_shape'] == (60, 90)
    assert meta['flip'] and meta['flip_direction'] == 'horizontal'
    assert meta['scale_factor'] == (1.5, 1.5)
    np.testing.assert_array_equal(
        packed['data_samples'].gt_sem_seg.data[0].numpy(),
        results['gt_seg_map'])
    unlabelled = _coordinate_sample()
    del unlabelled['gt_seg_map'], unlabelled['seg_map_path']
    sample = PackMultiModalSegInputs()(unlabelled)['data_samples']
    assert 'gt_sem_seg' not in sample and 'seg_map_path' not in sample
    # Per-modality original sizes must agree.
    results = _coordinate_sample()
    results['ori_shape']['dem'] = (41, 60)
    with pytest.raises(ValueError, match=r'original sizes.*DEM/a.tif'):
        PackMultiModalSegInputs()(results)


def test_collate_of_packed_seg_samples():
    # Test images differ in size: pseudo_collate (mmseg's choice) keeps
    # per-sample tensors in lists, the data preprocessor pads and stacks.
    batch = pseudo_collate([_packed(40, 60), _packed(20, 30)])
    assert set(batch['inputs']) == {'rgb', 'hha', 'dem'}
    assert isinstance(batch['inputs']['rgb'], list)
    assert [x.shape for x in batch['inputs']['dem']] == [(1, 40, 60),
                                                         (1, 20, 30)]
    assert [s.metainfo['img_shape']
            for s in batch['data_samples']] == [(40, 60), (20, 30)]
    # default_collate stacks, which only works for equal sizes.
    batch = default_collate([_packed(), _packed()])
    assert batch['inputs']['rgb'].shape == (2, 3, 40, 60)
    assert all(isinstance(s, SegDataSample) for s in batch['data_samples'])
    with pytest.raises(RuntimeError):
        default_collate([_packed(40, 60), _packed(20, 30)])

# Copyright (c) mmdecur contributors. All rights reserved.
"""Segmentation datasets through the base configs' pipelines, and label
fractions of the file datasets."""
import os
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmseg.structures import SegDataSample
from test_bigearthnet import PATCHES, ben  # noqa: F401 (fixture)

import mmdecur  # noqa: F401
from mmdecur.datasets import (GEONRW_CLASSES, NYUDV2_CLASSES, SUNRGBD_CLASSES,
                              BigEarthNetMMDataset, FileContentError,
                              GeoNRWDataset, RGBXDataset,
                              label_fraction_indices)
from mmdecur.datasets.transforms import PercentileScale
from mmdecur.registry import DATASETS
from mmdecur.testing.fake_data import (dem_of, make_geonrw_patches, rgb_of,
                                       write_tile)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(ROOT, 'configs', '_base_', 'datasets')
H, W = 24, 32
RGB = (50, 90, 130)  # as read, RGB order
HHA = (140, 100, 60)


def _cfg(name):
    return Config.fromfile(osp.join(CFG_DIR, f'{name}.py'))


def _stored_label(i, top=40):
    """Blocks of classes in 1..top, plus a void (0) row."""
    rows, cols = np.mgrid[:H, :W]
    label = 1 + (rows // 6 * 9 + cols // 8 + i) % top
    label[0] = 0
    return label.astype(np.uint8)


def _write(path, img):
    os.makedirs(osp.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), img)


def make_cmx(root, names=('n0', 'n1', 'n2'), test=('n1', ), top=40):
    """A CMX-layout dataset: RGB/ and HHA/ jpgs, Label/ pngs, split files."""
    for i, name in enumerate(names):
        # cv2 writes BGR: reversed so that the files hold RGB.
        _write(root / 'RGB' / f'{name}.jpg',
               np.full((H, W, 3), RGB[::-1], np.uint8))
        _write(root / 'HHA' / f'{name}.jpg',
               np.full((H, W, 3), HHA[::-1], np.uint8))
        _write(root / 'Label' / f'{name}.png', _stored_label(i, top))
    (root / 'train.txt').write_text(''.join(f'{n}\n' for n in names))
    (root / 'test.txt').write_text(''.join(f'{n}\n' for n in test))
    return root


def _dataset(cfg_dataset, **overrides):
    cfg = cfg_dataset.copy()
    cfg.update(overrides)
    return DATASETS.build(cfg)


def _train_ids(stored):
    return stored - np.uint8(1)  # CMX's uint8 shift: 0 -> 255


def test_nyudv2_test_pipeline(tmp_path):
    make_cmx(tmp_path)
    cfg = _cfg('nyudv2_seg')
    ds = _dataset(cfg.test_dataloader.dataset, data_root=str(tmp_path))
    assert ds.metainfo['classes'] == NYUDV2_CLASSES
    assert len(ds) == 1
    out = ds[0]
    inputs, sample = out['inputs'], out['data_samples']
    assert isinstance(sample, SegDataSample)
    for name, colour in (('rgb', RGB), ('hha', HHA)):
        assert inputs[name].shape == (3, H, W)
        assert inputs[name].dtype == torch.uint8
        got = inputs[name].float().mean(dim=(1, 2))
        assert torch.allclose(got, torch.tensor(colour).float(), atol=2)
    gt = sample.gt_sem_seg.data
    assert gt.dtype == torch.int64 and gt.shape == (1, H, W)
    expected = _train_ids(_stored_label(1))
    np.testing.assert_array_equal(gt[0].numpy(), expected)
    assert (gt[0, 0] == 255).all() and gt[0, 1:].max() < 40
    meta = sample.metainfo
    assert meta['img_path'] == str(tmp_path / 'RGB' / 'n1.jpg')
    assert meta['img_paths'] == dict(
        rgb=str(tmp_path / 'RGB' / 'n1.jpg'),
        hha=str(tmp_path / 'HHA' / 'n1.jpg'))
    assert meta['seg_map_path'] == str(tmp_path / 'Label' / 'n1.png')
    assert meta['ori_shape'] == (H, W) and meta['img_shape'] == (H, W)
    assert meta['flip'] is False and meta['reduce_zero_label'] is False
    assert meta['sample_idx'] == 0


def test_nyudv2_train_pipeline(tmp_path):
    make_cmx(tmp_path)
    cfg = _cfg('nyudv2_seg')
    assert cfg.train_dataloader.collate_fn.type == 'pseudo_collate'
    ds = _dataset(cfg.train_dataloader.dataset, data_root=str(tmp_path))
    np.random.seed(0)
    batch = pseudo_collate([ds[i] for i in range(len(ds))])
    assert len(batch['inputs']['rgb']) == 3
    for rgb, hha, sample in zip(batch['inputs']['rgb'], batch['inputs']['hha'],
                                batch['data_samples']):
        gt = sample.gt_sem_seg.data[0]
        assert rgb.shape == hha.shape == (3, 480, 640)
        assert gt.shape == (480, 640)
        values = set(gt.unique().tolist())
        assert values <= set(range(40)) | {255} and len(values) > 2
        # Small images are padded: images with 0, labels with 255. The
        # stored label is void only on row 0, so outside one scaled row
        # the label is 255 exactly where the images are padding.
        padded = (rgb == 0).all(0)
        assert padded.any() and (hha[:, padded] == 0).all()
        assert (gt[padded] == 255).all()
        assert ((gt == 255) & ~padded).sum() <= 2 * 640
        meta = sample.metainfo
        assert meta['img_shape'] == (480, 640) and meta['ori_shape'] == (H, W)
        assert meta['scale_factor'][0] in (0.5, 0.75, 1.0, 1.25, 1.5, 1.75)


def test_sunrgbd_config(tmp_path):
    make_cmx(tmp_path, top=37)
    cfg = _cfg('sunrgbd_seg')
    assert cfg.data_preprocessor.size == (480, 480)
    assert cfg.data_preprocessor.modalities == _cfg(
        'nyudv2_seg').data_preprocessor.modalities
    train = _dataset(cfg.train_dataloader.dataset, data_root=str(tmp_path))
    assert train.metainfo['classes'] == SUNRGBD_CLASSES
    np.random.seed(0)
    out = train[0]
    assert out['inputs']['rgb'].shape == (3, 480, 480)
    assert out['data_samples'].gt_sem_seg.data.max() == 255
    test = _dataset(cfg.test_dataloader.dataset, data_root=str(tmp_path))
    np.testing.assert_array_equal(
        test[0]['data_samples'].gt_sem_seg.data[0].numpy(),
        _train_ids(_stored_label(1, 37)))
    # Class 38 is no SUN-RGBD class.
    bad = _stored_label(1)
    bad[5, 5] = 38
    _write(tmp_path / 'Label' / 'n1.png', bad)
    with pytest.raises(FileContentError, match=r'n1\.png.*\[38\]'):
        test[0]


def test_size_mismatch_in_a_sample_names_the_files(tmp_path):
    make_cmx(tmp_path)
    _write(tmp_path / 'HHA' / 'n1.jpg', np.zeros((H, W + 2, 3), np.uint8))
    cfg = _cfg('nyudv2_seg')
    test = _dataset(cfg.test_dataloader.dataset, data_root=str(tmp_path))
    with pytest.raises(ValueError, match='co-registration') as e:
        test[0]
    assert str(tmp_path / 'HHA' / 'n1.jpg') in str(e.value)
    make_cmx(tmp_path)
    _write(tmp_path / 'Label' / 'n1.png', _stored_label(1)[:-1])
    with pytest.raises(ValueError, match='co-registration') as e:
        test[0]
    assert str(tmp_path / 'Label' / 'n1.png') in str(e.value)


def test_configs_share_pretraining_constants():
    for seg, pretrain in (('nyudv2_seg', 'sunrgbd_pretrain'),
                          ('geonrw_seg', 'geonrw_pretrain')):
        seg_cfg, pre_cfg = _cfg(seg), _cfg(pretrain)
        assert seg_cfg.data_preprocessor.type == \
            'MultiModalSegDataPreProcessor'
        assert seg_cfg.data_preprocessor.modalities == \
            pre_cfg.data_preprocessor.modalities
        assert seg_cfg.data_preprocessor.seg_pad_val == 255
        # The same reader as pretraining.
        assert seg_cfg.test_pipeline[0] == pre_cfg.train_pipeline[0]
        assert seg_cfg.val_evaluator.type == 'mmseg.IoUMetric'
        # No random step at test time.
        assert [t.type for t in seg_cfg.test_pipeline][-1] == \
            'PackMultiModalSegInputs'
        assert not any(
            t.type.startswith('Random') for t in seg_cfg.test_pipeline)
    geonrw = _cfg('geonrw_seg')
    assert geonrw.dem_scale.type == 'PercentileScale'
    assert geonrw.dem_scale == _cfg('geonrw_pretrain').dem_view[0]


@pytest.fixture
def geonrw_roots(tmp_path):
    patches = make_geonrw_patches(
        str(tmp_path / 'patches'), city='bonn', num_patches=4, size=40)
    tiles = tmp_path / 'tiles'
    write_tile(str(tiles), 'herne', '370_5710', 5)
    write_tile(str(tiles), 'neuss', '330_5670', 11)  # seg 0: unlabeled
    return patches, str(tiles)


def test_geonrw_patches_and_tiles(geonrw_roots):
    patches, tiles = geonrw_roots
    cfg = _cfg('geonrw_seg')
    train = _dataset(cfg.train_dataloader.dataset, data_root=patches)
    assert train.metainfo['classes'] == GEONRW_CLASSES
    assert len(train) == 4
    assert train.get_data_info(0)['seg_map_path'].endswith('_1_seg.png')
    np.random.seed(0)
    out = train[0]
    assert out['inputs']['rgb'].shape == (3, 224, 224)
    assert out['inputs']['dem'].shape == (1, 224, 224)
    assert out['inputs']['dem'].dtype == torch.uint8  # percentile-scaled
    gt = out['data_samples'].gt_sem_seg.data
    assert gt.shape == (1, 224, 224)
    assert set(gt.unique().tolist()) <= set(range(10)) | {255}

    test = _dataset(cfg.tiles_test_dataloader.dataset, data_root=tiles)
    assert [test.get_data_info(i)['city']
            for i in range(2)] == ['herne', 'neuss']
    herne, neuss = test[0], test[1]
    np.testing.assert_array_equal(herne['inputs']['rgb'].permute(1, 2, 0),
                                  rgb_of(5))
    dem = PercentileScale('dem').scale(dem_of(5)[..., None])
    np.testing.assert_array_equal(herne['inputs']['dem'][0], dem[..., 0])
    assert (herne['data_samples'].gt_sem_seg.data == 4).all()
    assert (neuss['data_samples'].gt_sem_seg.data == 255).all()
    meta = herne['data_samples'].metainfo
    assert meta['img_path'].endswith('herne/370_5710_rgb.jp2')
    assert meta['seg_map_path'].endswith('herne/370_5710_seg.tif')
    assert meta['ori_shape'] == meta['img_shape'] == (40, 40)


# ------------------------------------------------------------ label fractions
def _names(ds):
    return [ds.get_data_info(i)['name'] for i in range(len(ds))]


def test_rgbx_label_fraction(tmp_path):
    names = tuple(f'img{i:02d}' for i in range(10))
    make_cmx(tmp_path, names=names)
    everything = _names(RGBXDataset(str(tmp_path)))
    assert everything == list(names)
    half = _names(
        RGBXDataset(str(tmp_path), label_fraction=0.5, subset_seed=3))
    assert half == [names[i] for i in label_fraction_indices(10, 0.5, 3)]
    assert half == _names(
        RGBXDataset(str(tmp_path), label_fraction=0.5, subset_seed=3))
    fifth = _names(
        RGBXDataset(str(tmp_path), label_fraction=0.2, subset_seed=3))
    assert len(fifth) == 2 and set(fifth) <= set(half)
    assert half == sorted(half)  # the split file's order is kept
    other = _names(
        RGBXDataset(str(tmp_path), label_fraction=0.5, subset_seed=4))
    assert len(other) == 5 and other != half
    # A missing file does not reshuffle the subset: it only loses that one.
    os.remove(tmp_path / 'HHA' / f'{half[1]}.jpg')
    with pytest.warns(UserWarning, match='skipping'):
        lossy = _names(
            RGBXDataset(
                str(tmp_path),
                label_fraction=0.5,
                subset_seed=3,
                skip_bad_samples=True))
    assert lossy == half[:1] + half[2:]
    with pytest.raises(ValueError, match='label_fraction'):
        RGBXDataset(str(tmp_path), label_fraction=0)


def test_geonrw_label_fraction(geonrw_roots):
    patches, _ = geonrw_roots

    def names(fraction, seed):
        return _names(
            GeoNRWDataset(
                patches,
                layout='patches',
                label_fraction=fraction,
                subset_seed=seed))

    everything = names(1.0, 0)
    half = names(0.5, 1)
    assert half == [everything[i] for i in label_fraction_indices(4, 0.5, 1)]
    assert half == names(0.5, 1)
    assert set(names(0.25, 1)) <= set(half)


def test_bigearthnet_applies_its_fraction_once(ben):  # noqa: F811
    rows = [r[0] for r in PATCHES['train']]

    def names(**kwargs):
        ds = BigEarthNetMMDataset(str(ben), **kwargs)
        return [ds.get_data_info(i)['s2_name'] for i in range(len(ds))]

    half = names(label_fraction=0.5, subset_seed=2)
    assert half == [rows[i] for i in label_fraction_indices(4, 0.5, 2)]
    assert names(label_fraction=0.5, seed=2) == half  # the older name
    with pytest.raises(ValueError, match='subset_seed'):
        BigEarthNetMMDataset(str(ben), subset_seed=1, seed=2)


def test_verify_reads_the_labels(tmp_path):
    make_cmx(tmp_path)
    bad = _stored_label(2)
    bad[3, 3] = 41
    _write(tmp_path / 'Label' / 'n2.png', bad)
    ds = _dataset(
        _cfg('nyudv2_seg').train_dataloader.dataset, data_root=str(tmp_path))
    problems = ds.verify(progress=False)
    assert [(p.path, p.kind) for p in problems
            ] == [(str(tmp_path / 'Label' / 'n2.png'), 'label')]
    assert '[41]' in problems[0].message

# Copyright (c) mmdecur contributors. All rights reserved.
"""RGB + HHA + raw depth through the three-modality configs' data paths:
SUN-RGBD pretraining views and NYUDv2/SUN-RGBD segmentation samples."""
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate

import mmdecur  # noqa: F401
from mmdecur.datasets.transforms import DepthScale
from mmdecur.registry import DATASETS
from mmdecur.testing.fake_data import make_cmx_rgbd, write

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PRETRAIN = 'configs/decur/rgbd3_rn50.py'
SEG = ('configs/fcn/fcn_rn50_nyudv2_rgb_hha_depth.py',
       'configs/fcn/fcn_rn50_sunrgbd_rgb_hha_depth.py')
THREE = ('rgb', 'hha', 'depth')


def _cfg(path):
    return Config.fromfile(osp.join(ROOT, path))


def _dataset(cfg_dataset, **overrides):
    cfg = cfg_dataset.copy()
    cfg.update(overrides)
    return DATASETS.build(cfg)


def test_configs_agree_on_the_depth_path():
    pre = _cfg(PRETRAIN)
    two = _cfg('configs/decur/rgbd_rn50.py')
    assert list(pre.data_preprocessor.modalities) == list(THREE)
    for m in ('rgb', 'hha'):  # RGB and HHA exactly as with two modalities
        assert pre.data_preprocessor.modalities[m] == \
            two.data_preprocessor.modalities[m]
        assert pre.train_pipeline[0].modalities[m] == \
            two.train_pipeline[0].modalities[m]
        assert pre.train_pipeline[1].transforms[m] == \
            two.train_pipeline[1].transforms[m]
    views = pre.train_pipeline[1].transforms
    scale = views.depth[0]
    assert scale.type == 'DepthScale'
    for path in SEG:
        seg = _cfg(path)
        assert list(seg.data_preprocessor.modalities) == list(THREE)
        assert seg.data_preprocessor.modalities == \
            pre.data_preprocessor.modalities
        for pipeline in (seg.train_pipeline, seg.test_pipeline):
            assert pipeline[0] == pre.train_pipeline[0]  # one reader
            assert pipeline[2] == scale  # one depth scaling
        for loader in (seg.train_dataloader, seg.test_dataloader):
            assert list(loader.dataset.modality_dirs) == list(THREE)
    # Photometric augmentation on RGB only; HHA and depth get geometry.
    photometric = {'ColorJitterND', 'RandomGrayscaleND', 'GaussianBlurND'}
    assert photometric <= {t.type for t in views.rgb}
    for m in ('hha', 'depth'):
        assert not photometric & {t.type for t in views[m]}


def test_pretraining_views_of_three_modalities(tmp_path):
    root = make_cmx_rgbd(
        str(tmp_path), num_train=4, num_test=1, depth='uint16')
    # Constant images (lossless): geometry cannot change their values, any
    # photometric op would.
    colours = dict(rgb=(100, 120, 140), hha=(30, 60, 90))
    for i in range(4):
        for m, colour in colours.items():
            write(
                osp.join(root, m.upper(), f'{i:04d}.png'),
                np.full((48, 64, 3), colour, np.uint8))
        depth = np.full((48, 64), 2345, np.uint16)
        depth[5, 7] = 0  # one unmeasured pixel
        write(osp.join(root, 'Depth', f'{i:04d}.png'), depth)
    cfg = _cfg(PRETRAIN)
    ds = _dataset(
        cfg.train_dataloader.dataset,
        data_root=root,
        img_suffixes=dict(rgb='.png', hha='.png'))
    assert ds.metainfo['modalities'] == THREE
    assert len(ds) == 4  # train.txt only
    np.random.seed(0)
    rgb_changed = 0
    for i in range(4):
        out = ds[i]
        assert list(out['inputs']) == list(THREE)
        for v in range(2):
            rgb, hha, depth = (out['inputs'][m][v] for m in THREE)
            assert rgb.shape == hha.shape == (3, 224, 224)
            assert depth.shape == (1, 224, 224) and depth.dtype == torch.uint8
            assert hha.flatten(1).unique(dim=1).T.tolist() == [[30, 60, 90]]
            # Measured constant depth -> t = 0 -> 1; the hole (0) may be
            # cropped away or spread over a few pixels by interpolation.
            assert set(depth.unique().tolist()) <= {0, 1}
            assert (depth == 1).float().mean() > 0.95
            rgb_changed += rgb.flatten(1).unique(dim=1).T.tolist() != [[
                100, 120, 140
            ]]
    assert rgb_changed >= 4  # colour jitter (p = 0.8), grayscale (p = 0.2)


def _coordinate_cmx(root, names, h=18, w=18):
    """CMX layout (lossless PNGs) whose pixels encode their position: RGB =
    (row, E(col), 7), HHA = RGB reversed, depth = 100 * col millimetres,
    label = row + col - 1 (train id row + col - 2). E(col) is what the
    configs' depth scaling makes of the depth by hand: each column holds
    1/w > 1 % of the pixels, so the 1st/99th percentiles are the first and
    last columns' 100 and 100 * w, and t = (col - 1) / (w - 1)."""
    rows, cols = np.mgrid[1:h + 1, 1:w + 1]
    expected_depth = np.rint(1 + 254 * (cols - 1) / (w - 1)).astype(np.uint8)
    rgb = np.stack(
        [rows, expected_depth, np.full_like(rows, 7)], -1).astype(np.uint8)
    for name in names:
        write(osp.join(root, 'RGB', f'{name}.png'), rgb)
        write(osp.join(root, 'HHA', f'{name}.png'), rgb[..., ::-1])
        write(
            osp.join(root, 'Depth', f'{name}.png'),
            (100 * cols).astype(np.uint16))
        write(
            osp.join(root, 'Label', f'{name}.png'),
            (rows + cols - 1).astype(np.uint8))
    for split in ('train', 'test'):
        with open(osp.join(root, f'{split}.txt'), 'w') as f:
            f.write('\n'.join(names) + '\n')
    return expected_depth


@pytest.mark.parametrize('config', SEG)
def test_segmentation_geometry_keeps_all_three_and_the_label_aligned(
        tmp_path, config):
    w = 18  # train ids up to 34: fits SUN-RGBD's 37 classes
    _coordinate_cmx(str(tmp_path), [f'c{i}' for i in range(8)], w=w, h=w)
    cfg = _cfg(config)
    png = dict(rgb='.png', hha='.png')
    train = _dataset(
        cfg.train_dataloader.dataset,
        data_root=str(tmp_path),
        img_suffixes=png)
    np.random.seed(1)
    batch = pseudo_collate([train[i] for i in range(len(train))])
    scales, flips = set(), set()
    for i, sample in enumerate(batch['data_samples']):
        rgb, hha, depth = (batch['inputs'][m][i].long() for m in THREE)
        label = sample.gt_sem_seg.data[0]
        assert rgb.shape[1:] == depth.shape[1:] == label.shape
        real = rgb[2] == 7
        assert real.any() and (~real).any()  # padded by the crop
        # Every image went through the very same geometry: HHA is RGB
        # reversed and depth equals RGB's depth-coded band everywhere.
        assert torch.equal(hha, rgb.flip(0))
        assert torch.equal(depth[0], rgb[1])
        assert (depth[0][~real] == 0).all() and (label[~real] == 255).all()
        # The label (nearest) sits within a pixel of the images (bilinear).
        row = rgb[0][real].double()
        col = 1 + (rgb[1][real].double() - 1) * (w - 1) / 254
        assert (label[real].double() - (row + col - 2)).abs().max() <= 2
        scales.add(sample.metainfo['scale_factor'])
        flips.add(sample.metainfo['flip'])
    assert len(scales) > 1 and flips == {True, False}  # draws did vary

    test = _dataset(
        cfg.test_dataloader.dataset, data_root=str(tmp_path), img_suffixes=png)
    out = test[0]
    rgb = out['inputs']['rgb']
    np.testing.assert_array_equal(out['inputs']['depth'][0], rgb[1])
    np.testing.assert_array_equal(out['data_samples'].gt_sem_seg.data[0],
                                  np.add.outer(np.arange(w), np.arange(w)))


def test_segmentation_depth_of_the_tiny_layout(tmp_path):
    make_cmx_rgbd(str(tmp_path), num_train=2, num_test=2, depth='uint8')
    cfg = _cfg(SEG[0])
    test = _dataset(cfg.test_dataloader.dataset, data_root=str(tmp_path))
    assert test.metainfo['modalities'] == THREE
    info = test.get_data_info(1)
    assert info['img_paths']['depth'] == str(tmp_path / 'Depth' / '0003.png')
    depth = test[1]['inputs']['depth']
    assert depth.shape == (1, 48, 64) and depth.dtype == torch.uint8
    raw = cv2.imread(info['img_paths']['depth'], cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint8
    np.testing.assert_array_equal(depth[0],
                                  DepthScale().scale(raw[..., None])[..., 0])
    assert ((depth[0] == 0).numpy() == (raw == 0)).all()  # holes stay 0

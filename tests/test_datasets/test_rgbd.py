# Copyright (c) mmdecur contributors. All rights reserved.
import os

import cv2
import numpy as np
import pytest

import mmdecur  # noqa: F401
from mmdecur.datasets import (NYUDV2_CLASSES, SUNRGBD_CLASSES, RGBXDataset,
                              SUNRGBDPretrainDataset)
from mmdecur.registry import DATASETS


def _write(path, value, shape=(12, 16, 3)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    img = np.empty(shape, np.uint8)
    if len(shape) == 3:
        # BGR planes on disk; read back as RGB they are (v, v+40, v+80).
        img[..., 0], img[..., 1], img[..., 2] = value + 80, value + 40, value
    else:
        img[...] = value
    assert cv2.imwrite(str(path), img)


def _sunrgbd(root, hha_ext=dict(a='.jpg', b='.png', c='.jpg')):
    for i, name in enumerate(('a', 'b', 'c')):
        _write(root / 'sunrgbd_image' / f'{name}.jpg', 10 * i)
        ext = hha_ext.get(name)
        if ext:
            _write(root / 'sunrgbd_hha' / f'{name}{ext}', 100 + 10 * i)


LOAD = dict(
    type='LoadModalities',
    modalities=dict(
        rgb=dict(color_order='rgb', channels=3),
        hha=dict(color_order='rgb', channels=3)))


def test_sunrgbd_pairing(tmp_path):
    _sunrgbd(tmp_path)
    ds = DATASETS.build(
        dict(
            type='SUNRGBDPretrainDataset',
            data_root=str(tmp_path),
            pipeline=[LOAD]))
    assert len(ds) == 3
    names = [ds.get_data_info(i)['name'] for i in range(3)]
    assert names == ['a', 'b', 'c']
    paths = ds.get_data_info(1)['img_paths']
    assert paths['rgb'] == str(tmp_path / 'sunrgbd_image' / 'b.jpg')
    assert paths['hha'] == str(tmp_path / 'sunrgbd_hha' / 'b.png')
    out = ds[2]
    for name, base, tol in (('rgb', 20, 3), ('hha', 120, 3)):
        img = out['imgs'][name].astype(int)
        for c in range(3):
            assert np.abs(img[..., c] - (base + 40 * c)).max() <= tol
    # hha b is a lossless png.
    hha_b = ds[1]['imgs']['hha']
    assert (hha_b[..., 0] == 110).all() and (hha_b[..., 2] == 190).all()


def test_sunrgbd_split_file(tmp_path):
    _sunrgbd(tmp_path)
    (tmp_path / 'train.txt').write_text('c\n\nb.jpg\n')
    ds = SUNRGBDPretrainDataset(str(tmp_path), split_file='train.txt')
    assert [ds.get_data_info(i)['name'] for i in range(len(ds))] == ['c', 'b']
    (tmp_path / 'bad.txt').write_text('a\nzz\n')
    with pytest.raises(FileNotFoundError, match='zz.jpg'):
        SUNRGBDPretrainDataset(str(tmp_path), split_file='bad.txt')


def test_sunrgbd_missing_hha(tmp_path):
    _sunrgbd(tmp_path, hha_ext=dict(b='.png'))
    with pytest.raises(FileNotFoundError) as e:
        SUNRGBDPretrainDataset(str(tmp_path))
    msg = str(e.value)
    assert '2 problem(s) affecting 2 of 3 samples' in msg
    assert msg.count('has no HHA image') == 2
    for name in ('a', 'c'):
        assert str(tmp_path / 'sunrgbd_image' / f'{name}.jpg') in msg
        assert str(tmp_path / 'sunrgbd_hha' / f'{name}.jpg') in msg
        assert str(tmp_path / 'sunrgbd_hha' / f'{name}.png') in msg
    assert 'b.jpg' not in msg
    # lazy_init defers the check (and needs no files at all).
    SUNRGBDPretrainDataset(str(tmp_path / 'nowhere'), lazy_init=True)


def _cmx(root, names=('n2', 'n10', 'n1'), depth=False):
    for i, name in enumerate(names):
        _write(root / 'RGB' / f'{name}.jpg', 10 * i)
        if depth:
            _write(root / 'Depth' / f'{name}.png', 50 + i, shape=(12, 16))
        else:
            _write(root / 'HHA' / f'{name}.jpg', 100 + 10 * i)
        _write(root / 'Label' / f'{name}.png', i, shape=(12, 16))
    (root / 'train.txt').write_text('\n'.join(names[:2]) + '\n')
    (root / 'test.txt').write_text(names[2] + '\n')


def test_rgbx_layout(tmp_path):
    _cmx(tmp_path)
    ds = RGBXDataset(str(tmp_path), split='train', classes='nyudv2')
    assert [ds.get_data_info(i)['name'] for i in range(2)] == ['n2', 'n10']
    info = ds.get_data_info(1)
    assert info['img_paths'] == dict(
        rgb=str(tmp_path / 'RGB' / 'n10.jpg'),
        hha=str(tmp_path / 'HHA' / 'n10.jpg'))
    assert info['seg_map_path'] == str(tmp_path / 'Label' / 'n10.png')
    assert ds.metainfo['classes'] == NYUDV2_CLASSES
    assert len(NYUDV2_CLASSES) == 40 and len(SUNRGBD_CLASSES) == 37
    assert SUNRGBD_CLASSES[-1] == 'bag'
    test = RGBXDataset(
        str(tmp_path), split='test', label_dir=None, classes='sunrgbd')
    assert len(test) == 1 and 'seg_map_path' not in test.get_data_info(0)
    assert len(test.metainfo['classes']) == 37


def test_rgbx_depth_png(tmp_path):
    _cmx(tmp_path, depth=True)
    ds = DATASETS.build(
        dict(
            type='RGBXDataset',
            data_root=str(tmp_path),
            modality_dirs=dict(rgb='RGB', depth='Depth'),
            img_suffixes=dict(rgb='.jpg', depth='.png'),
            pipeline=[
                dict(
                    type='LoadModalities',
                    modalities=dict(
                        rgb=dict(color_order='rgb'), depth=dict(channels=1)))
            ]))
    out = ds[1]
    assert out['imgs']['depth'].shape == (12, 16, 1)
    assert (out['imgs']['depth'] == 51).all()
    assert out['imgs']['rgb'].shape == (12, 16, 3)


def test_rgbx_missing_files(tmp_path):
    _cmx(tmp_path)
    os.remove(tmp_path / 'HHA' / 'n2.jpg')
    os.remove(tmp_path / 'Label' / 'n10.png')
    with pytest.raises(FileNotFoundError) as e:
        RGBXDataset(str(tmp_path))
    msg = str(e.value)
    assert '2 problem(s)' in msg
    assert str(tmp_path / 'HHA' / 'n2.jpg') in msg
    assert str(tmp_path / 'Label' / 'n10.png') in msg
    # Without labels only the HHA file is missing.
    with pytest.raises(FileNotFoundError, match='1 problem'):
        RGBXDataset(str(tmp_path), label_dir=None)
    with pytest.raises(FileNotFoundError, match='val.txt'):
        RGBXDataset(str(tmp_path), split='val')


def test_rgbx_config_errors(tmp_path):
    with pytest.raises(ValueError, match='depth'):
        RGBXDataset(
            str(tmp_path),
            modality_dirs=dict(rgb='RGB', depth='Depth'),
            lazy_init=True)
    with pytest.raises(ValueError, match='classes'):
        RGBXDataset(str(tmp_path), classes='ade20k', lazy_init=True)

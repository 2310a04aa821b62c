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
    # Known modalities have the layout's suffix; any other needs one.
    with pytest.raises(ValueError, match=r"img_suffixes.*\['thermal'\]"):
        RGBXDataset(
            str(tmp_path),
            modality_dirs=dict(rgb='RGB', thermal='Thermal'),
            lazy_init=True)
    with pytest.raises(ValueError, match='non-empty dict'):
        RGBXDataset(str(tmp_path), modality_dirs={}, lazy_init=True)
    with pytest.raises(ValueError, match='classes'):
        RGBXDataset(str(tmp_path), classes='ade20k', lazy_init=True)


# ------------------------------------------------ three modalities: + depth
def _write_depth(path, value, dtype=np.uint16, shape=(12, 16)):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), np.full(shape, value, dtype))


THREE = dict(rgb='RGB', hha='HHA', depth='Depth')
LOAD3 = dict(
    type='LoadModalities',
    modalities=dict(
        rgb=dict(color_order='rgb', channels=3),
        hha=dict(color_order='rgb', channels=3),
        depth=dict(channels=1)))


def _cmx3(root, names=('n2', 'n10', 'n1')):
    _cmx(root, names)
    for i, name in enumerate(names):
        _write_depth(root / 'Depth' / f'{name}.png', 1000 + 100 * i)


def test_default_modalities_are_todays_two(tmp_path):
    _sunrgbd(tmp_path)
    ds = SUNRGBDPretrainDataset(str(tmp_path))
    assert ds.metainfo['modalities'] == ('rgb', 'hha')
    assert list(ds.get_data_info(0)['img_paths']) == ['rgb', 'hha']
    # The older folder arguments still work, but not with modality_dirs.
    older = SUNRGBDPretrainDataset(
        str(tmp_path), rgb_dir='sunrgbd_image', depth_dir='sunrgbd_hha')
    assert older.get_data_info(1) == ds.get_data_info(1)
    with pytest.raises(ValueError, match='not both'):
        SUNRGBDPretrainDataset(
            str(tmp_path), rgb_dir='RGB', modality_dirs=THREE, lazy_init=True)
    _cmx(tmp_path)
    rgbx = RGBXDataset(str(tmp_path))
    assert rgbx.metainfo['modalities'] == ('rgb', 'hha')


@pytest.mark.parametrize('order', [THREE, dict(depth='Depth', rgb='RGB')])
def test_sunrgbd_pretrain_lists_any_modality_set(tmp_path, order):
    _cmx3(tmp_path)
    ds = DATASETS.build(
        dict(
            type='SUNRGBDPretrainDataset',
            data_root=str(tmp_path),
            modality_dirs=order,
            split_file='train.txt',
            pipeline=[
                dict(
                    LOAD3,
                    modalities={m: LOAD3['modalities'][m]
                                for m in order})
            ]))
    assert ds.metainfo['modalities'] == tuple(order)
    assert [ds.get_data_info(i)['name'] for i in range(2)] == ['n2', 'n10']
    info = ds.get_data_info(1)
    assert list(info['img_paths']) == list(order)
    assert info['img_paths'] == {
        m:
        str(tmp_path / THREE[m] / ('n10.png' if m == 'depth' else 'n10.jpg'))
        for m in order
    }
    out = ds[1]
    assert list(out['imgs']) == list(order)
    depth = out['imgs']['depth']
    assert depth.dtype == np.uint16 and depth.shape == (12, 16, 1)
    assert (depth == 1100).all()
    assert out['value_ranges']['depth'] == (0., 65535.)


def test_sunrgbd_pretrain_without_split_lists_the_first_modality(tmp_path):
    _cmx3(tmp_path)
    ds = SUNRGBDPretrainDataset(str(tmp_path), modality_dirs=THREE)
    assert [ds.get_data_info(i)['name']
            for i in range(len(ds))] == ['n1', 'n10', 'n2']


def test_missing_depth_file_is_named_or_skipped(tmp_path):
    _cmx3(tmp_path)
    os.remove(tmp_path / 'Depth' / 'n10.png')
    missing = str(tmp_path / 'Depth' / 'n10.png')
    with pytest.raises(FileNotFoundError) as e:
        SUNRGBDPretrainDataset(
            str(tmp_path), modality_dirs=THREE, split_file='train.txt')
    msg = str(e.value)
    assert '1 problem(s) affecting 1 of 2 samples' in msg
    assert f'{tmp_path / "RGB" / "n10.jpg"} has no depth image' in msg
    assert f'(tried {missing})' in msg
    with pytest.raises(FileNotFoundError) as e:
        RGBXDataset(str(tmp_path), modality_dirs=THREE)
    assert f'{missing} (depth of \'n10\'' in str(e.value)
    # Two modalities do not need the depth file.
    assert len(RGBXDataset(str(tmp_path))) == 2
    for ds_type, kwargs in (('SUNRGBDPretrainDataset',
                             dict(split_file='train.txt')), ('RGBXDataset',
                                                             {})):
        with pytest.warns(UserWarning, match='1 problem.*skipping'):
            ds = DATASETS.build(
                dict(
                    type=ds_type,
                    data_root=str(tmp_path),
                    modality_dirs=THREE,
                    skip_bad_samples=True,
                    pipeline=[LOAD3],
                    **kwargs))
        assert [d['name'] for d in ds] == ['n2']
        assert [(p.path, p.kind)
                for p in ds.problems] == [(missing, 'missing')]


def test_corrupt_or_colour_depth_file_is_named(tmp_path):
    _cmx3(tmp_path)
    ds = RGBXDataset(str(tmp_path), modality_dirs=THREE, pipeline=[LOAD3])
    corrupt = tmp_path / 'Depth' / 'n2.png'
    corrupt.write_bytes(b'\x89PNG truncated')
    with pytest.raises(OSError, match=f'Cannot decode depth image {corrupt}'):
        ds[0]
    # An HHA (3-band) image where the raw depth map should be.
    colour = tmp_path / 'Depth' / 'n10.png'
    _write(colour, 7)
    with pytest.raises(ValueError, match=f'depth image {colour} has 3 band'):
        ds[1]
    problems = ds.verify(progress=False)
    assert sorted((p.path, p.kind)
                  for p in problems) == sorted([(str(corrupt), 'unreadable'),
                                                (str(colour), 'bands')])

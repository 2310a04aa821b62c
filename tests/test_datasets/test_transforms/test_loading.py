# Copyright (c) mmdecur contributors. All rights reserved.
import os
import os.path as osp

import cv2
import numpy as np
import pytest

import mmdecur  # noqa: F401
from mmdecur.datasets.transforms import ColorJitterND, LoadModalities
from mmdecur.registry import TRANSFORMS


def _write_rgb(path, r=10, g=20, b=30, shape=(8, 12)):
    # cv2 writes BGR arrays: plane 0 is blue.
    img = np.empty(shape + (3, ), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = b, g, r
    assert cv2.imwrite(str(path), img)
    return str(path)


@pytest.mark.parametrize('suffix,tol', [('.png', 0), ('.jpg', 2)])
def test_color_order(tmp_path, suffix, tol):
    path = _write_rgb(tmp_path / f'a{suffix}')
    load = LoadModalities(
        dict(
            rgb=dict(color_order='rgb'),
            bgr=dict(color_order='bgr'),
            raw=dict()))
    out = load(dict(img_paths=dict(rgb=path, bgr=path, raw=path)))
    rgb, bgr, raw = (out['imgs'][k] for k in ('rgb', 'bgr', 'raw'))
    for img, expected in ((rgb, (10, 20, 30)), (bgr, (30, 20, 10)),
                          (raw, (30, 20, 10))):
        assert img.shape == (8, 12, 3) and img.dtype == np.uint8
        for c, v in enumerate(expected):
            assert np.abs(img[..., c].astype(int) - v).max() <= tol
    assert out['value_ranges'] == dict(
        rgb=(0., 255.), bgr=(0., 255.), raw=(0., 255.))
    assert out['ori_shape']['rgb'] == (8, 12)
    assert out['img_paths']['rgb'] == path


def test_single_band_and_dtypes(tmp_path):
    gray = np.arange(48, dtype=np.uint8).reshape(6, 8)
    deep = (np.arange(48, dtype=np.uint16) * 1000).reshape(6, 8)
    flt = np.random.rand(6, 8).astype(np.float32)
    cv2.imwrite(str(tmp_path / 'g.png'), gray)
    cv2.imwrite(str(tmp_path / 'd.png'), deep)
    cv2.imwrite(str(tmp_path / 'f.tiff'), flt)
    load = TRANSFORMS.build(
        dict(
            type='LoadModalities',
            modalities=dict(
                g=dict(channels=1),
                d=dict(),
                f=dict(),
                fr=dict(value_range=(0, 1)))))
    out = load(
        dict(
            img_paths=dict(
                g=str(tmp_path / 'g.png'),
                d=str(tmp_path / 'd.png'),
                f=str(tmp_path / 'f.tiff'),
                fr=str(tmp_path / 'f.tiff'))))
    imgs = out['imgs']
    assert imgs['g'].shape == (6, 8, 1) and imgs['g'].dtype == np.uint8
    np.testing.assert_array_equal(imgs['g'][..., 0], gray)
    assert imgs['d'].dtype == np.uint16
    np.testing.assert_array_equal(imgs['d'][..., 0], deep)
    assert imgs['f'].dtype == np.float32 and imgs['f'].shape == (6, 8, 1)
    assert out['value_ranges']['g'] == (0., 255.)
    assert out['value_ranges']['d'] == (0., 65535.)
    assert out['value_ranges']['f'] is None
    assert out['value_ranges']['fr'] == (0., 1.)
    # Float data without a configured range: photometric ops refuse it.
    with pytest.raises(ValueError, match=r"'f'.*value_range"):
        ColorJitterND(modalities='f', prob=1.)(out)


def test_missing_file(tmp_path):
    path = str(tmp_path / 'nope.jpg')
    load = LoadModalities(['hha'])
    with pytest.raises(FileNotFoundError, match='hha') as e:
        load(dict(img_paths=dict(hha=path)))
    assert path in str(e.value)


def test_corrupt_file(tmp_path):
    path = tmp_path / 'broken.jpg'
    path.write_bytes(b'this is not a jpeg')
    with pytest.raises(OSError) as e:
        LoadModalities(['rgb'])(dict(img_paths=dict(rgb=str(path))))
    assert str(path) in str(e.value)
    assert not isinstance(e.value, FileNotFoundError)


def test_wrong_channel_count(tmp_path):
    path = _write_rgb(tmp_path / 'x.png')
    load = LoadModalities(dict(depth=dict(channels=1)))
    with pytest.raises(ValueError) as e:
        load(dict(img_paths=dict(depth=path)))
    msg = str(e.value)
    assert path in msg and '3 band' in msg and 'expected 1' in msg


def test_config_errors(tmp_path):
    with pytest.raises(ValueError, match='color_order'):
        LoadModalities(dict(rgb=dict(color_order='RGB')))
    with pytest.raises(ValueError, match='Unknown reader option'):
        LoadModalities(dict(rgb=dict(colour='rgb')))
    with pytest.raises(ValueError, match='value_range'):
        LoadModalities(dict(s1=dict(value_range=(1, 0))))
    path = _write_rgb(tmp_path / 'a.png')
    with pytest.raises(KeyError, match='hha'):
        LoadModalities(['rgb', 'hha'])(dict(img_paths=dict(rgb=path)))
    assert 'LoadModalities' in repr(LoadModalities(['rgb']))
    assert osp.exists(path)


def _band(path, value, hw, dtype=np.uint16):
    import cv2
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(str(path), np.full(hw, value, dtype))


def test_read_bands_resamples_and_fills_zero_bands(tmp_path):
    from mmdecur.datasets.transforms import read_bands
    _band(tmp_path / 'b1.tif', 100, (44, 44))
    _band(tmp_path / 'b2.tif', 200, (264, 264))
    img = read_bands(
        [str(tmp_path / 'b1.tif'), None,
         str(tmp_path / 'b2.tif')],
        size=(264, 264),
        expected_sizes=[(44, 44), None, (264, 264)])
    assert img.shape == (264, 264, 3) and img.dtype == np.uint16
    assert (img[..., 0] == 100).all() and (img[..., 1] == 0).all()
    assert (img[..., 2] == 200).all()


def test_read_bands_names_the_bad_file(tmp_path):
    from mmdecur.datasets.errors import FileContentError, MissingFileError
    from mmdecur.datasets.transforms import read_bands
    _band(tmp_path / 'b1.tif', 1, (44, 44))
    _band(tmp_path / 'f.tif', 1, (44, 44), np.float32)
    with pytest.raises(
            FileContentError, match=r'b1\.tif is 44x44, expected '
            r'132x132') as e:
        read_bands([str(tmp_path / 'b1.tif')], expected_sizes=[(132, 132)])
    assert e.value.kind == 'size'
    with pytest.raises(FileContentError, match=r'f\.tif is float32') as e:
        read_bands([str(tmp_path / 'b1.tif'), str(tmp_path / 'f.tif')])
    assert e.value.kind == 'dtype'
    with pytest.raises(MissingFileError, match=r'nope\.tif'):
        read_bands([str(tmp_path / 'nope.tif')])


def test_load_modalities_checks_the_dtype(tmp_path):
    from mmdecur.datasets.errors import FileContentError
    from mmdecur.datasets.transforms import LoadModalities
    _band(tmp_path / 'dem.tif', 3, (8, 8))  # uint16, not metres
    load = LoadModalities(dict(dem=dict(dtype='float')))
    with pytest.raises(FileContentError, match=r'dem.*uint16.*float'):
        load(dict(img_paths=dict(dem=str(tmp_path / 'dem.tif'))))

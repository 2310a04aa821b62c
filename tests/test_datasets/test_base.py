# Copyright (c) mmdecur contributors. All rights reserved.
"""The bad-input policy shared by file datasets: raise, skip, verify."""
import os

import pytest
from test_rgbd import LOAD, _sunrgbd, _write

from mmdecur.datasets import SUNRGBDPretrainDataset
from mmdecur.datasets.errors import MissingFileError


def test_missing_partner_is_an_error_naming_the_file(tmp_path):
    _sunrgbd(tmp_path, hha_ext=dict(a='.jpg', b='.png'))
    with pytest.raises(MissingFileError, match=r'c\.jpg has no HHA image'):
        SUNRGBDPretrainDataset(str(tmp_path))


def test_skip_bad_samples_drops_them_with_a_counted_warning(tmp_path):
    _sunrgbd(tmp_path, hha_ext=dict(a='.jpg', b='.png'))
    with pytest.warns(UserWarning, match='1 problem.*skipping'):
        ds = SUNRGBDPretrainDataset(
            str(tmp_path), skip_bad_samples=True, pipeline=[LOAD])
    assert [d['name'] for d in ds] == ['a', 'b']


def test_corrupt_file_is_replaced_when_skipping(tmp_path):
    _sunrgbd(tmp_path)
    (tmp_path / 'sunrgbd_hha' / 'b.png').write_bytes(b'not an image')
    strict = SUNRGBDPretrainDataset(str(tmp_path), pipeline=[LOAD])
    with pytest.raises(OSError, match=r'b\.png'):
        strict[1]
    lenient = SUNRGBDPretrainDataset(
        str(tmp_path), skip_bad_samples=True, pipeline=[LOAD])
    assert lenient[1]['name'] in ('a', 'c')  # another sample instead
    assert lenient._num_skipped >= 1


def test_verify_lists_every_problem_in_one_pass(tmp_path):
    _sunrgbd(tmp_path, hha_ext=dict(a='.jpg', b='.png'))
    (tmp_path / 'sunrgbd_image' / 'a.jpg').write_bytes(b'broken')
    _write(tmp_path / 'sunrgbd_hha' / 'b.png', 3, shape=(12, 16))  # 1 band
    with pytest.warns(UserWarning):
        ds = SUNRGBDPretrainDataset(
            str(tmp_path), skip_bad_samples=True, pipeline=[LOAD])
    problems = ds.verify(progress=False)
    kinds = sorted(p.kind for p in problems)
    assert kinds == ['bands', 'missing', 'unreadable']
    paths = {os.path.basename(p.path) for p in problems}
    assert paths == {'a.jpg', 'b.png', 'c.jpg'}

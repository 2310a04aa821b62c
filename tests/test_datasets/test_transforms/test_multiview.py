# Copyright (c) mmdecur contributors. All rights reserved.
import numpy as np
import pytest

import mmdecur  # noqa: F401
from mmdecur.datasets.transforms import MultiModalMultiView
from mmdecur.registry import TRANSFORMS

CROP = dict(type='RandomResizedCropND', size=16, scale=(0.1, 0.5))


def _results(modalities=('rgb', 'hha'), with_label=False):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (40, 40, 3)).astype(np.uint8)
    results = dict(
        imgs={m: img.copy()
              for m in modalities},
        value_ranges={m: (0., 255.)
                      for m in modalities},
        img_paths={m: None
                   for m in modalities})
    if with_label:
        results['gt_seg_map'] = img[..., 0].copy()
        results['seg_fields'] = ['gt_seg_map']
    return results


def test_independent_crops_per_modality_and_view():
    np.random.seed(0)
    view = MultiModalMultiView(transforms=dict(rgb=[CROP], hha=[CROP]))
    out = view(_results())
    assert 'imgs' not in out
    assert set(out['views']) == {'rgb', 'hha'}
    rgb, hha = out['views']['rgb'], out['views']['hha']
    assert len(rgb) == len(hha) == 2
    assert rgb[0].shape == (16, 16, 3)
    # Identical content, but every modality and view draws its own crop.
    assert not np.array_equal(rgb[0], hha[0])
    assert not np.array_equal(rgb[0], rgb[1])
    assert not np.array_equal(hha[0], hha[1])


def test_shared_pipeline_is_coregistered():
    np.random.seed(1)
    view = TRANSFORMS.build(
        dict(
            type='MultiModalMultiView',
            num_views=2,
            shared=[
                dict(CROP, interpolation='nearest'),
                dict(type='RandomFlipND')
            ],
            transforms=dict(rgb=[dict(type='ColorJitterND', prob=0.)],
                            hha=[])))
    out = view(_results(with_label=True))
    rgb, hha = out['views']['rgb'], out['views']['hha']
    for v in range(2):
        np.testing.assert_array_equal(rgb[v], hha[v])
    assert not np.array_equal(rgb[0], rgb[1])
    # Labels follow the shared pipeline, one per view.
    labels = out['gt_seg_map']
    assert isinstance(labels, list) and len(labels) == 2
    for v in range(2):
        np.testing.assert_array_equal(rgb[v][..., 0], labels[v])


def test_asymmetric_views_and_three_modalities():
    solarize = dict(type='SolarizeND', threshold=0., prob=1.)
    view = MultiModalMultiView(
        num_views=3,
        transforms=dict(
            rgb=[[solarize], [], []],
            hha=[],
            dem=[dict(type='RandomGrayscaleND', prob=1.)]))
    results = _results(('rgb', 'hha', 'dem'))
    img = results['imgs']['rgb'].copy()
    out = view(results)
    assert [len(v) for v in out['views'].values()] == [3, 3, 3]
    np.testing.assert_array_equal(out['views']['rgb'][0], 255 - img)
    np.testing.assert_array_equal(out['views']['rgb'][1], img)
    np.testing.assert_array_equal(out['views']['hha'][2], img)
    dem = out['views']['dem'][0]
    assert (dem[..., 0] == dem[..., 2]).all()


def test_inputs_are_not_modified():
    results = _results()
    originals = {m: img.copy() for m, img in results['imgs'].items()}
    view = MultiModalMultiView(
        transforms=dict(
            rgb=[CROP, dict(type='ColorJitterND', prob=1.)],
            hha=[dict(type='RandomFlipND', prob=1.)]))
    imgs = results['imgs']
    view(results)
    for m, img in originals.items():
        np.testing.assert_array_equal(imgs[m], img)


def test_errors_and_repr():
    view = MultiModalMultiView(transforms=dict(rgb=[], depth=[]))
    with pytest.raises(ValueError, match=r"no pipeline for \['hha'\]"):
        view(_results())
    with pytest.raises(ValueError, match='num_views'):
        MultiModalMultiView(transforms=dict(rgb=[[], [], []]), num_views=2)
    with pytest.raises(ValueError):
        MultiModalMultiView(transforms=dict(rgb=[]), num_views=0)
    assert 'num_views=2' in repr(view)


def test_per_view_source_images():
    """E.g. one acquisition season per view: view v starts from imgs[m][v]."""
    import numpy as np

    from mmdecur.datasets.transforms import MultiModalMultiView
    seasons = [np.full((4, 4, 2), s, np.float32) for s in (1, 2)]
    results = dict(imgs=dict(s1=seasons, s2=np.zeros((4, 4, 3), np.uint8)))
    out = MultiModalMultiView(transforms=dict(s1=[], s2=[]))(results)
    assert [v[0, 0, 0] for v in out['views']['s1']] == [1, 2]
    assert len(out['views']['s2']) == 2
    bad = dict(imgs=dict(s1=seasons * 2, s2=np.zeros((4, 4, 3), np.uint8)))
    import pytest
    with pytest.raises(ValueError, match='4 per-view images'):
        MultiModalMultiView(transforms=dict(s1=[], s2=[]))(bad)

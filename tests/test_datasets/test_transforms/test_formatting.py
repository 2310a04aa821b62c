# Copyright (c) mmdecur contributors. All rights reserved.
import numpy as np
import torch
from mmengine.dataset import default_collate
from mmpretrain.structures import DataSample
from torch.utils.data import DataLoader, Dataset

import mmdecur  # noqa: F401
from mmdecur.datasets.transforms import (MultiModalMultiView,
                                         PackMultiModalInputs)


def _sample(idx):
    rng = np.random.default_rng(idx)
    return dict(
        imgs=dict(
            rgb=rng.integers(0, 255, (12, 10, 3)).astype(np.uint8),
            s2=rng.integers(0, 9999, (12, 10, 13)).astype(np.uint16),
            dem=rng.random((12, 10, 1)).astype(np.float32)),
        img_paths=dict(rgb=f'{idx}.jpg', s2=f'{idx}.tif', dem=None),
        sample_idx=idx,
        gt_factors=np.arange(3, dtype=np.float32) + idx)


class _Views(Dataset):

    def __init__(self):
        self.pipeline = [
            MultiModalMultiView(
                transforms=dict(
                    rgb=[dict(type='RandomFlipND', prob=1.)],
                    s2=[dict(type='RandomFlipND', direction='vertical')],
                    dem=[])),
            PackMultiModalInputs()
        ]

    def __len__(self):
        return 5

    def __getitem__(self, idx):
        results = _sample(idx)
        for t in self.pipeline:
            results = t(results)
        return results


def test_pack_views():
    np.random.seed(0)
    sample = _sample(3)
    packed = _Views()[3]
    inputs = packed['inputs']
    assert set(inputs) == {'rgb', 's2', 'dem'}
    assert len(inputs['rgb']) == 2
    rgb = inputs['rgb'][0]
    assert rgb.dtype == torch.uint8 and rgb.shape == (3, 12, 10)
    # HWC -> CHW of the (flipped, negatively strided) view.
    np.testing.assert_array_equal(
        rgb.numpy(), sample['imgs']['rgb'][:, ::-1].transpose(2, 0, 1))
    assert inputs['s2'][1].dtype == torch.float32
    assert inputs['s2'][1].shape == (13, 12, 10)
    assert inputs['dem'][0].dtype == torch.float32
    assert inputs['dem'][0].shape == (1, 12, 10)
    ds = packed['data_samples']
    assert isinstance(ds, DataSample)
    assert ds.sample_idx == 3 and ds.img_paths['rgb'] == '3.jpg'
    torch.testing.assert_close(ds.gt_factors, torch.tensor([3., 4., 5.]))


def test_pack_without_views():
    packed = PackMultiModalInputs(meta_keys=('sample_idx', ))(_sample(0))
    assert packed['inputs']['rgb'].shape == (3, 12, 10)
    assert packed['inputs']['s2'].dtype == torch.float32
    assert 'img_paths' not in packed['data_samples'].metainfo_keys()


def test_default_collate_batch():
    np.random.seed(0)
    loader = DataLoader(_Views(), batch_size=4, collate_fn=default_collate)
    batch = next(iter(loader))
    inputs = batch['inputs']
    assert set(inputs) == {'rgb', 's2', 'dem'}
    for name, c, dtype in (('rgb', 3, torch.uint8), ('s2', 13, torch.float32),
                           ('dem', 1, torch.float32)):
        assert isinstance(inputs[name], list) and len(inputs[name]) == 2
        for view in inputs[name]:
            assert view.shape == (4, c, 12, 10) and view.dtype == dtype
    samples = batch['data_samples']
    assert len(samples) == 4 and all(
        isinstance(s, DataSample) for s in samples)
    factors = torch.stack([s.gt_factors for s in samples])
    assert factors.shape == (4, 3)
    assert 'PackMultiModalInputs' in repr(PackMultiModalInputs())

# Copyright (c) mmdecur contributors. All rights reserved.
"""The decoupling report for M modalities, on embeddings of known content."""
import json
from types import SimpleNamespace

import torch
from mmpretrain.structures import DataSample

from mmdecur.analysis import decoupling_report

FACTORS = ('shape', 'hue', 'texture', 'grating')
PRIVATE = dict(rgb=('hue', ), depth=('texture', ), thermal=('grating', ))


class KnownEmbeddings(torch.nn.Module):
    """Common dims: one-hot shape; unique dims: one-hot of the modality's
    private factor (plus, if ``leak``, another modality's)."""

    def __init__(self, leak=None):
        super().__init__()
        self.modalities = list(PRIVATE)
        self.leak = leak
        self.loss_module = SimpleNamespace(num_common=lambda dim: 4)
        self.data_preprocessor = lambda batch, training: batch

    def to_split_order(self, z):
        return z

    def embed(self, modality, x):
        g = torch.Generator().manual_seed(len(modality))
        onehot = torch.nn.functional.one_hot
        common = onehot(x[:, 0].long(), 4).float()
        own = FACTORS.index(PRIVATE[modality][0])
        unique = onehot(x[:, own].long(), 4).float()
        if self.leak and self.leak[0] == modality:
            unique = unique + onehot(x[:, FACTORS.index(self.leak[1])].long(),
                                     4).float()
        z = torch.cat([common, unique], 1)
        return z + 0.05 * torch.randn(z.shape, generator=g)


class Loader(list):
    """Batches of factor vectors as the 'images' of every modality."""

    def __init__(self, num=512, batch=128):
        g = torch.Generator().manual_seed(0)
        factors = torch.randint(0, 4, (num, len(FACTORS)), generator=g).float()
        for start in range(0, num, batch):
            f = factors[start:start + batch]
            samples = []
            for row in f:
                sample = DataSample()
                sample.set_field(row, 'gt_factors')
                samples.append(sample)
            self.append(
                dict(inputs={m: [f]
                             for m in PRIVATE}, data_samples=samples))
        self.dataset = torch.utils.data.TensorDataset(factors)
        self.dataset.metainfo = dict(
            factor_names=FACTORS,
            num_classes={f: 4
                         for f in FACTORS},
            private_factors=PRIVATE)


def test_every_pair_and_every_modality_is_checked(tmp_path):
    report = decoupling_report(
        KnownEmbeddings(), Loader(), str(tmp_path), logger=lambda _: None)
    assert report['modalities'] == ['rgb', 'depth', 'thermal']
    assert list(
        report['pairs']) == ['rgb-depth', 'rgb-thermal', 'depth-thermal']
    for name in ('alignment_hist.png', 'alignment_hist_rgb_thermal.png',
                 'alignment_hist_depth_thermal.png'):
        assert (tmp_path / name).stat().st_size > 0
    checks = report['checks']
    for pair in ('rgb_depth', 'rgb_thermal', 'depth_thermal'):
        assert checks[f'common_dims_aligned_{pair}']
        assert checks[f'unique_dims_decorrelated_{pair}']
    for m, (own, ) in PRIVATE.items():
        assert checks[f'{m}_unique_predicts_{own}']
        for other, (factor, ) in PRIVATE.items():
            if other != m:
                assert checks[f'{m}_unique_ignores_{factor}']
    assert len(checks) == 3 * 2 + 3 + 3 * 2
    assert report['decoupling_worked']
    saved = json.loads((tmp_path / 'decoupling_report.json').read_text())
    assert saved['checks'] == checks


def test_unique_dims_that_carry_another_modalitys_factor_fail(tmp_path):
    report = decoupling_report(
        KnownEmbeddings(leak=('rgb', 'texture')),
        Loader(),
        str(tmp_path),
        logger=lambda _: None)
    failed = [name for name, ok in report['checks'].items() if not ok]
    assert 'rgb_unique_ignores_texture' in failed
    assert not report['decoupling_worked']

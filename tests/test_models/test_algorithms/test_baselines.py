# Copyright (c) mmdecur contributors. All rights reserved.
"""Barlow Twins, SimCLR, CLIP and VICReg build and train with tiny models."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from mmdecur.apis import build_dataloader_from_cfg, init_model
from mmdecur.models.losses import (BarlowTwinsLoss, NTXentLoss,
                                   SymmetricInfoNCELoss, VICRegLoss)
from mmdecur.registry import MODELS
from mmdecur.testing import fake_data

ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

TINY_BACKBONE = dict(
    type='ResNet',
    depth=18,
    base_channels=4,
    stem_channels=4,
    norm_cfg=dict(type='GlobalBN'))
BANDS = dict(s1=2, s2=13)
DEFAULT_LOSSES = dict(
    BarlowTwins=BarlowTwinsLoss,
    SimCLR=NTXentLoss,
    CLIP=SymmetricInfoNCELoss,
    VICReg=VICRegLoss)


def cfg(algorithm, data_modalities=('s1', 's2'), **kwargs):
    out = dict(
        type=algorithm,
        backbone=TINY_BACKBONE,
        projector=dict(type='Projector', hid_channels=16, out_channels=16),
        data_preprocessor=dict(
            type='MultiModalDataPreprocessor',
            modalities={
                m: dict(mean=[0.] * BANDS[m], std=[1.] * BANDS[m])
                for m in data_modalities
            }))
    out.update(kwargs)
    return out


def batch(modalities=('s1', 's2'), n=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        inputs={
            m: [
                torch.randn(n, BANDS[m], size, size, generator=g)
                for _ in range(2)
            ]
            for m in modalities
        })


def train_step(model, data):
    """One SGD step; returns the log vars and which encoders moved."""
    before = {m: b.conv1.weight.clone() for m, b in model.backbones.items()}
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    log_vars = model.train_step(data, optim)
    moved = {
        m: not torch.equal(before[m], b.conv1.weight)
        for m, b in model.backbones.items()
    }
    return log_vars, moved


@pytest.mark.parametrize('algorithm', list(DEFAULT_LOSSES))
def test_cross_modal_train_step_with_the_default_loss(algorithm):
    torch.manual_seed(0)
    model = MODELS.build(cfg(algorithm))
    assert isinstance(model.loss_module, DEFAULT_LOSSES[algorithm])
    scale = None
    if algorithm == 'CLIP':
        # The learnable temperature is a model parameter (optimised).
        names = [n for n, _ in model.named_parameters()]
        assert 'loss_module.logit_scale' in names
        scale = model.loss_module.logit_scale.item()
    log_vars, moved = train_step(model, batch())
    assert torch.isfinite(log_vars['loss'])
    assert moved == dict(s1=True, s2=True)
    if scale is not None:
        assert model.loss_module.logit_scale.item() != scale


@pytest.mark.parametrize('algorithm,num_views', [('SimCLR', 1),
                                                 ('BarlowTwins', 1)])
def test_only_the_views_the_loss_reads_are_encoded(algorithm, num_views):
    torch.manual_seed(0)
    model = MODELS.build(cfg(algorithm))
    seen = []
    model.backbones['s1'].register_forward_hook(lambda *args: seen.append(1))
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    assert len(seen) == num_views
    want = model.loss_module(
        {m: [model.embed(m, data['inputs'][m][0])]
         for m in model.modalities})
    for key, value in want.items():
        torch.testing.assert_close(losses[key], value)


def test_single_modal_barlow_twins_from_a_one_modality_preprocessor():
    torch.manual_seed(0)
    model = MODELS.build(cfg('BarlowTwins', data_modalities=('s1', )))
    assert model.modalities == ['s1']
    assert model.loss_module.pairs == 'intra'
    data = batch(modalities=('s1', ))
    log_vars, moved = train_step(model, data)
    assert moved == dict(s1=True)
    assert 'loss_intra_s1' in log_vars and 'intra_s1_on_diag' in log_vars
    # The two views of the one modality, as in the original Barlow Twins.
    inputs = model.data_preprocessor(data, True)['inputs']['s1']
    want = BarlowTwinsLoss(pairs='intra')(
        dict(s1=[model.embed('s1', x) for x in inputs]))
    got = model(inputs=dict(s1=inputs), mode='loss')
    torch.testing.assert_close(got['loss_intra_s1'], want['loss_intra_s1'])


def test_single_modal_barlow_twins_by_naming_the_modality():
    model = MODELS.build(cfg('BarlowTwins', modalities=['s1']))
    assert model.modalities == ['s1'] and list(model.backbones) == ['s1']
    assert model.loss_module.pairs == 'intra'
    # A two-modality batch: the other modality is ignored.
    losses = model(**model.data_preprocessor(batch(), True), mode='loss')
    assert [k for k in losses if k.startswith('loss')] == ['loss_intra_s1']
    explicit = MODELS.build(
        cfg('BarlowTwins', loss=dict(type='BarlowTwinsLoss',
                                     pairs='intra:s2')))
    assert explicit.loss_module.num_views == 2


@pytest.mark.parametrize('algorithm,loss,match', [
    ('BarlowTwins', dict(type='BarlowTwinsLoss'), 'two modalities'),
    ('SimCLR', None, 'at least 2 modalities'),
    ('CLIP', None, 'at least 2 modalities'),
    ('VICReg', None, 'at least 2 modalities'),
])
def test_cross_modal_needs_two_modalities_at_build(algorithm, loss, match):
    kwargs = dict(loss=loss) if loss else {}
    with pytest.raises(ValueError, match=match):
        MODELS.build(cfg(algorithm, data_modalities=('s1', ), **kwargs))


# Baseline config scenario -> the DeCUR config it inherits.
SCENARIOS = dict(
    sar_optical='sar_optical_rn50',
    rgb_dem='rgb_dem_rn50',
    rgbd='rgbd_rn50',
    single_sar='sar_optical_rn50',
    single_rgb='rgb_dem_rn50')


@pytest.mark.parametrize('config,modality', [
    ('configs/baselines/barlowtwins_single_sar.py', 's1'),
    ('configs/baselines/barlowtwins_single_rgb.py', 'rgb'),
])
def test_single_modal_configs_read_and_train_one_modality(
        tmp_path, config, modality):
    # Batches of 4: Barlow Twins standardises over the batch, and with 2
    # samples the standardised values are +-1 whatever the input (no
    # gradient).
    cfg = Config.fromfile(osp.join(ROOT, config))
    dataset = cfg.train_dataloader.dataset
    if modality == 's1':
        # No optical data exists at all: the config must not list it.
        dataset.data_root = fake_data.make_ssl4eo(
            str(tmp_path), modalities=('s1', ), random_values=True)
    else:
        dataset.data_root = fake_data.make_geonrw_patches(
            str(tmp_path), num_patches=4, size=40)
        dataset.cities = ['bonn']
    for t in dataset.pipeline[1].transforms[modality]:
        if t.type == 'RandomResizedCropND':
            t.size = 32
    loader = build_dataloader_from_cfg(
        cfg, 'train', batch_size=4, num_workers=0)
    data = next(iter(loader))
    assert list(data['inputs']) == [modality]
    assert len(data['inputs'][modality]) == 2  # two views

    model = init_model(
        cfg,
        cfg_options={
            'model.backbone.depth': 18,
            'model.backbone.base_channels': 4,
            'model.backbone.stem_channels': 4,
            'model.projector.hid_channels': 16,
            'model.projector.out_channels': 16
        }).train()
    assert model.modalities == [modality]
    log_vars, moved = train_step(model, data)
    assert [k for k in log_vars
            if k.startswith('loss_')] == [f'loss_intra_{modality}']
    assert moved == {modality: True}


@pytest.mark.parametrize(
    'path',
    sorted(glob.glob(osp.join(ROOT, 'configs/baselines/*.py'))),
    ids=osp.basename)
def test_baseline_configs_change_only_the_algorithm(path):
    """Same data, model and schedule as the DeCUR config they inherit."""
    cfg = Config.fromfile(path)
    algorithm, scenario = osp.basename(path)[:-3].split('_', 1)
    decur = Config.fromfile(
        osp.join(ROOT, 'configs/decur', SCENARIOS[scenario] + '.py'))
    assert cfg.model.type.lower() == algorithm
    assert cfg.model.loss.type == DEFAULT_LOSSES[cfg.model.type].__name__
    for key in ('backbone', 'projector'):
        assert cfg.model[key] == decur.model[key]
    assert cfg.train_cfg == decur.train_cfg
    assert cfg.param_scheduler == decur.param_scheduler
    assert cfg.train_dataloader.batch_size == decur.train_dataloader.batch_size
    if '_single_' not in path:
        assert cfg.train_dataloader == decur.train_dataloader
        assert cfg.data_preprocessor == decur.data_preprocessor

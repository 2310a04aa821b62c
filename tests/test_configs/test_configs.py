# Copyright (c) mmdecur contributors. All rights reserved.
"""Every config under configs/ loads, and its model builds."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmdecur.apis import init_model

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(
    p for p in glob.glob(
        osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
    if '_base_' not in p)

# Widths shrunk so 8192-wide projectors do not dominate the test time.
SHRINK = {
    'model.projector.hid_channels': 64,
    'model.projector.out_channels': 64,
}


def test_there_are_configs():
    names = {osp.relpath(p, ROOT) for p in CONFIGS}
    assert {
        'configs/decur/rgbd_mitb2.py', 'configs/decur/rgbd_mitb5.py',
        'configs/decur/rgbd_rn50.py', 'configs/decur/demo_synthetic.py'
    } <= names


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_loads_and_model_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmdecur'
    assert cfg.train_dataloader.dataset.pipeline
    if 'decode_head' in cfg.model:
        check_segmentor(path)
    elif 'head' in cfg.model:
        check_classifier(path)
    else:
        check_pretraining(path, cfg)


def check_pretraining(path, cfg):
    model = init_model(path, cfg_options=SHRINK)
    assert model.modalities == list(cfg.data_preprocessor.modalities)
    size = cfg.train_dataloader.dataset.get('image_size', 64)
    with torch.no_grad():
        for m in model.modalities:
            bands = model.data_preprocessor.num_bands(m)
            z = model.embed(m, torch.randn(2, bands, size, size))
            assert z.shape == (2, model.projectors[m].out_channels)


def check_segmentor(path):
    from mmseg.structures import SegDataSample
    model = init_model(path)
    pre = model.data_preprocessor
    inputs = {
        m:
        [torch.randint(0, 255, (pre.num_bands(m), 64, 64), dtype=torch.uint8)]
        for m in model.backbone.modalities
    }
    sample = SegDataSample(
        metainfo=dict(ori_shape=(64, 64), img_shape=(64, 64)))
    model.test_cfg['mode'] = 'whole'  # 64 px is smaller than the windows
    with torch.no_grad():
        out = model.test_step(dict(inputs=inputs, data_samples=[sample]))
    assert out[0].seg_logits.data.shape == (model.decode_head.num_classes, 64,
                                            64)


def check_classifier(path):
    from mmpretrain.structures import DataSample
    model = init_model(path)
    pre = model.data_preprocessor
    inputs = {
        m:
        [torch.randint(0, 255, (pre.num_bands(m), 64, 64), dtype=torch.uint8)]
        for m in model.modalities
    }
    with torch.no_grad():
        out = model.test_step(dict(inputs=inputs, data_samples=[DataSample()]))
    assert out[0].pred_score.shape == (model.head.num_classes, )


def test_paper_settings_of_the_rgbd_configs():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/decur/rgbd_mitb2.py'))
    assert cfg.model.backbone.arch == 'b2'
    assert cfg.model.projector.out_channels == 8192
    assert cfg.model.loss.common_ratio == 0.75  # Kc = 6144
    assert cfg.model.loss.lambd == 0.0051
    assert cfg.train_dataloader.batch_size == 32  # x 4 GPUs
    assert cfg.train_cfg.max_epochs == 200
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    b5 = Config.fromfile(osp.join(ROOT, 'configs/decur/rgbd_mitb5.py'))
    assert b5.model.backbone.arch == 'b5'
    rn50 = Config.fromfile(osp.join(ROOT, 'configs/decur/rgbd_rn50.py'))
    assert rn50.model.backbone.depth == 50
    assert rn50.train_cfg.max_epochs == 200
    assert rn50.param_scheduler[-1].end == 200

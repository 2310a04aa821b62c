"""The modality order survives the work dir's copy of a config, which MMEngine
writes with sorted dict keys."""
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

import mmdecur  # noqa: F401
from mmdecur.apis import init_model, pin_modality_order
from mmdecur.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# Modality 1 sorts after modality 2 in every one of them.
CONFIGS = [
    ('configs/fcn/fcn_rn50_nyudv2.py', ['rgb', 'hha']),
    ('configs/decur/demo_synthetic.py', ['rgb', 'depth']),
    ('configs/decur/demo_synthetic3.py', ['rgb', 'depth', 'thermal']),
    ('configs/decur/rgbd3_rn50.py', ['rgb', 'hha', 'depth']),
    # CMX's first stream is the RGB one.
    ('configs/cmx/cmx_mitb2_nyudv2.py', ['rgb', 'hha']),
]


def built_order(cfg):
    model = init_model(cfg, None, device='cpu')
    backbone = getattr(model, 'backbone', None)
    order = getattr(backbone, 'modalities', None) or model.modalities
    return list(order), list(model.data_preprocessor.modalities)


@pytest.mark.parametrize('path,order', CONFIGS)
def test_a_written_config_keeps_the_modality_order(tmp_path, path, order):
    cfg = Config.fromfile(osp.join(ROOT, path))
    assert built_order(cfg) == (order, order)

    # MMEngine's copy alone loses it (what this guards against) ...
    cfg.dump(str(tmp_path / 'plain.py'))
    plain = built_order(Config.fromfile(str(tmp_path / 'plain.py')))
    assert plain[0] == sorted(order) != order

    # ... the pinned copy keeps it.
    pin_modality_order(cfg)
    cfg.dump(str(tmp_path / 'pinned.py'))
    assert built_order(Config.fromfile(str(tmp_path / 'pinned.py'))) == (order,
                                                                         order)


def test_pinning_keeps_an_explicit_order_and_skips_other_configs():
    cfg = Config(
        dict(
            data_preprocessor=dict(
                modalities=dict(a={}, b={}), modality_order=['b', 'a']),
            model=dict(type='X')))
    pin_modality_order(cfg)
    assert cfg.data_preprocessor.modality_order == ['b', 'a']
    assert 'data_preprocessor' not in cfg.model
    assert pin_modality_order(Config(
        dict(model=dict(type='X')))).model == dict(type='X')


@pytest.mark.parametrize('order',
                         [['rgb'], ['rgb', 'hha', 'hha'], ['rgb', 'depth']])
def test_an_order_that_does_not_name_the_modalities_is_refused(order):
    cfg = dict(
        type='MultiModalDataPreprocessor',
        modalities=dict(
            rgb=dict(mean=[0.] * 3, std=[1.] * 3),
            hha=dict(mean=[0.] * 3, std=[1.] * 3)),
        modality_order=order)
    with pytest.raises(ValueError, match=r"\['hha', 'rgb'\]"):
        MODELS.build(cfg)


def test_train_writes_the_pinned_order(tmp_path):
    """tools/train.py's copy of the config in the work dir has it."""
    code = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'),
        osp.join(ROOT, 'configs/decur/demo_synthetic.py'), '--work-dir',
        str(tmp_path), '--cfg-options', 'train_cfg.max_epochs=0'
    ],
                          capture_output=True,
                          text=True,
                          cwd=ROOT)
    written = tmp_path / 'demo_synthetic.py'
    assert written.exists(), code.stderr[-2000:]
    cfg = Config.fromfile(str(written))
    assert cfg.data_preprocessor.modality_order == ['rgb', 'depth']

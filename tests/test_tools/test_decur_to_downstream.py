# Copyright (c) mmdecur contributors. All rights reserved.
"""DeCUR pretraining checkpoint -> FCN / CMX weights: every encoder tensor
lands in the right stream; a checkpoint that does not fit is an error."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.runner import load_checkpoint, save_checkpoint

from mmdecur.apis import init_model
from mmdecur.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_RDA = dict(
    layer3=dict(
        num_heads=4,
        head_channels=8,
        num_groups=2,
        offset_stride=2,
        offset_kernel_size=5,
        rpe_size=(2, 2)),
    layer4=dict(
        num_heads=8,
        head_channels=8,
        num_groups=2,
        offset_stride=1,
        offset_kernel_size=3,
        rpe_size=(1, 1)))


def decur(backbone, modalities=('rgb', 'hha'), bands=(3, 3)):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='DeCUR',
            backbone=backbone,
            projector=dict(type='Projector', hid_channels=16, out_channels=16),
            loss=dict(type='DeCURLoss', dim_common=12),
            data_preprocessor=dict(
                type='MultiModalDataPreprocessor',
                modalities={
                    m: dict(mean=[0.] * b, std=[1.] * b)
                    for m, b in zip(modalities, bands)
                })))


def downstream_config(tmp_path, base, model):
    path = tmp_path / 'downstream.py'
    path.write_text(f"_base_ = '{osp.join(ROOT, base)}'\nmodel = {model}\n")
    return str(path)


def convert(src, config, dst, *extra, ok=True):
    proc = subprocess.run([
        sys.executable, 'tools/model_converters/decur_to_downstream.py', src,
        config, dst, *extra
    ],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def assert_landed(pretrained, config, converted, mapping):
    model = init_model(config)
    load_checkpoint(model, converted, map_location='cpu', strict=False)
    target = model.state_dict()
    source = pretrained.state_dict()
    count = 0
    for key, value in source.items():
        parts = key.split('.', 2)
        if (parts[0] != 'backbones' or parts[1] not in mapping
                or parts[2].startswith('head.')):
            continue
        dst = f'backbone.encoders.{mapping[parts[1]]}.{parts[2]}'
        assert torch.equal(target[dst], value), key
        count += 1
    return count


def test_resnet_rda_into_fcn(tmp_path):
    backbone = dict(
        type='ResNet',
        depth=18,
        base_channels=8,
        stem_channels=8,
        rda=TINY_RDA)
    pre = decur(backbone)
    src = str(tmp_path / 'decur.pth')
    save_checkpoint(dict(state_dict=pre.state_dict()), src)
    config = downstream_config(
        tmp_path, 'configs/fcn/fcn_rn50_nyudv2.py',
        f"dict(backbone=dict(encoders=dict(depth=18, base_channels=8, "
        f"stem_channels=8, rda={TINY_RDA!r})))")
    dst = str(tmp_path / 'fcn.pth')
    out = convert(src, config, dst)
    assert 'rgb -> backbone.encoders.rgb' in out
    n = assert_landed(pre, config, dst, dict(rgb='rgb', hha='hha'))
    assert n > 100  # both encoders, deformable attention included
    ckpt = torch.load(dst, weights_only=True)
    assert any('da_layer4.rel_pos_bias_table' in k for k in ckpt['state_dict'])
    assert not any('projector' in k for k in ckpt['state_dict'])


def test_mit_into_both_cmx_streams_by_order(tmp_path):
    pre = decur(
        dict(type='MiT', arch='b0', pooled_channels=32),
        modalities=('rgb', 'depth'))
    src = str(tmp_path / 'decur.pth')
    save_checkpoint(dict(state_dict=pre.state_dict()), src)
    config = downstream_config(tmp_path, 'configs/cmx/cmx_mitb2_sunrgbd.py',
                               "dict(backbone=dict(arch='b0'))")
    dst = str(tmp_path / 'cmx.pth')
    out = convert(src, config, dst)
    # Modality 1 -> RGB stream, modality 2 -> X (HHA) stream.
    assert 'depth -> backbone.encoders.hha' in out
    n = assert_landed(pre, config, dst, dict(rgb='rgb', depth='hha'))
    assert n == 2 * sum(1 for k in pre.state_dict() if k.startswith(
        'backbones.rgb.') and not k.startswith('backbones.rgb.head.'))


def test_a_checkpoint_that_does_not_fit_names_the_keys(tmp_path):
    pre = decur(
        dict(type='ResNet', depth=18, base_channels=16, stem_channels=16))
    src = str(tmp_path / 'decur.pth')
    save_checkpoint(dict(state_dict=pre.state_dict()), src)
    config = downstream_config(
        tmp_path, 'configs/fcn/fcn_rn50_nyudv2.py',
        'dict(backbone=dict(encoders=dict(depth=18, base_channels=8, '
        'stem_channels=8)))')
    out = convert(src, config, str(tmp_path / 'x.pth'), ok=False)
    assert 'backbone.encoders.rgb.conv1.weight: checkpoint (16, 3, 7, 7) ' \
        'vs model (8, 3, 7, 7)' in out


@pytest.mark.parametrize('modalities', [('s1', 's2')])
def test_unknown_modalities_need_a_map(tmp_path, modalities):
    pre = decur(
        dict(type='ResNet', depth=18, base_channels=8, stem_channels=8),
        modalities=modalities,
        bands=(3, 3))
    src = str(tmp_path / 'decur.pth')
    save_checkpoint(dict(state_dict=pre.state_dict()), src)
    config = downstream_config(
        tmp_path, 'configs/fcn/fcn_rn50_nyudv2_rgb.py',
        'dict(backbone=dict(encoders=dict(depth=18, base_channels=8, '
        'stem_channels=8)))')
    dst = str(tmp_path / 'rgb.pth')
    out = convert(src, config, dst, '--map', 's2=rgb')
    assert 's2 -> backbone.encoders.rgb' in out
    assert assert_landed(pre, config, dst, dict(s2='rgb')) > 10

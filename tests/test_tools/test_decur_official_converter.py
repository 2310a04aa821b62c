# Copyright (c) mmdecur contributors. All rights reserved.
"""Official DeCUR checkpoints (exact released key names and shapes) import
into mmdecur models loaded with strict=True, every tensor in its place."""
import os.path as osp
import subprocess
import sys

import pytest
import timm
import torch
import torchvision
from mmengine.runner import load_checkpoint

from mmdecur.apis import init_model
from mmdecur.models.backbones.deform_attn import OFFICIAL_KEY_MAP
from mmdecur.testing.official_keys import (OFFICIAL_DA,
                                           official_deform_attn_keys,
                                           official_mit_keys,
                                           official_projector_keys)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def distinct(shape, seed):
    """A tensor whose values identify it (seeded), cheap for big shapes."""
    g = torch.Generator().manual_seed(seed)
    if len(shape) == 0:
        return torch.tensor(seed, dtype=torch.long)
    return torch.rand(shape, generator=g)


def from_keys(keys, seed=0):
    return {k: distinct(s, seed + i) for i, (k, s) in enumerate(keys)}


def torchvision_rn50(in_channels, prefix):
    """torchvision's ResNet-50 keys (DeCUR: fc = Identity, conv1 replaced)."""
    state = torchvision.models.resnet50().state_dict()
    keys = [(k, tuple(v.shape)) for k, v in state.items()
            if not k.startswith('fc.')]
    keys = [(k, (64, in_channels, 7, 7) if k == 'conv1.weight' else s)
            for k, s in keys]
    return [(prefix + k, s) for k, s in keys]


# Narrow projectors (with the configs shrunk to match) where the width is
# not what a test is about: 8192-wide ones cost ~1 GB per file.
NARROW = dict(width=64)
NARROW_OPTS = {
    'model.projector.hid_channels': 64,
    'model.projector.out_channels': 64
}


def cli_options(options):
    return ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]


def rda_joint_state(width=8192):
    keys = torchvision_rn50(2, 'module.backbone_1.')
    keys += torchvision_rn50(13, 'module.backbone_2.')
    for i in (1, 2):
        for stage, cfg in OFFICIAL_DA.items():
            keys += official_deform_attn_keys(f'module.da{i}_{stage}.', **cfg)
    keys += official_projector_keys('module.projector1.', 2048, width)
    keys += [('module.bn.running_mean', (width, )),
             ('module.bn.running_var', (width, )),
             ('module.bn.num_batches_tracked', ())]
    state = from_keys(keys)
    # The official projectors are one module: identical tensors.
    for k in list(state):
        if k.startswith('module.projector1.'):
            state[k.replace('projector1', 'projector2')] = state[k]
    return state


def convert(src, dst, config, *extra, ok=True):
    proc = subprocess.run([
        sys.executable, 'tools/model_converters/decur_official_to_mmdecur.py',
        src, dst, '--config', config, *extra
    ],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def loaded(config, path, **cfg_options):
    model = init_model(config, cfg_options=cfg_options or None)
    load_checkpoint(model, path, map_location='cpu', strict=True)
    return model.state_dict()


@pytest.fixture(scope='module')
def rda_joint(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('rda')
    state = rda_joint_state(**NARROW)
    src = str(tmp / 'rn50_rda_ssl4eo-s12_joint_decur_ep100.pth')
    torch.save({'epoch': 100, 'model': state, 'optimizer': {}}, src)
    return state, src, tmp


def check_rn50_rda(ours, state, quirk):
    s = 'module.'
    assert torch.equal(ours['backbones.s1.conv1.weight'],
                       state[s + 'backbone_1.conv1.weight'])  # 2 bands
    assert torch.equal(ours['backbones.s2c.layer4.2.bn3.running_var'],
                       state[s + 'backbone_2.layer4.2.bn3.running_var'])
    for official, mine in OFFICIAL_KEY_MAP.items():
        for stage, layer in (('l3', 'da_layer3'), ('l4', 'da_layer4')):
            assert torch.equal(ours[f'backbones.s1.{layer}.{mine}'],
                               state[f'{s}da1_{stage}.{official}'])
            src2 = 'da1' if quirk else 'da2'
            assert torch.equal(ours[f'backbones.s2c.{layer}.{mine}'],
                               state[f'{s}{src2}_{stage}.{official}'])
    for m in ('s1', 's2c'):
        assert torch.equal(ours[f'projectors.{m}.layers.3.weight'],
                           state[s + 'projector1.3.weight'])
        assert torch.equal(ours[f'projectors.{m}.layers.4.running_mean'],
                           state[s + 'projector1.4.running_mean'])


def test_rn50_rda_joint_with_8192_wide_projectors(tmp_path):
    state = rda_joint_state()
    src, dst = str(tmp_path / 'joint.pth'), str(tmp_path / 'out.pth')
    torch.save(state, src)
    config = 'configs/decur/sar_optical_rn50_rda.py'
    out = convert(src, dst, config)
    assert "dropped: ['bn']" in out
    check_rn50_rda(loaded(config, dst), state, quirk=False)


def test_rda_quirk_puts_da1_into_both_modalities(rda_joint):
    state, src, tmp = rda_joint
    dst = str(tmp / 'quirk.pth')
    config = 'configs/decur/sar_optical_rn50_rda.py'
    out = convert(src, dst, config, '--rda-quirk', *cli_options(NARROW_OPTS))
    assert 'da2_l3' in out  # reported as dropped
    check_rn50_rda(loaded(config, dst, **NARROW_OPTS), state, quirk=True)


def test_mitb2_joint_and_backbone_only(tmp_path):
    b2 = dict(dims=[64, 128, 320, 512], depths=[3, 4, 6, 3])
    keys = []
    for i in (1, 2):
        patch, blocks = official_mit_keys(**b2, prefix=f'module.backbone_{i}.')
        keys += patch + [k for stage in blocks for k in stage]
        keys += [(f'module.backbone_{i}.head.weight', (2048, 512)),
                 (f'module.backbone_{i}.head.bias', (2048, ))]
    keys += official_projector_keys('module.projector1.', 2048, **NARROW)
    keys += official_projector_keys('module.projector2.', 2048, **NARROW)
    state = from_keys(keys)
    src, dst = str(tmp_path / 'mitb2.pth'), str(tmp_path / 'out.pth')
    torch.save({'model': state}, src)
    config = 'configs/decur/rgbd_mitb2.py'
    convert(src, dst, config, *cli_options(NARROW_OPTS))
    ours = loaded(config, dst, **NARROW_OPTS)
    b = 'module.backbone_2.block3.5.attn.'
    assert torch.equal(
        ours['backbones.hha.layers.2.1.5.attn.attn.in_proj_weight'],
        torch.cat([state[b + 'q.weight'], state[b + 'kv.weight']]))
    assert torch.equal(ours['backbones.rgb.head.weight'],
                       state['module.backbone_1.head.weight'])
    fc1 = state['module.backbone_1.block1.0.mlp.fc1.weight']
    assert torch.equal(ours['backbones.rgb.layers.0.1.0.ffn.layers.0.weight'],
                       fc1[..., None, None])
    # Backbone-only export: plain SegFormer keys, no head.
    rgb_only = {
        k[len('module.backbone_1.'):]: v
        for k, v in state.items() if k.startswith('module.backbone_1.')
        and '.head.' not in k and not k.startswith('module.backbone_1.head')
    }
    torch.save(rgb_only, str(tmp_path / 'mitb2_rgb.pth'))
    convert(
        str(tmp_path / 'mitb2_rgb.pth'), str(tmp_path / 'rgb.pth'), config,
        '--modality', 'rgb', *cli_options(NARROW_OPTS))
    part = torch.load(str(tmp_path / 'rgb.pth'), weights_only=True)
    assert all(k.startswith('backbones.rgb.') for k in part['state_dict'])


def test_vits16_joint(tmp_path):
    keys = []
    for i, bands in ((1, 2), (2, 13)):
        vit = timm.create_model(
            'vit_small_patch16_224', in_chans=bands, num_classes=0)
        keys += [(f'module.backbone_{i}.{k}', tuple(v.shape))
                 for k, v in vit.state_dict().items()]
    keys += official_projector_keys('module.projector1.', 384, **NARROW)
    state = from_keys(keys)
    for k in list(state):
        if k.startswith('module.projector1.'):
            state[k.replace('projector1', 'projector2')] = state[k]
    src, dst = str(tmp_path / 'vit.pth'), str(tmp_path / 'out.pth')
    torch.save(state, src)
    config = 'configs/decur/sar_optical_vits16.py'
    options = dict(NARROW_OPTS, **{'model.share_projector': True})
    convert(src, dst, config, *cli_options(options))
    ours = loaded(config, dst, **options)
    assert torch.equal(ours['backbones.s2c.patch_embed.proj.weight'],
                       state['module.backbone_2.patch_embed.proj.weight'])


def test_backbone_only_rn50_rda_export(tmp_path):
    keys = torchvision_rn50(13, 'backbone.')
    for stage, cfg in OFFICIAL_DA.items():
        keys += official_deform_attn_keys(f'da2_{stage}.', **cfg)
    state = from_keys(keys)
    src, dst = str(tmp_path / 'ms.pth'), str(tmp_path / 'out.pth')
    torch.save(state, src)
    convert(src, dst, 'configs/decur/sar_optical_rn50_rda.py', '--modality',
            's2c', *cli_options(NARROW_OPTS))
    part = torch.load(dst, weights_only=True)['state_dict']
    assert torch.equal(part['backbones.s2c.da_layer4.rel_pos_bias_table'],
                       state['da2_l4.rpe_table'])
    assert torch.equal(part['backbones.s2c.conv1.weight'],
                       state['backbone.conv1.weight'])


def test_unknown_and_mis_shaped_keys_are_refused(rda_joint, tmp_path):
    state, _, _ = rda_joint
    bad = dict(state)
    bad['module.extra_head.weight'] = torch.zeros(3)
    torch.save(bad, str(tmp_path / 'unknown.pth'))
    out = convert(
        str(tmp_path / 'unknown.pth'),
        str(tmp_path / 'x.pth'),
        'configs/decur/sar_optical_rn50_rda.py',
        *cli_options(NARROW_OPTS),
        ok=False)
    assert 'extra_head.weight' in out
    # A 3-band stem (RGB scenario) cannot go into the 2-band SAR encoder.
    bad = dict(state)
    bad['module.backbone_1.conv1.weight'] = torch.zeros(64, 3, 7, 7)
    torch.save(bad, str(tmp_path / 'shape.pth'))
    out = convert(
        str(tmp_path / 'shape.pth'),
        str(tmp_path / 'y.pth'),
        'configs/decur/sar_optical_rn50_rda.py',
        *cli_options(NARROW_OPTS),
        ok=False)
    assert 'backbones.s1.conv1.weight: checkpoint (64, 3, 7, 7) vs model ' \
        '(64, 2, 7, 7)' in out

# Copyright (c) mmdecur contributors. All rights reserved.
"""DeCUR pretraining checkpoint (2 or 3 modalities) -> FCN / CMX / late-fusion
classifier weights: every encoder tensor lands in the stream the config names
(or --map picks), the written checkpoint records the mapping, and a checkpoint
that does not fit or cannot be matched unambiguously is an error."""
import importlib.util
import os.path as osp
import subprocess
import sys
from collections import OrderedDict

import pytest
import torch
from mmengine.runner import load_checkpoint, save_checkpoint

from mmdecur.apis import init_model
from mmdecur.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'tools', 'model_converters', 'decur_to_downstream.py')
_spec = importlib.util.spec_from_file_location('decur_to_downstream', SCRIPT)
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)

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
TINY_RN = dict(type='ResNet', depth=18, base_channels=8, stem_channels=8)
TINY_FCN = ('dict(backbone=dict(encoders=dict(depth=18, base_channels=8, '
            'stem_channels=8)))')


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


def decur_state(backbone, bands):
    """An N-modality DeCUR state dict without the DeCUR model: a distinct
    backbone per modality (own seed, BN statistics moved off their
    defaults) under ``backbones.<m>.``, and projector tensors."""
    state = OrderedDict()
    for seed, (m, b) in enumerate(bands.items()):
        torch.manual_seed(seed)
        net = MODELS.build(dict(backbone, in_channels=b))
        net.train()
        with torch.no_grad():
            net(torch.randn(2, b, 32, 32))
        for k, v in net.state_dict().items():
            state[f'backbones.{m}.{k}'] = v
        state[f'projectors.{m}.layers.0.weight'] = torch.randn(16, 8)
    return state


def save(state, path):
    save_checkpoint(dict(state_dict=state, meta={}), str(path))
    return str(path)


def downstream_config(tmp_path, base, model, extra=''):
    path = tmp_path / 'downstream.py'
    path.write_text(f"_base_ = '{osp.join(ROOT, base)}'\nmodel = {model}\n"
                    f'{extra}')
    return str(path)


def convert(src, config, dst, *extra, capsys=None):
    """Run the tool in-process (a subprocess costs seconds of imports)."""
    tool.main([src, config, dst, *extra])
    return capsys.readouterr().out if capsys else ''


def convert_cli(src, config, dst, *extra, ok=True):
    proc = subprocess.run([sys.executable, SCRIPT, src, config, dst, *extra],
                          cwd=ROOT,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert (proc.returncode == 0) == ok, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def assert_landed(source, config, converted, mapping, prefix, **cfg_options):
    """Every pretrained tensor of a mapped modality equals its downstream
    tensor, every downstream encoder tensor came from the checkpoint, and
    returns the number compared."""
    model = init_model(config, cfg_options=cfg_options or None)
    if 'model.init_cfg.checkpoint' in cfg_options:
        model.init_weights()  # the classifier's documented route
    else:
        load_checkpoint(model, converted, map_location='cpu', strict=False)
    target = model.state_dict()
    count = 0
    for key, value in source.items():
        parts = key.split('.', 2)
        if (parts[0] != 'backbones' or parts[1] not in mapping
                or parts[2].startswith('head.')):
            continue
        dst = f'{prefix}.{mapping[parts[1]]}.{parts[2]}'
        assert torch.equal(target[dst], value), key
        count += 1
    encoder_keys = [
        k for k in target for d in mapping.values()
        if k.startswith(f'{prefix}.{d}.')
    ]
    assert count == len(encoder_keys)
    assert not set(
        k.split('.')[len(prefix.split('.'))]
        for k in target if k.startswith(prefix + '.')) - set(mapping.values())
    return count


def meta(path):
    return torch.load(path, weights_only=False)['meta']


# --------------------------------------------------------- two modalities
def test_resnet_rda_into_fcn_cli(tmp_path):
    pre = decur(dict(TINY_RN, rda=TINY_RDA))
    src = save(pre.state_dict(), tmp_path / 'decur.pth')
    config = downstream_config(
        tmp_path, 'configs/fcn/fcn_rn50_nyudv2.py',
        f"dict(backbone=dict(encoders=dict(depth=18, base_channels=8, "
        f"stem_channels=8, rda={TINY_RDA!r})))")
    dst = str(tmp_path / 'fcn.pth')
    out = convert_cli(src, config, dst)
    assert 'rgb -> backbone.encoders.rgb' in out
    n = assert_landed(pre.state_dict(), config, dst,
                      dict(rgb='rgb', hha='hha'), 'backbone.encoders')
    assert n > 100  # both encoders, deformable attention included
    ckpt = torch.load(dst, weights_only=True)
    assert any('da_layer4.rel_pos_bias_table' in k for k in ckpt['state_dict'])
    assert not any('projector' in k for k in ckpt['state_dict'])


def test_mit_into_both_cmx_streams_by_order(tmp_path, capsys):
    pre = decur(
        dict(type='MiT', arch='b0', pooled_channels=32),
        modalities=('rgb', 'depth'))
    src = save(pre.state_dict(), tmp_path / 'decur.pth')
    config = downstream_config(tmp_path, 'configs/cmx/cmx_mitb2_sunrgbd.py',
                               "dict(backbone=dict(arch='b0'))")
    dst = str(tmp_path / 'cmx.pth')
    out = convert(src, config, dst, capsys=capsys)
    # Modality 1 -> RGB stream, modality 2 -> X (HHA) stream.
    assert 'depth -> backbone.encoders.hha' in out
    n = assert_landed(pre.state_dict(), config, dst,
                      dict(rgb='rgb', depth='hha'), 'backbone.encoders')
    assert n == 2 * sum(1 for k in pre.state_dict() if k.startswith(
        'backbones.rgb.') and not k.startswith('backbones.rgb.head.'))
    assert meta(dst)['modality_map'] == dict(rgb='rgb', depth='hha')


def test_a_checkpoint_that_does_not_fit_names_the_keys(tmp_path):
    pre = decur(
        dict(type='ResNet', depth=18, base_channels=16, stem_channels=16))
    src = save(pre.state_dict(), tmp_path / 'decur.pth')
    config = downstream_config(tmp_path, 'configs/fcn/fcn_rn50_nyudv2.py',
                               TINY_FCN)
    with pytest.raises(ValueError) as e:
        convert(src, config, str(tmp_path / 'x.pth'))
    assert 'backbone.encoders.rgb.conv1.weight: checkpoint (16, 3, 7, 7) ' \
        'vs model (8, 3, 7, 7)' in str(e.value)
    assert not osp.exists(tmp_path / 'x.pth')


def test_unknown_modalities_need_a_map(tmp_path, capsys):
    src = save(decur_state(TINY_RN, dict(s1=3, s2=3)), tmp_path / 'd.pth')
    config = downstream_config(tmp_path, 'configs/fcn/fcn_rn50_nyudv2_rgb.py',
                               TINY_FCN)
    dst = str(tmp_path / 'rgb.pth')
    # Which of the two feeds the only encoder? Not guessed.
    with pytest.raises(SystemExit, match=r"encoder\(s\) \['rgb'\].*--map"):
        convert(src, config, dst)
    out = convert(src, config, dst, '--map', 's2=rgb', capsys=capsys)
    assert 's2 -> backbone.encoders.rgb' in out
    assert assert_landed(
        torch.load(src)['state_dict'], config, dst, dict(s2='rgb'),
        'backbone.encoders') > 10


# ------------------------------------------------------- three modalities
RGBD3 = dict(rgb=3, hha=3, depth=1)


@pytest.fixture(scope='module')
def rgbd3_resnet(tmp_path_factory):
    state = decur_state(TINY_RN, RGBD3)
    return state, save(state, tmp_path_factory.mktemp('rn') / 'decur3.pth')


def test_three_modalities_into_a_two_modality_fcn_by_name(
        tmp_path, capsys, rgbd3_resnet):
    state, src = rgbd3_resnet
    config = downstream_config(tmp_path, 'configs/fcn/fcn_rn50_nyudv2.py',
                               TINY_FCN)
    dst = str(tmp_path / 'fcn.pth')
    out = convert(src, config, dst, capsys=capsys)
    assert "unused modalities ['depth']" in out
    assert assert_landed(state, config, dst, dict(rgb='rgb', hha='hha'),
                         'backbone.encoders') > 100
    record = meta(dst)
    assert record['source_modalities'] == ['rgb', 'hha', 'depth']
    assert record['modality_map'] == dict(rgb='rgb', hha='hha')
    assert record['encoder_sources'] == {
        'backbone.encoders.rgb': 'rgb',
        'backbone.encoders.hha': 'hha'
    }
    assert record['unused_modalities'] == ['depth']


def test_three_modalities_into_a_three_modality_fcn(tmp_path, rgbd3_resnet):
    state, src = rgbd3_resnet
    config = downstream_config(
        tmp_path, 'configs/fcn/fcn_rn50_nyudv2.py', TINY_FCN,
        'data_preprocessor = dict(modalities=dict('
        'depth=dict(mean=[127.5], std=[64.])))\n')
    dst = str(tmp_path / 'fcn3.pth')
    convert(src, config, dst)
    model = init_model(config)
    assert list(model.backbone.encoders) == ['rgb', 'hha', 'depth']
    assert assert_landed(state, config, dst, {m: m
                                              for m in RGBD3},
                         'backbone.encoders') > 150
    assert meta(dst)['unused_modalities'] == []


def test_three_modalities_need_a_map_for_other_names(tmp_path, rgbd3_resnet):
    _, src = rgbd3_resnet
    config = downstream_config(tmp_path, 'configs/fcn/fcn_rn50_geonrw.py',
                               TINY_FCN)
    dst = str(tmp_path / 'x.pth')
    # GeoNRW's rgb + dem: 'dem' is not in an rgb/hha/depth checkpoint.
    with pytest.raises(SystemExit) as e:
        convert(src, config, dst)
    msg = str(e.value)
    assert "encoder(s) ['dem']" in msg
    assert "modalities ['rgb', 'hha', 'depth']" in msg
    assert "encoders ['rgb', 'dem']" in msg and '--map' in msg
    # --map naming a modality that is on neither side.
    with pytest.raises(SystemExit, match="no modality 'dsm'.*'depth'"):
        convert(src, config, dst, '--map', 'dsm=dem')
    with pytest.raises(SystemExit, match="no encoder 'height'.*'dem'"):
        convert(src, config, dst, '--map', 'depth=height')
    with pytest.raises(SystemExit, match='expected PRETRAIN=DOWNSTREAM'):
        convert(src, config, dst, '--map', 'depth')
    with pytest.raises(SystemExit, match="modality 'depth' twice"):
        convert(src, config, dst, '--map', 'depth=dem', 'depth=rgb')
    assert not osp.exists(dst)
    # The fix: depth -> dem (a 1-band DSM encoder from the 1-band depth one).
    convert(src, config, dst, '--map', 'depth=dem')
    assert meta(dst)['modality_map'] == dict(rgb='rgb', depth='dem')


@pytest.fixture(scope='module')
def rgbd3_mit(tmp_path_factory):
    state = decur_state(
        dict(type='MiT', arch='b0', pooled_channels=32),
        dict(rgb=3, hha=3, depth=3))
    return state, save(state, tmp_path_factory.mktemp('mit') / 'decur3.pth')


def test_cmx_takes_two_of_three_by_name_or_map(tmp_path, rgbd3_mit):
    state, src = rgbd3_mit
    assert any('.head.' in k for k in state)
    config = downstream_config(tmp_path, 'configs/cmx/cmx_mitb2_nyudv2.py',
                               "dict(backbone=dict(arch='b0'))")
    by_name = str(tmp_path / 'by_name.pth')
    convert(src, config, by_name)
    n = assert_landed(state, config, by_name, dict(rgb='rgb', hha='hha'),
                      'backbone.encoders')
    assert n == 2 * sum(
        1
        for k in state if k.startswith('backbones.rgb.') and '.head.' not in k)
    # The X stream from the raw-depth encoder instead of the HHA one.
    mapped = str(tmp_path / 'mapped.pth')
    convert(src, config, mapped, '--map', 'depth=hha')
    assert assert_landed(state, config, mapped, dict(rgb='rgb', depth='hha'),
                         'backbone.encoders') == n
    assert meta(mapped)['encoder_sources'] == {
        'backbone.encoders.rgb': 'rgb',
        'backbone.encoders.hha': 'depth'
    }
    assert meta(mapped)['unused_modalities'] == ['hha']
    # Both streams must differ: the X stream is not the HHA encoder.
    got = torch.load(mapped)['state_dict']
    key = 'layers.0.0.projection.weight'
    assert torch.equal(got[f'backbone.encoders.hha.{key}'],
                       state[f'backbones.depth.{key}'])
    assert not torch.equal(got[f'backbone.encoders.hha.{key}'],
                           state[f'backbones.hha.{key}'])


# ------------------------------------------------- late-fusion classifier
SSL4EO3 = dict(s1=2, s2c=13, s2a=13)
TINY_CLS = 'dict(backbone=dict(depth=18, base_channels=8, stem_channels=8))'


@pytest.fixture(scope='module')
def ssl4eo3(tmp_path_factory):
    state = decur_state(TINY_RN, SSL4EO3)
    return state, save(state, tmp_path_factory.mktemp('s') / 'decur3.pth')


def test_classifier_takes_two_of_three(tmp_path, capsys, ssl4eo3):
    state, src = ssl4eo3
    config = downstream_config(
        tmp_path, 'configs/bigearthnet/late_fusion_rn50_finetune.py', TINY_CLS)
    # The config's pretrained_modalities: s2 <- s2c.
    dst = str(tmp_path / 'cls.pth')
    out = convert(src, config, dst, capsys=capsys)
    assert 's2c -> backbones.s2' in out and "unused modalities ['s2a']" in out
    mapping = dict(s1='s1', s2c='s2')
    assert meta(dst)['modality_map'] == mapping
    assert assert_landed(state, config, dst, mapping, 'backbones') > 100
    # Through the classifier's init_cfg, as the config documents.
    assert_landed(state, config, dst, mapping, 'backbones',
                  **{'model.init_cfg.checkpoint': dst})
    # --map overrides the config: the L2A encoder.
    dst = str(tmp_path / 'l2a.pth')
    convert(src, config, dst, '--map', 's2a=s2')
    assert assert_landed(state, config, dst, dict(s1='s1', s2a='s2'),
                         'backbones') > 100


def test_classifier_takes_one_of_three(tmp_path, ssl4eo3):
    state, src = ssl4eo3
    config = downstream_config(tmp_path,
                               'configs/bigearthnet/optical_rn50_finetune.py',
                               TINY_CLS)
    dst = str(tmp_path / 'optical.pth')
    convert(src, config, dst, '--map', 's2a=s2')
    assert assert_landed(state, config, dst, dict(s2a='s2'), 'backbones') > 50
    assert meta(dst)['unused_modalities'] == ['s1', 's2c']


def test_classifier_errors_name_the_modality(tmp_path, ssl4eo3):
    _, src = ssl4eo3
    config = downstream_config(
        tmp_path, 'configs/bigearthnet/late_fusion_rn50_finetune.py',
        TINY_CLS[:-1] + ", pretrained_modalities=dict(s2='s2l1c'))")
    with pytest.raises(
            SystemExit, match="pretrained_modalities.s2='s2l1c'.*no modality"):
        convert(src, config, str(tmp_path / 'x.pth'))
    # A 12-band L2A encoder (SSL4EO-S12 has no B10 in L2A) into the 13-band
    # BigEarthNet optical encoder: the shapes say so.
    src12 = save(
        decur_state(TINY_RN, dict(s1=2, s2a=12)), tmp_path / 'd12.pth')
    with pytest.raises(
            ValueError,
            match=r'backbones\.s2\.conv1\.weight: checkpoint '
            r'\(8, 12, 7, 7\) vs model \(8, 13, 7, 7\)'):
        convert(src12, config, str(tmp_path / 'x.pth'), '--map', 's2a=s2')


def test_a_checkpoint_without_backbones(tmp_path):
    src = save({'encoder.conv1.weight': torch.zeros(1)}, tmp_path / 'x.pth')
    config = downstream_config(tmp_path, 'configs/fcn/fcn_rn50_nyudv2.py',
                               TINY_FCN)
    with pytest.raises(SystemExit, match='no `backbones.<modality>.*` keys'):
        convert(src, config, str(tmp_path / 'y.pth'))

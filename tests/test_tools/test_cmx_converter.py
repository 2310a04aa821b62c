# Copyright (c) mmdecur contributors. All rights reserved.
"""tools/model_converters/cmx_official_to_mmdecur.py round trips."""
import importlib.util
import os.path as osp
import subprocess
import sys

import pytest
import torch

import mmdecur  # noqa: F401  (applies the compat patches)
from mmdecur.models.backbones import CMXBackbone
from mmdecur.models.decode_heads import CMXMLPHead

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPT = osp.join(ROOT, 'tools', 'model_converters',
                  'cmx_official_to_mmdecur.py')
_spec = importlib.util.spec_from_file_location(
    'checkpoint_mapping_tests',
    osp.join(ROOT, 'tests', 'test_models', 'test_utils',
             'test_checkpoint_mapping.py'))
_helpers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_helpers)
_spec = importlib.util.spec_from_file_location('cmx_converter', SCRIPT)
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


def convert(src, dst, *args):
    """Run the tool in-process (a subprocess costs seconds of imports)."""
    argv = sys.argv
    sys.argv = [SCRIPT, src, dst, *args]
    try:
        tool.main()
    finally:
        sys.argv = argv


def test_cli_round_trip_loads_strictly(tmp_path):
    official = _helpers.official_cmx_state_dict(
        arch='b0', num_classes=5, embed=32, in_x=1)
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'out.pth')
    torch.save({'model': official}, src)
    proc = subprocess.run(
        [sys.executable, SCRIPT, src, dst, '--modalities', 'rgb', 'depth'],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert ('backbone.block1.0.attn.q.weight + '
            'backbone.block1.0.attn.kv.weight -> backbone.encoders.rgb.'
            'layers.0.1.0.attn.attn.in_proj_weight') in out
    assert ('backbone.extra_patch_embed1.proj.weight -> '
            'backbone.encoders.depth.layers.0.0.projection.weight') in out
    assert 'decode_head.linear_pred.weight -> decode_head.conv_seg.weight' \
        in out
    assert "verified against CMXBackbone('b0')" in out

    saved = torch.load(dst, map_location='cpu')
    assert saved['meta']['modalities'] == ['rgb', 'depth']
    assert saved['meta']['settings']['num_classes'] == 5
    backbone = CMXBackbone(
        'b0', modalities=('rgb', 'depth'), in_channels=dict(rgb=3, depth=1))
    head = CMXMLPHead(
        in_channels=[32, 64, 160, 256], channels=32, num_classes=5)
    state = saved['state_dict']
    for prefix, module in (('backbone.', backbone), ('decode_head.', head)):
        module.load_state_dict(
            {
                k[len(prefix):]: v
                for k, v in state.items() if k.startswith(prefix)
            },
            strict=True)
    assert torch.equal(
        backbone.frms[1].channel_gate[0].weight,
        official['backbone.FRMs.1.channel_weights.mlp.0.weight'])


@pytest.mark.parametrize('wrap', ['state_dict', None])
def test_accepts_wrapped_or_raw_state_dicts(tmp_path, capsys, wrap):
    official = _helpers.official_cmx_state_dict(
        arch='b0', num_classes=5, embed=32)
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'out.pth')
    torch.save({wrap: official} if wrap else official, src)
    convert(src, dst)
    assert 'backbone.encoders.hha=' in capsys.readouterr().out
    state = torch.load(dst, map_location='cpu')['state_dict']
    assert torch.equal(state['decode_head.linear_projs.0.weight'],
                       official['decode_head.linear_c1.proj.weight'])


def test_bad_checkpoint_fails_naming_the_key(tmp_path):
    official = _helpers.official_cmx_state_dict(
        arch='b0', num_classes=5, embed=32)
    official['backbone.FFMs.0.cross.cross_attn.kv2.weight'] = torch.zeros(
        64, 31)
    src, dst = str(tmp_path / 'official.pth'), str(tmp_path / 'out.pth')
    torch.save({'model': official}, src)
    with pytest.raises(
            ValueError,
            match=r'backbone\.FFMs\.0\.cross\.cross_attn\.kv2\.weight'):
        convert(src, dst)
    assert not osp.exists(dst)
    # Without verification the tool converts what it can map.
    convert(src, dst, '--no-verify')
    assert osp.exists(dst)

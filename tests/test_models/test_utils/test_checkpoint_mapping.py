# Copyright (c) mmdecur contributors. All rights reserved.
"""SegFormer -> mmseg MiT and official CMX -> mmdecur key mappings."""
import importlib.util
import os.path as osp
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import mmdecur  # noqa: F401  (applies the compat patches)
from mmdecur.models.backbones import CMXBackbone, MiT
from mmdecur.models.decode_heads import CMXMLPHead
from mmdecur.models.utils.checkpoint_mapping import (cmx_official_to_mmdecur,
                                                     format_report,
                                                     infer_cmx_settings,
                                                     segformer_to_mmseg_mit)
from mmdecur.testing.official_keys import OFFICIAL_ARCHS, official_mit_keys


def bn_keys(name, c):
    return [(f'{name}.weight', (c, )), (f'{name}.bias', (c, )),
            (f'{name}.running_mean', (c, )), (f'{name}.running_var', (c, )),
            (f'{name}.num_batches_tracked', ())]


def official_cmx_keys(arch='b2', num_classes=40, embed=512, in_x=3):
    """Every (key, shape) of an official CMX checkpoint's ``model``."""
    dims, depths = OFFICIAL_ARCHS[arch]['dims'], OFFICIAL_ARCHS[arch]['depths']
    rgb_patch, rgb_blocks = official_mit_keys(dims, depths, 3, 'backbone.')
    x_patch, x_blocks = official_mit_keys(dims, depths, in_x,
                                          'backbone.extra_')
    keys = rgb_patch + x_patch
    for rgb, x in zip(rgb_blocks, x_blocks):
        keys += rgb + x
    for i, c in enumerate(dims):
        f = f'backbone.FRMs.{i}'
        keys += [(f'{f}.channel_weights.mlp.0.weight', (4 * c, 4 * c)),
                 (f'{f}.channel_weights.mlp.0.bias', (4 * c, )),
                 (f'{f}.channel_weights.mlp.2.weight', (2 * c, 4 * c)),
                 (f'{f}.channel_weights.mlp.2.bias', (2 * c, )),
                 (f'{f}.spatial_weights.mlp.0.weight', (c, 2 * c, 1, 1)),
                 (f'{f}.spatial_weights.mlp.0.bias', (c, )),
                 (f'{f}.spatial_weights.mlp.2.weight', (2, c, 1, 1)),
                 (f'{f}.spatial_weights.mlp.2.bias', (2, ))]
    for i, c in enumerate(dims):
        f = f'backbone.FFMs.{i}'
        for s in (1, 2):
            keys += [(f'{f}.cross.channel_proj{s}.weight', (2 * c, c)),
                     (f'{f}.cross.channel_proj{s}.bias', (2 * c, ))]
        keys += [(f'{f}.cross.cross_attn.kv1.weight', (2 * c, c)),
                 (f'{f}.cross.cross_attn.kv2.weight', (2 * c, c))]
        for s in (1, 2):
            keys += [(f'{f}.cross.end_proj{s}.weight', (c, 2 * c)),
                     (f'{f}.cross.end_proj{s}.bias', (c, ))]
        for s in (1, 2):
            keys += [(f'{f}.cross.norm{s}.weight', (c, )),
                     (f'{f}.cross.norm{s}.bias', (c, ))]
        e = f'{f}.channel_emb'
        keys += [(f'{e}.residual.weight', (c, 2 * c, 1, 1)),
                 (f'{e}.channel_embed.0.weight', (c, 2 * c, 1, 1)),
                 (f'{e}.channel_embed.0.bias', (c, )),
                 (f'{e}.channel_embed.1.weight', (c, 1, 3, 3)),
                 (f'{e}.channel_embed.1.bias', (c, )),
                 (f'{e}.channel_embed.3.weight', (c, c, 1, 1)),
                 (f'{e}.channel_embed.3.bias', (c, ))]
        keys += bn_keys(f'{e}.channel_embed.4', c) + bn_keys(f'{e}.norm', c)
    for k in (4, 3, 2, 1):
        keys += [(f'decode_head.linear_c{k}.proj.weight', (embed,
                                                           dims[k - 1])),
                 (f'decode_head.linear_c{k}.proj.bias', (embed, ))]
    keys += [('decode_head.linear_fuse.0.weight', (embed, 4 * embed, 1, 1)),
             ('decode_head.linear_fuse.0.bias', (embed, ))]
    keys += bn_keys('decode_head.linear_fuse.1', embed)
    keys += [('decode_head.linear_pred.weight', (num_classes, embed, 1, 1)),
             ('decode_head.linear_pred.bias', (num_classes, ))]
    return keys


def official_cmx_state_dict(seed=0, **kwargs):
    gen = torch.Generator().manual_seed(seed)
    state = OrderedDict()
    for key, shape in official_cmx_keys(**kwargs):
        if key.endswith('num_batches_tracked'):
            state[key] = torch.tensor(7)
        elif key.endswith('running_var'):
            state[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            state[key] = torch.randn(shape, generator=gen)
    return state


class Segmentor(nn.Module):
    """The ``backbone.*`` / ``decode_head.*`` layout of mmseg segmentors."""

    def __init__(self, arch='b2', num_classes=40, channels=512, in_x=3):
        super().__init__()
        self.backbone = CMXBackbone(
            arch, in_channels=dict(rgb=3, hha=in_x), drop_path_rate=0.)
        self.decode_head = CMXMLPHead(
            in_channels=self.backbone.out_channels,
            channels=channels,
            num_classes=num_classes)


def shapes(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


@pytest.fixture(scope='module')
def b2_import():
    official = official_cmx_state_dict(arch='b2')
    model = Segmentor('b2')
    converted, report = cmx_official_to_mmdecur(
        official, expected=shapes(model))
    return official, model, converted, report


def test_official_b2_loads_strictly(b2_import):
    official, model, converted, report = b2_import
    result = model.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    # Every official tensor is used once: q+kv pairs merge, the fuse bias
    # folds, everything else maps one to one.
    sources = [s for src, _ in report['pairs'] for s in src]
    assert sorted(sources + [s for s, _ in report['folded']]) == \
        sorted(official)
    blocks = 2 * sum(OFFICIAL_ARCHS['b2']['depths'])
    assert len(converted) == len(official) - 2 * blocks - 1
    assert report['counts'] == OrderedDict([
        ('backbone.encoders.rgb',
         len(model.backbone.encoders.rgb.state_dict())),
        ('backbone.encoders.hha',
         len(model.backbone.encoders.hha.state_dict())),
        ('backbone.frms', len(model.backbone.frms.state_dict())),
        ('backbone.ffms', len(model.backbone.ffms.state_dict())),
        ('decode_head', len(model.decode_head.state_dict())),
    ])
    assert 'folded into decode_head.fusion_conv.bn.running_mean' in \
        format_report(report)


def test_official_b2_tensors_land_in_place(b2_import):
    official, model, converted, _ = b2_import
    state = model.state_dict()
    bb, eq = 'backbone.', torch.equal
    rgb, hha = bb + 'encoders.rgb.', bb + 'encoders.hha.'
    # Streams: plain names -> RGB encoder, extra_* -> X encoder.
    assert eq(state[rgb + 'layers.0.0.projection.weight'],
              official[bb + 'patch_embed1.proj.weight'])
    assert eq(state[hha + 'layers.3.0.norm.bias'],
              official[bb + 'extra_patch_embed4.norm.bias'])
    assert eq(state[hha + 'layers.2.2.weight'],
              official[bb + 'extra_norm3.weight'])
    # q and kv concatenate into the packed [q; k; v] projection.
    for w in ('weight', 'bias'):
        packed = state[rgb + f'layers.1.1.3.attn.attn.in_proj_{w}']
        q = official[bb + f'block2.3.attn.q.{w}']
        kv = official[bb + f'block2.3.attn.kv.{w}']
        assert eq(packed[:128], q) and eq(packed[128:], kv)
    assert eq(state[hha + 'layers.0.1.2.attn.attn.out_proj.weight'],
              official[bb + 'extra_block1.2.attn.proj.weight'])
    assert eq(state[rgb + 'layers.0.1.0.attn.sr.weight'],
              official[bb + 'block1.0.attn.sr.weight'])
    # Linear fc1/fc2 -> 1x1 convs; the depthwise conv is copied.
    fc1 = official[bb + 'extra_block3.5.mlp.fc1.weight']
    assert state[hha + 'layers.2.1.5.ffn.layers.0.weight'].shape == \
        (*fc1.shape, 1, 1)
    assert eq(state[hha + 'layers.2.1.5.ffn.layers.0.weight'][..., 0, 0], fc1)
    assert eq(state[rgb + 'layers.3.1.2.ffn.layers.4.weight'][..., 0, 0],
              official[bb + 'block4.2.mlp.fc2.weight'])
    assert eq(state[rgb + 'layers.3.1.2.ffn.layers.1.bias'],
              official[bb + 'block4.2.mlp.dwconv.dwconv.bias'])
    # FRM / FFM.
    assert eq(state[bb + 'frms.2.channel_gate.2.weight'],
              official[bb + 'FRMs.2.channel_weights.mlp.2.weight'])
    assert eq(state[bb + 'frms.0.spatial_gate.0.bias'],
              official[bb + 'FRMs.0.spatial_weights.mlp.0.bias'])
    assert eq(state[bb + 'ffms.1.cross_path.in_projs.1.weight'],
              official[bb + 'FFMs.1.cross.channel_proj2.weight'])
    assert eq(state[bb + 'ffms.3.cross_path.kv_projs.0.weight'],
              official[bb + 'FFMs.3.cross.cross_attn.kv1.weight'])
    assert eq(state[bb + 'ffms.0.cross_path.norms.1.bias'],
              official[bb + 'FFMs.0.cross.norm2.bias'])
    assert eq(state[bb + 'ffms.2.channel_embed.branch.4.running_var'],
              official[bb + 'FFMs.2.channel_emb.channel_embed.4.running_var'])
    assert eq(state[bb + 'ffms.2.channel_embed.norm.num_batches_tracked'],
              official[bb + 'FFMs.2.channel_emb.norm.num_batches_tracked'])
    # Decoder; the fuse-conv bias is folded into the BN's running mean.
    dh = 'decode_head.'
    assert eq(state[dh + 'linear_projs.3.weight'],
              official[dh + 'linear_c4.proj.weight'])
    assert eq(state[dh + 'fusion_conv.conv.weight'],
              official[dh + 'linear_fuse.0.weight'])
    assert eq(
        state[dh + 'fusion_conv.bn.running_mean'],
        official[dh + 'linear_fuse.1.running_mean'] -
        official[dh + 'linear_fuse.0.bias'])
    assert eq(state[dh + 'conv_seg.weight'],
              official[dh + 'linear_pred.weight'])


def test_folded_fuse_bias_is_exact():
    """conv + bias -> BN equals conv -> BN with the shifted running mean."""
    torch.manual_seed(0)
    reference = nn.Sequential(nn.Conv2d(8, 4, 1), nn.BatchNorm2d(4))
    reference[1].running_mean.normal_()
    reference[1].running_var.uniform_(0.5, 1.5)
    official = OrderedDict(('decode_head.linear_fuse.' + k, v.clone())
                           for k, v in reference.state_dict().items())
    converted, report = cmx_official_to_mmdecur(official)
    assert report['folded'] == [('decode_head.linear_fuse.0.bias',
                                 'decode_head.fusion_conv.bn.running_mean')]
    folded = nn.Sequential(nn.Conv2d(8, 4, 1, bias=False), nn.BatchNorm2d(4))
    folded.load_state_dict({
        k.replace('decode_head.fusion_conv.conv', '0').replace(
            'decode_head.fusion_conv.bn', '1'):
        v
        for k, v in converted.items()
    })
    x = torch.randn(3, 8, 5, 5)
    for mode in (False, True):  # eval: running stats; train: batch stats
        reference.train(mode)
        folded.train(mode)
        torch.testing.assert_close(folded(x), reference(x))
    # The running means stay consistent after a training step too.
    torch.testing.assert_close(
        folded[1].running_mean,
        reference[1].running_mean - reference[0].bias.detach())


# Functional forwards written directly from the official description, on
# the official-keyed tensors: what an official checkpoint computes.
def official_frm(sd, p, x1, x2):
    b, c = x1.shape[:2]
    x = torch.cat((x1, x2), dim=1)
    y = torch.cat((F.adaptive_avg_pool2d(
        x, 1).flatten(1), F.adaptive_max_pool2d(x, 1).flatten(1)),
                  dim=1)
    y = F.relu(
        F.linear(y, sd[p + 'channel_weights.mlp.0.weight'],
                 sd[p + 'channel_weights.mlp.0.bias']))
    y = torch.sigmoid(
        F.linear(y, sd[p + 'channel_weights.mlp.2.weight'],
                 sd[p + 'channel_weights.mlp.2.bias']))
    cw = y.reshape(b, 2, c, 1, 1).permute(1, 0, 2, 3, 4)
    s = F.relu(
        F.conv2d(x, sd[p + 'spatial_weights.mlp.0.weight'],
                 sd[p + 'spatial_weights.mlp.0.bias']))
    s = torch.sigmoid(
        F.conv2d(s, sd[p + 'spatial_weights.mlp.2.weight'],
                 sd[p + 'spatial_weights.mlp.2.bias']))
    sw = s.reshape(b, 2, 1, *x.shape[2:]).permute(1, 0, 2, 3, 4)
    return (x1 + 0.5 * cw[1] * x2 + 0.5 * sw[1] * x2,
            x2 + 0.5 * cw[0] * x1 + 0.5 * sw[0] * x1)


def official_ffm(sd, p, x1, x2, heads):
    b, c, h, w = x1.shape
    d = c // heads
    t = [x.flatten(2).transpose(1, 2) for x in (x1, x2)]
    ys, us = [], []
    for s in (1, 2):
        yu = F.relu(
            F.linear(t[s - 1], sd[f'{p}cross.channel_proj{s}.weight'],
                     sd[f'{p}cross.channel_proj{s}.bias']))
        ys.append(yu[..., :c])
        us.append(yu[..., c:])
    qs, ctxs = [], []
    for s in (1, 2):
        u = us[s - 1]
        qs.append(u.reshape(b, -1, heads, d).permute(0, 2, 1, 3))
        kv = F.linear(u, sd[f'{p}cross.cross_attn.kv{s}.weight'])
        k, v = kv.reshape(b, -1, 2, heads, d).permute(2, 0, 3, 1, 4)
        ctxs.append((k.transpose(-2, -1) @ v * d**-0.5).softmax(dim=-2))
    outs = []
    for s in (1, 2):
        att = (qs[s - 1] @ ctxs[2 - s]).permute(0, 2, 1, 3).reshape(b, -1, c)
        y = F.linear(
            torch.cat((ys[s - 1], att),
                      dim=-1), sd[f'{p}cross.end_proj{s}.weight'],
            sd[f'{p}cross.end_proj{s}.bias'])
        outs.append(
            F.layer_norm(t[s - 1] + y, (c, ), sd[f'{p}cross.norm{s}.weight'],
                         sd[f'{p}cross.norm{s}.bias']))
    m = torch.cat(outs, dim=-1).permute(0, 2, 1).reshape(b, 2 * c, h, w)
    e = p + 'channel_emb.'

    def bn(x, name):
        return F.batch_norm(x, sd[name + '.running_mean'],
                            sd[name + '.running_var'], sd[name + '.weight'],
                            sd[name + '.bias'], False, 0.1, 1e-5)

    br = F.conv2d(m, sd[e + 'channel_embed.0.weight'],
                  sd[e + 'channel_embed.0.bias'])
    br = F.relu(
        F.conv2d(
            br,
            sd[e + 'channel_embed.1.weight'],
            sd[e + 'channel_embed.1.bias'],
            padding=1,
            groups=c))
    br = bn(
        F.conv2d(br, sd[e + 'channel_embed.3.weight'],
                 sd[e + 'channel_embed.3.bias']), e + 'channel_embed.4')
    return bn(F.conv2d(m, sd[e + 'residual.weight']) + br, e + 'norm')


def official_head(sd, feats):
    p = 'decode_head.'
    size = feats[0].shape[2:]
    maps = {}
    for k, x in enumerate(feats, 1):
        y = F.linear(
            x.flatten(2).transpose(1, 2), sd[f'{p}linear_c{k}.proj.weight'],
            sd[f'{p}linear_c{k}.proj.bias'])
        y = y.permute(0, 2, 1).reshape(x.shape[0], -1, *x.shape[2:])
        maps[k] = F.interpolate(
            y, size=size, mode='bilinear', align_corners=False)
    x = F.conv2d(
        torch.cat([maps[4], maps[3], maps[2], maps[1]], dim=1),
        sd[p + 'linear_fuse.0.weight'], sd[p + 'linear_fuse.0.bias'])
    n = p + 'linear_fuse.1.'
    x = F.relu(
        F.batch_norm(x, sd[n + 'running_mean'], sd[n + 'running_var'],
                     sd[n + 'weight'], sd[n + 'bias'], False, 0.1,
                     1e-3))  # CMX sets the decoder's BN eps to 1e-3
    return F.conv2d(x, sd[p + 'linear_pred.weight'],
                    sd[p + 'linear_pred.bias'])


def test_imported_modules_compute_the_official_function():
    """FRM, FFM and decoder with imported weights match the official maths
    (concatenation/split orders, stream indices, softmax axis, head order)."""
    official = official_cmx_state_dict(arch='b0', num_classes=5, embed=32)
    model = Segmentor('b0', num_classes=5, channels=32).eval()
    converted, _ = cmx_official_to_mmdecur(official, expected=shapes(model))
    model.load_state_dict(converted, strict=True)
    torch.manual_seed(0)
    x1, x2 = torch.randn(2, 2, 64, 6, 5)
    with torch.no_grad():
        for ours, theirs in zip(
                model.backbone.frms[1](x1, x2),
                official_frm(official, 'backbone.FRMs.1.', x1, x2)):
            torch.testing.assert_close(ours, theirs)
        torch.testing.assert_close(
            model.backbone.ffms[1](x1, x2),
            official_ffm(official, 'backbone.FFMs.1.', x1, x2, heads=2))
        x1, x2 = torch.randn(2, 2, 160, 3, 3)
        torch.testing.assert_close(
            model.backbone.ffms[2](x1, x2),
            official_ffm(official, 'backbone.FFMs.2.', x1, x2, heads=5))
        feats = [
            torch.randn(2, c, 16 // 2**i, 16 // 2**i)
            for i, c in enumerate((32, 64, 160, 256))
        ]
        expected = official_head(official, feats)
        # Folding the bias reorders float sums; unit-variance random weights
        # make logits of magnitude ~1e2-1e3, hence a relative tolerance.
        torch.testing.assert_close(
            model.decode_head(feats),
            expected,
            rtol=1e-5,
            atol=1e-6 * expected.abs().max().item())
        logits = model.decode_head(
            model.backbone(
                dict(
                    rgb=torch.randn(1, 3, 64, 64),
                    hha=torch.randn(1, 3, 64, 64))))
    assert logits.shape == (1, 5, 16, 16) and torch.isfinite(logits).all()


def test_settings_inferred_from_official_keys():
    official = official_cmx_state_dict(arch='b0', num_classes=13, embed=32)
    official = OrderedDict(('module.' + k, v) for k, v in official.items())
    assert infer_cmx_settings(official) == dict(
        depths=[2, 2, 2, 2],
        widths=[32, 64, 160, 256],
        in_channels=(3, 3),
        num_classes=13,
        channels=32)
    converted, report = cmx_official_to_mmdecur(
        official, modalities=('rgb', 'depth'))
    assert report['stripped_prefix'] == 'module.'
    assert any(k.startswith('backbone.encoders.depth.') for k in converted)


@pytest.mark.parametrize('key,shape,error,match', [
    ('backbone.block2.1.attn.kv.weight', (96, 64), ValueError,
     r"'backbone\.block2\.1\.attn\.kv\.weight' has shape \(96, 64\)"),
    ('backbone.extra_block1.0.mlp.fc2.weight', (32, 128, 1), ValueError,
     r"'backbone\.extra_block1\.0\.mlp\.fc2\.weight': a Linear weight"),
    ('backbone.FFMs.1.cross.end_proj2.weight', (64, 64), ValueError,
     r"'backbone\.FFMs\.1\.cross\.end_proj2\.weight' has shape \(64, 64\) "
     r"after mapping to 'backbone\.ffms\.1\.cross_path\.out_projs\.1\.weight'"
     ),
    ('decode_head.linear_pred.weight', (6, 32, 1, 1), ValueError,
     r"'decode_head\.linear_pred\.weight' has shape"),
])
def test_mis_shaped_key_is_named(key, shape, error, match):
    model = Segmentor('b0', num_classes=5, channels=32)
    official = official_cmx_state_dict(arch='b0', num_classes=5, embed=32)
    official[key] = torch.zeros(shape)
    with pytest.raises(error, match=match):
        cmx_official_to_mmdecur(official, expected=shapes(model))


def test_unknown_and_missing_keys_are_named():
    official = official_cmx_state_dict(arch='b0', num_classes=5, embed=32)
    for bad in ('backbone.FRMs.0.channel_weights.mlp.1.weight',
                'backbone.block1.0.attn.qkv.weight', 'backbone.head.weight',
                'aux_head.conv.weight', 'decode_head.linear_c5.proj.weight'):
        broken = OrderedDict(official, **{bad: torch.zeros(1)})
        with pytest.raises(KeyError, match=bad.replace('.', r'\.')):
            cmx_official_to_mmdecur(broken)
    broken = OrderedDict(official)
    del broken['backbone.extra_block3.1.attn.kv.bias']
    with pytest.raises(KeyError, match=r"extra_block3\.1\.attn\.kv\.bias"):
        cmx_official_to_mmdecur(broken)
    model = Segmentor('b0', num_classes=5, channels=32)
    broken = OrderedDict(official)
    del broken['backbone.FRMs.3.spatial_weights.mlp.2.bias']
    with pytest.raises(KeyError, match=r'frms\.3\.spatial_gate\.2\.bias'):
        cmx_official_to_mmdecur(broken, expected=shapes(model))


def segformer_mit(arch='b0', in_channels=3, seed=0):
    dims, depths = OFFICIAL_ARCHS[arch]['dims'], OFFICIAL_ARCHS[arch]['depths']
    patch, blocks = official_mit_keys(dims, depths, in_channels)
    gen = torch.Generator().manual_seed(seed)
    state = OrderedDict(
        (k, torch.randn(s, generator=gen)) for k, s in patch + sum(blocks, []))
    state['head.weight'] = torch.randn(1000, dims[-1], generator=gen)
    state['head.bias'] = torch.randn(1000, generator=gen)
    return state


def test_segformer_to_mmseg_mit_loads_into_our_mit():
    state = segformer_mit('b0', in_channels=4)
    converted = segformer_to_mmseg_mit(state)
    assert not any(k.startswith('head') for k in converted)
    MiT('b0', in_channels=4, out_type='featmap').load_state_dict(
        converted, strict=True)
    with_head = segformer_to_mmseg_mit(state, keep_head=True)
    assert torch.equal(with_head['head.weight'], state['head.weight'])
    # Prefixes select one encoder of a joint checkpoint.
    joint = OrderedDict(
        ('module.backbone_2.' + k, v) for k, v in state.items())
    joint['module.projector2.0.weight'] = torch.zeros(1)
    moved = segformer_to_mmseg_mit(
        joint,
        prefix_in='module.backbone_2.',
        prefix_out='backbone.encoders.hha.')
    assert list(moved) == ['backbone.encoders.hha.' + k for k in converted]
    assert all(
        torch.equal(moved['backbone.encoders.hha.' + k], v)
        for k, v in converted.items())


def load_mmseg_converter():
    import mmseg
    path = osp.join(
        osp.dirname(mmseg.__file__), '.mim', 'tools', 'model_converters',
        'mit2mmseg.py')
    if not osp.exists(path):
        return None
    spec = importlib.util.spec_from_file_location('mit2mmseg', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_same_as_mmseg_mit2mmseg():
    converter = load_mmseg_converter()
    if converter is None:
        pytest.skip("mmseg's tools/model_converters/mit2mmseg.py not found")
    state = segformer_mit('b2')
    ours = segformer_to_mmseg_mit(state)
    theirs = converter.convert_mit(state)
    assert list(ours) == list(theirs)
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key

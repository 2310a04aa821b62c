# Copyright (c) mmdecur contributors. All rights reserved.
"""Pure state-dict mappings from official checkpoints to mmdecur modules.

Nothing here builds a model or touches files; the tools under
``tools/model_converters/`` are thin wrappers.

SegFormer-style MiT keys (NVlabs SegFormer, CMX, DeCUR) to mmseg's
``MixVisionTransformer`` (our :class:`~mmdecur.models.backbones.MiT`), the
same rules as mmseg's ``tools/model_converters/mit2mmseg.py``:

========================================  ================================
SegFormer (stage ``i``, block ``j``)      mmseg MiT (``s = i - 1``)
========================================  ================================
``patch_embed{i}.proj`` / ``.norm``       ``layers.{s}.0.projection`` /
                                          ``.norm``
``block{i}.{j}.norm1`` / ``norm2``        ``layers.{s}.1.{j}.norm1`` /
                                          ``norm2``
``block{i}.{j}.attn.q`` + ``attn.kv``     ``layers.{s}.1.{j}.attn.attn.``
                                          ``in_proj_*`` = ``cat([q, kv])``
                                          (``[q; k; v]``)
``block{i}.{j}.attn.proj``                ``...attn.attn.out_proj``
``block{i}.{j}.attn.sr`` / ``attn.norm``  ``...attn.sr`` / ``attn.norm``
``block{i}.{j}.mlp.fc1``                  ``...ffn.layers.0`` (weight
                                          reshaped to a 1x1 conv)
``block{i}.{j}.mlp.dwconv.dwconv``        ``...ffn.layers.1``
``block{i}.{j}.mlp.fc2``                  ``...ffn.layers.4`` (1x1 conv)
``norm{i}``                               ``layers.{s}.2``
``head``                                  dropped (or kept as ``head``)
========================================  ================================

Official CMX checkpoints (``RGBXTransformer`` + ``MLPDecoder.DecoderHead``)
to :class:`~mmdecur.models.backbones.CMXBackbone` +
:class:`~mmdecur.models.decode_heads.CMXMLPHead`: the RGB stream
(``backbone.patch_embed*/block*/norm*``) and the X stream (the same with an
``extra_`` prefix) go through the MiT rules into
``backbone.encoders.<modality>.``; the fusion modules and the decoder are
renamed with :data:`FRM_KEY_MAP`, :data:`FFM_KEY_MAP` and
:data:`HEAD_KEY_MAP`. The official ``linear_fuse.0`` conv has a bias that
our bias-free ``fusion_conv`` (conv -> BatchNorm) lacks; it is folded into
the BatchNorm's running mean (``running_mean - bias``), which is exact in
training (batch statistics cancel a constant shift) and in evaluation.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch

__all__ = [
    'segformer_to_mmseg_mit', 'cmx_official_to_mmdecur', 'format_report',
    'infer_cmx_settings', 'FRM_KEY_MAP', 'FFM_KEY_MAP', 'HEAD_KEY_MAP'
]

#: Official ``backbone.FRMs.{i}.<key>`` -> ``backbone.frms.{i}.<value>``.
FRM_KEY_MAP = OrderedDict([
    ('channel_weights.mlp.0.', 'channel_gate.0.'),
    ('channel_weights.mlp.2.', 'channel_gate.2.'),
    ('spatial_weights.mlp.0.', 'spatial_gate.0.'),
    ('spatial_weights.mlp.2.', 'spatial_gate.2.'),
])

#: Official ``backbone.FFMs.{i}.<key>`` -> ``backbone.ffms.{i}.<value>``.
#: Suffix 1 (2) of the official names is our stream index 0 (1).
FFM_KEY_MAP = OrderedDict([
    ('cross.channel_proj1.', 'cross_path.in_projs.0.'),
    ('cross.channel_proj2.', 'cross_path.in_projs.1.'),
    ('cross.cross_attn.kv1.', 'cross_path.kv_projs.0.'),
    ('cross.cross_attn.kv2.', 'cross_path.kv_projs.1.'),
    ('cross.end_proj1.', 'cross_path.out_projs.0.'),
    ('cross.end_proj2.', 'cross_path.out_projs.1.'),
    ('cross.norm1.', 'cross_path.norms.0.'),
    ('cross.norm2.', 'cross_path.norms.1.'),
    ('channel_emb.residual.', 'channel_embed.residual.'),
    ('channel_emb.channel_embed.0.', 'channel_embed.branch.0.'),
    ('channel_emb.channel_embed.1.', 'channel_embed.branch.1.'),
    ('channel_emb.channel_embed.3.', 'channel_embed.branch.3.'),
    ('channel_emb.channel_embed.4.', 'channel_embed.branch.4.'),
    ('channel_emb.norm.', 'channel_embed.norm.'),
])

#: Official ``decode_head.<key>`` -> ``decode_head.<value>``. The official
#: head concatenates c4, c3, c2, c1 before ``linear_fuse``, and so does ours.
HEAD_KEY_MAP = OrderedDict([
    ('linear_c1.proj.', 'linear_projs.0.'),
    ('linear_c2.proj.', 'linear_projs.1.'),
    ('linear_c3.proj.', 'linear_projs.2.'),
    ('linear_c4.proj.', 'linear_projs.3.'),
    ('linear_fuse.0.', 'fusion_conv.conv.'),
    ('linear_fuse.1.', 'fusion_conv.bn.'),
    ('linear_pred.', 'conv_seg.'),
])

_PARAM = r'(weight|bias)'
_BN_ENTRY = r'(weight|bias|running_mean|running_var|num_batches_tracked)'

# Inside ``block{i}.{j}.``: SegFormer name -> mmseg name (``None``: q/kv).
_BLOCK_RULES = [
    (re.compile(rf'^(norm1|norm2)\.{_PARAM}$'), r'\1.\2'),
    (re.compile(rf'^attn\.(q|kv)\.{_PARAM}$'), None),
    (re.compile(rf'^attn\.proj\.{_PARAM}$'), r'attn.attn.out_proj.\1'),
    (re.compile(rf'^attn\.(sr|norm)\.{_PARAM}$'), r'attn.\1.\2'),
    (re.compile(rf'^mlp\.fc1\.{_PARAM}$'), r'ffn.layers.0.\1'),
    (re.compile(rf'^mlp\.dwconv\.dwconv\.{_PARAM}$'), r'ffn.layers.1.\1'),
    (re.compile(rf'^mlp\.fc2\.{_PARAM}$'), r'ffn.layers.4.\1'),
]
_PATCH_EMBED = re.compile(rf'^patch_embed(\d+)\.(proj|norm)\.{_PARAM}$')
_BLOCK = re.compile(r'^block(\d+)\.(\d+)\.(.+)$')
_STAGE_NORM = re.compile(rf'^norm(\d+)\.{_PARAM}$')
_HEAD = re.compile(rf'^head\.{_PARAM}$')

Pairs = List[Tuple[Tuple[str, ...], str]]


def _stage(index: str, key: str) -> int:
    stage = int(index)
    if stage < 1:
        raise KeyError(f'MiT stages count from 1, but got key {key!r}.')
    return stage - 1


def _convert_mit(state_dict: Mapping[str, torch.Tensor],
                 prefix_in: str,
                 prefix_out: str,
                 keep_head: bool,
                 name_in=None) -> Tuple['OrderedDict', Pairs]:
    """SegFormer -> mmseg MiT for the keys under ``prefix_in``.

    ``name_in`` maps a stripped key back to its name in the source dict (for
    error messages and the report); identity ``prefix_in + key`` by default.
    """
    if name_in is None:

        def name_in(key):
            return prefix_in + key

    sub = OrderedDict((k[len(prefix_in):], v) for k, v in state_dict.items()
                      if k.startswith(prefix_in))
    out = OrderedDict()
    pairs: Pairs = []

    def put(src: Tuple[str, ...], key: str, value: torch.Tensor) -> None:
        out[prefix_out + key] = value
        pairs.append((tuple(name_in(s) for s in src), prefix_out + key))

    for key, value in sub.items():
        match = _PATCH_EMBED.match(key)
        if match:
            stage = _stage(match.group(1), name_in(key))
            part = 'projection' if match.group(2) == 'proj' else 'norm'
            put((key, ), f'layers.{stage}.0.{part}.{match.group(3)}', value)
            continue
        match = _STAGE_NORM.match(key)
        if match:
            stage = _stage(match.group(1), name_in(key))
            put((key, ), f'layers.{stage}.2.{match.group(2)}', value)
            continue
        match = _HEAD.match(key)
        if match:
            if keep_head:
                put((key, ), key, value)
            continue
        match = _BLOCK.match(key)
        if not match:
            raise KeyError(f'Unknown SegFormer/MiT key {name_in(key)!r}.')
        stage = _stage(match.group(1), name_in(key))
        base = f'block{match.group(1)}.{match.group(2)}.'
        target = f'layers.{stage}.1.{match.group(2)}.'
        inner = match.group(3)
        for pattern, replacement in _BLOCK_RULES:
            inner_match = pattern.match(inner)
            if inner_match:
                break
        else:
            raise KeyError(f'Unknown SegFormer/MiT key {name_in(key)!r}.')
        if replacement is not None:
            if inner.startswith('mlp.fc') and inner.endswith('weight'):
                # Linear (out, in) -> 1x1 conv (out, in, 1, 1).
                if value.dim() != 2:
                    raise ValueError(
                        f'{name_in(key)!r}: a Linear weight must be 2-D, '
                        f'but has shape {tuple(value.shape)}.')
                value = value.reshape(*value.shape, 1, 1)
            put((key, ), target + inner_match.expand(replacement), value)
            continue
        which, param = inner_match.groups()
        q_key, kv_key = f'{base}attn.q.{param}', f'{base}attn.kv.{param}'
        if which == 'kv':
            if q_key not in sub:
                raise KeyError(f'{name_in(kv_key)!r} has no matching '
                               f'{name_in(q_key)!r}.')
            continue  # merged with its q below
        if kv_key not in sub:
            raise KeyError(f'{name_in(q_key)!r} has no matching '
                           f'{name_in(kv_key)!r}.')
        q, kv = value, sub[kv_key]
        if kv.shape[0] != 2 * q.shape[0] or kv.shape[1:] != q.shape[1:]:
            raise ValueError(
                f'{name_in(kv_key)!r} has shape {tuple(kv.shape)}, but '
                f'{name_in(q_key)!r} of shape {tuple(q.shape)} needs '
                f'{(2 * q.shape[0], ) + tuple(q.shape[1:])}.')
        # nn.MultiheadAttention's packed projection is [q; k; v], and the
        # SegFormer kv rows are [k; v].
        put((q_key, kv_key), f'{target}attn.attn.in_proj_{param}',
            torch.cat([q, kv], dim=0))
    return out, pairs


def segformer_to_mmseg_mit(state_dict: Mapping[str, torch.Tensor],
                           prefix_in: str = '',
                           prefix_out: str = '',
                           keep_head: bool = False) -> 'OrderedDict':
    """Convert SegFormer-style MiT keys to mmseg's MiT keys.

    Only the keys starting with ``prefix_in`` are converted (and returned,
    with ``prefix_in`` replaced by ``prefix_out``); others are ignored, so
    one call extracts one encoder from a joint checkpoint, e.g.
    ``prefix_in='module.backbone_1.'`` of a DeCUR checkpoint.

    Args:
        state_dict (Mapping[str, torch.Tensor]): Source state dict.
        prefix_in (str): Prefix of the MiT keys in ``state_dict``.
            Defaults to ''.
        prefix_out (str): Prefix of the returned keys. Defaults to ''.
        keep_head (bool): Keep ``head.*`` (DeCUR's pooled-feature head,
            which our pooled :class:`MiT` also calls ``head``) instead of
            dropping it as mmseg does with the ImageNet classifier.
            Defaults to False.

    Returns:
        OrderedDict: The mmseg-keyed state dict.

    Raises:
        KeyError: A key under ``prefix_in`` is not a MiT key, or a ``q`` /
            ``kv`` partner is missing.
        ValueError: ``q`` and ``kv`` shapes disagree, or an ``mlp.fc``
            weight is not 2-D.
    """
    out, _ = _convert_mit(state_dict, prefix_in, prefix_out, keep_head)
    return out


def _strip_common_prefix(state_dict: Mapping[str, torch.Tensor],
                         prefix: str) -> Tuple[Dict[str, torch.Tensor], str]:
    if state_dict and all(k.startswith(prefix) for k in state_dict):
        return {k[len(prefix):]: v for k, v in state_dict.items()}, prefix
    return dict(state_dict), ''


def _rename(key: str, rest: str, table: Mapping[str, str], entry: str,
            out_prefix: str) -> str:
    for old, new in table.items():
        if rest.startswith(old) and re.fullmatch(entry, rest[len(old):]):
            return out_prefix + new + rest[len(old):]
    raise KeyError(f'Unknown official CMX key {key!r}.')


def cmx_official_to_mmdecur(
    state_dict: Mapping[str, torch.Tensor],
    modalities: Sequence[str] = ('rgb', 'hha'),
    expected: Optional[Mapping[str, Sequence[int]]] = None
) -> Tuple['OrderedDict', dict]:
    """Map a whole official CMX (MiT) checkpoint to mmdecur's keys.

    Targets ``backbone.*`` of :class:`CMXBackbone` and ``decode_head.*`` of
    :class:`CMXMLPHead`, the layout of an mmseg segmentor's state dict.
    A ``module.`` prefix shared by all keys is stripped first.

    Args:
        state_dict (Mapping[str, torch.Tensor]): The official model state
            dict (``ckpt['model']``).
        modalities (Sequence[str]): Our names of the RGB stream (official
            ``patch_embed/block/norm``) and the X stream (official
            ``extra_*``). Defaults to ``('rgb', 'hha')``.
        expected (Mapping[str, Sequence[int]], optional): Target key ->
            shape (e.g. from a built model's ``state_dict()``). When given,
            every converted key must be in it with that shape, and every key
            of it must be produced. Defaults to None.

    Returns:
        tuple[OrderedDict, dict]: The converted state dict and a report:
        ``pairs`` (list of (source keys, target key)), ``counts`` (target
        tensors per group), ``folded`` (source, target) of the fuse-conv
        bias, ``stripped_prefix``.

    Raises:
        KeyError: An unknown key, a key missing from ``expected``, or an
            expected key not produced.
        ValueError: A tensor whose shape is inconsistent (q/kv, Linear) or
            differs from ``expected``.
    """
    if len(modalities) != 2:
        raise ValueError(f'CMX has two streams; got modalities {modalities}.')
    state_dict, stripped = _strip_common_prefix(state_dict, 'module.')
    groups: Dict[str, Dict[str, torch.Tensor]] = {
        'rgb': {},
        'x': {},
        'rest': {}
    }
    stream = re.compile(r'^backbone\.(extra_)?((patch_embed|block|norm)\d.*)$')
    for key, value in state_dict.items():
        match = stream.match(key)
        if match:
            groups['x' if match.group(1) else 'rgb'][match.group(2)] = value
        else:
            groups['rest'][key] = value

    out = OrderedDict()
    pairs: Pairs = []
    counts = OrderedDict()
    for group, modality, official in (('rgb', modalities[0], 'backbone.'),
                                      ('x', modalities[1], 'backbone.extra_')):
        converted, group_pairs = _convert_mit(
            groups[group],
            '',
            f'backbone.encoders.{modality}.',
            keep_head=False,
            name_in=lambda k, p=official: p + k)
        out.update(converted)
        pairs += group_pairs
        counts[f'backbone.encoders.{modality}'] = len(converted)

    fused = re.compile(r'^backbone\.(FRMs|FFMs)\.(\d+)\.(.+)$')
    folded = []
    for group in ('backbone.frms', 'backbone.ffms', 'decode_head'):
        counts[group] = 0
    fuse_bias = None
    for key, value in groups['rest'].items():
        match = fused.match(key)
        if match:
            kind, index, rest = match.groups()
            table = FRM_KEY_MAP if kind == 'FRMs' else FFM_KEY_MAP
            entry = _PARAM if kind == 'FRMs' else _BN_ENTRY
            target = _rename(key, rest, table, entry,
                             f'backbone.{kind.lower()}.{index}.')
            counts[f'backbone.{kind.lower()}'] += 1
        elif key == 'decode_head.linear_fuse.0.bias':
            fuse_bias = value  # folded below
            continue
        elif key.startswith('decode_head.'):
            target = _rename(key, key[len('decode_head.'):], HEAD_KEY_MAP,
                             _BN_ENTRY, 'decode_head.')
            counts['decode_head'] += 1
        else:
            raise KeyError(f'Unknown official CMX key {key!r}.')
        out[target] = value
        pairs.append(((key, ), target))

    if fuse_bias is not None:
        mean_key = 'decode_head.fusion_conv.bn.running_mean'
        if mean_key not in out:
            raise KeyError('decode_head.linear_fuse.0.bias needs '
                           'decode_head.linear_fuse.1.running_mean to be '
                           'folded into.')
        if out[mean_key].shape != fuse_bias.shape:
            raise ValueError(
                'decode_head.linear_fuse.0.bias has shape '
                f'{tuple(fuse_bias.shape)}, but the running mean it folds '
                f'into has {tuple(out[mean_key].shape)}.')
        # BN(conv(x) + b) with mean m equals BN(conv(x)) with mean m - b.
        out[mean_key] = out[mean_key] - fuse_bias
        folded.append(('decode_head.linear_fuse.0.bias', mean_key))

    if expected is not None:
        _check_expected(out, pairs, expected)
    report = dict(
        pairs=pairs, counts=counts, folded=folded, stripped_prefix=stripped)
    return out, report


def _check_expected(out: Mapping[str, torch.Tensor], pairs: Pairs,
                    expected: Mapping[str, Sequence[int]]) -> None:
    source = {target: src for src, target in pairs}
    for key, value in out.items():
        src = ' + '.join(source.get(key, (key, )))
        if key not in expected:
            raise KeyError(f'Official key {src!r} maps to {key!r}, which the '
                           'target model does not have.')
        shape = tuple(expected[key])
        if tuple(value.shape) != shape:
            raise ValueError(f'Official key {src!r} has shape '
                             f'{tuple(value.shape)} after mapping to {key!r},'
                             f' but the target model expects {shape}.')
    missing = [k for k in expected if k not in out]
    if missing:
        raise KeyError(f'The checkpoint lacks {len(missing)} key(s) of the '
                       f'target model, e.g. {missing[:5]}.')


def infer_cmx_settings(state_dict: Mapping[str, torch.Tensor]) -> dict:
    """Read an official CMX (MiT) checkpoint's architecture off its shapes.

    Args:
        state_dict (Mapping[str, torch.Tensor]): Official model state dict.

    Returns:
        dict: ``depths`` and ``widths`` (per MiT stage), ``in_channels``
        (RGB stream, X stream), ``num_classes`` and ``channels`` (decoder
        embedding width).

    Raises:
        KeyError: A key these settings are read from is missing.
    """
    state_dict, _ = _strip_common_prefix(state_dict, 'module.')
    block = re.compile(r'^backbone\.block(\d+)\.(\d+)\.')
    depths: Dict[int, int] = {}
    for key in state_dict:
        match = block.match(key)
        if match:
            stage, index = int(match.group(1)), int(match.group(2))
            depths[stage] = max(depths.get(stage, 0), index + 1)

    def get(key):
        if key not in state_dict:
            raise KeyError(
                f'Not an official CMX (MiT) checkpoint: no {key!r}.')
        return state_dict[key]

    stages = sorted(depths)
    return dict(
        depths=[depths[i] for i in stages],
        widths=[get(f'backbone.norm{i}.weight').shape[0] for i in stages],
        in_channels=(get('backbone.patch_embed1.proj.weight').shape[1],
                     get('backbone.extra_patch_embed1.proj.weight').shape[1]),
        num_classes=get('decode_head.linear_pred.weight').shape[0],
        channels=get('decode_head.linear_fuse.0.weight').shape[0])


def format_report(report: dict) -> str:
    """One line per target tensor plus a summary, for converter tools."""
    lines = [
        f"{' + '.join(src)} -> {target}" for src, target in report['pairs']
    ]
    for src, target in report['folded']:
        lines.append(f'{src} -> folded into {target} (running_mean - bias)')
    if report['stripped_prefix']:
        lines.append(f"stripped prefix {report['stripped_prefix']!r}")
    lines.append('tensors per group: ' +
                 ', '.join(f'{group}={n}'
                           for group, n in report['counts'].items()))
    return '\n'.join(lines)

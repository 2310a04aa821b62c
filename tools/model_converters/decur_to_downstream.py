# Copyright (c) mmdecur contributors. All rights reserved.
"""Put a DeCUR pretraining checkpoint's encoders into a downstream model.

Writes a checkpoint that the downstream config (FCN, CMX, the BigEarthNet
late-fusion classifier) loads. The checkpoint may have any number of
modalities (e.g. s1/s2c/s2a or rgb/hha/depth); the downstream config names
the encoders it needs, and each gets the pretrained backbone (deformable
attention included) of

1. the modality ``--map PRETRAIN=DOWNSTREAM`` names;
2. else (classifiers) the config's ``model.pretrained_modalities``;
3. else the modality of the same name;
4. else, only for a two-modality checkpoint into a two-encoder model,
   modality 1 -> first encoder, modality 2 -> second (for CMX the RGB and
   the X stream).

Anything else is an error naming the modalities on both sides: with more
than two, a guess by position would be ambiguous. Every tensor is checked
against the model the config builds (name and shape); the written
checkpoint's ``meta`` records which pretrained modality went where
(``modality_map``: pretrained -> downstream, ``encoder_sources``: encoder
key prefix -> pretrained modality).

    python tools/model_converters/decur_to_downstream.py \
        work_dirs/rgbd_mitb2/epoch_200.pth configs/cmx/cmx_mitb2_sunrgbd.py \
        decur_cmx_mitb2.pth [--map depth=hha]
    tools/dist_train.sh configs/cmx/cmx_mitb2_sunrgbd.py 4 \
        --cfg-options load_from=decur_cmx_mitb2.pth
    # classifiers read the converted file through their init_cfg:
    #   --cfg-options model.init_cfg.checkpoint=decur_bigearthnet.pth
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse

import torch.nn as nn
from mmengine.runner import CheckpointLoader, save_checkpoint

from mmdecur.apis import init_model
from mmdecur.models.utils.transfer import (check_fit, decur_to_downstream,
                                           match_modalities,
                                           pretrained_modalities)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='DeCUR pretraining checkpoint')
    parser.add_argument('config', help='downstream config')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument(
        '--map',
        nargs='+',
        metavar='PRETRAIN=DOWNSTREAM',
        help='pretrained modality -> downstream encoder, for those that are '
        'not matched by name (e.g. depth=hha); default: same names, else by '
        'order for two into two')
    return parser.parse_args(argv)


def parse_pairs(pairs):
    """``['depth=hha', ...]`` -> ``{'depth': 'hha'}``; malformed or repeated
    pretrained modalities are errors."""
    out = {}
    for pair in pairs or ():
        src, sep, dst = pair.partition('=')
        if not sep or not src or not dst:
            raise SystemExit(f'--map {pair}: expected PRETRAIN=DOWNSTREAM')
        if src in out:
            raise SystemExit(f'--map names modality {src!r} twice '
                             f'({src}={out[src]}, {pair})')
        out[src] = dst
    return out


def downstream_encoders(model, config):
    """(key prefix of the encoders, their modalities in order)."""
    encoders = getattr(getattr(model, 'backbone', None), 'encoders', None)
    if isinstance(encoders, nn.ModuleDict):
        return 'backbone.encoders', list(encoders)
    if isinstance(getattr(model, 'backbones', None), nn.ModuleDict):
        return 'backbones', list(model.backbones)  # LateFusionClassifier
    raise SystemExit(f'{config}: the model has neither `backbone.encoders` '
                     '(FCN, CMX) nor `backbones` (classifiers)')


def config_pairs(model, source, targets, explicit):
    """The classifier's ``pretrained_modalities`` (encoder -> pretrained
    name) for the encoders that ``--map`` leaves open."""
    named = set(explicit.values())
    pairs = {}
    for dst, src in (getattr(model, 'pretrained_modalities', None)
                     or {}).items():
        if dst not in targets or dst in named or src in explicit:
            continue
        if src not in source:
            raise SystemExit(
                f'model.pretrained_modalities.{dst}={src!r}: the checkpoint '
                f'has no modality {src!r}, it has {source}; override with '
                f'--map PRETRAIN={dst}')
        pairs[src] = dst
    return pairs


def main(argv=None):
    args = parse_args(argv)
    checkpoint = CheckpointLoader.load_checkpoint(args.src, 'cpu')
    state = checkpoint.get('state_dict', checkpoint)
    source = pretrained_modalities(state)
    if not source:
        raise SystemExit(f'{args.src}: no `backbones.<modality>.*` keys, not '
                         'an mmdecur DeCUR checkpoint (official ones: '
                         'tools/model_converters/decur_official_to_mmdecur.py'
                         ' first)')
    model = init_model(args.config)
    prefix, targets = downstream_encoders(model, args.config)
    explicit = parse_pairs(args.map)
    pairs = dict(config_pairs(model, source, targets, explicit), **explicit)
    try:
        mapping = match_modalities(source, targets, pairs)
    except (KeyError, ValueError) as e:
        raise SystemExit(f'{args.src} -> {args.config}: {e.args[0]}')
    target = model.state_dict()
    # A downstream encoder that has its own pooling head keeps the one
    # pretrained with it.
    keeps_head = any(
        k.startswith(f'{prefix}.{d}.head.') for d in mapping.values()
        for k in target)
    converted, report = decur_to_downstream(
        state,
        mapping,
        prefix,
        drop_prefixes=() if keeps_head else ('head.', ))
    check_fit(converted, target, [f'{prefix}.{m}.' for m in mapping.values()])
    unused = [m for m in source if m not in mapping]
    save_checkpoint(  # atomic (mmdecur/compat.py)
        dict(
            state_dict=converted,
            meta=dict(
                source=args.src,
                config=args.config,
                source_modalities=source,
                modality_map=dict(mapping),
                encoder_sources={
                    f'{prefix}.{d}': s
                    for s, d in mapping.items()
                },
                unused_modalities=unused)), args.dst)
    print(f'{len(report["mapped"])} tensors mapped (' +
          ', '.join(f'{s} -> {prefix}.{d}' for s, d in mapping.items()) +
          f'), {len(report["dropped"])} dropped (projectors, pooling '
          'head' + (f', unused modalities {unused}' if unused else '') +
          f'); wrote {args.dst}')


if __name__ == '__main__':
    main()

# Copyright (c) mmdecur contributors. All rights reserved.
"""Convert an official CMX (MiT) checkpoint to mmdecur's CMX model keys.

Reads a checkpoint of huaaaliu/RGBX_Semantic_Segmentation (``{'model': ...}``,
``{'state_dict': ...}`` or a raw state dict), maps it with
:func:`mmdecur.models.utils.checkpoint_mapping.cmx_official_to_mmdecur` to
``backbone.*`` (:class:`CMXBackbone`) and ``decode_head.*``
(:class:`CMXMLPHead`), prints every mapping, and writes
``{'state_dict': ..., 'meta': ...}`` for ``load_from``. Unless
``--no-verify``, the architecture is read off the checkpoint (MiT variant,
input bands, classes, decoder width), the two modules are built, and every
tensor must match their keys and shapes.

    python tools/model_converters/cmx_official_to_mmdecur.py \
        NYUDV2_CMX+Segformer-B2.pth cmx_mitb2_nyu_mmdecur.pth \
        [--modalities rgb hha]
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import os
import os.path as osp

import torch
from mmengine.runner import CheckpointLoader

from mmdecur.models.backbones import CMXBackbone, MiT
from mmdecur.models.decode_heads import CMXMLPHead
from mmdecur.models.utils.checkpoint_mapping import (cmx_official_to_mmdecur,
                                                     format_report,
                                                     infer_cmx_settings)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='official CMX checkpoint')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument(
        '--modalities',
        nargs=2,
        default=['rgb', 'hha'],
        metavar=('RGB', 'X'),
        help='our names of the RGB and the X (extra_*) stream '
        '(default: rgb hha)')
    parser.add_argument(
        '--no-verify',
        action='store_true',
        help='skip building the model to check every key and shape')
    return parser.parse_args()


def find_arch(depths, widths):
    """The MiT variant with these stage depths and widths."""
    for name, arch in MiT.arch_zoo.items():
        stage_widths = [
            arch['embed_dims'] * h for h in MiT.common_settings['num_heads']
        ]
        if list(arch['num_layers']) == depths and stage_widths == widths:
            return name
    raise SystemExit(f'no MiT variant has depths {depths} and widths '
                     f'{widths}; use --no-verify to convert anyway')


def expected_shapes(state, modalities):
    """Key -> shape of the CMXBackbone + CMXMLPHead the checkpoint fits."""
    settings = infer_cmx_settings(state)
    arch = find_arch(settings['depths'], settings['widths'])
    backbone = CMXBackbone(
        arch,
        modalities=modalities,
        in_channels=dict(zip(modalities, settings['in_channels'])))
    head = CMXMLPHead(
        in_channels=backbone.out_channels,
        channels=settings['channels'],
        num_classes=settings['num_classes'])
    shapes = {}
    for prefix, module in (('backbone.', backbone), ('decode_head.', head)):
        shapes.update({
            prefix + k: tuple(v.shape)
            for k, v in module.state_dict().items()
        })
    return shapes, dict(settings, arch=arch)


def main():
    args = parse_args()
    checkpoint = CheckpointLoader.load_checkpoint(args.src, 'cpu')
    state = checkpoint
    for key in ('model', 'state_dict'):
        if isinstance(checkpoint, dict) and key in checkpoint:
            state = checkpoint[key]
            break
    expected, settings = None, None
    if not args.no_verify:
        expected, settings = expected_shapes(state, args.modalities)
    converted, report = cmx_official_to_mmdecur(
        state, modalities=args.modalities, expected=expected)
    print(format_report(report))
    meta = dict(source=osp.abspath(args.src), modalities=args.modalities)
    if settings is not None:
        meta['settings'] = settings
        print(f"verified against CMXBackbone({settings['arch']!r}) + "
              f"CMXMLPHead(channels={settings['channels']}, "
              f"num_classes={settings['num_classes']})")
    dst_dir = osp.dirname(osp.abspath(args.dst))
    os.makedirs(dst_dir, exist_ok=True)
    torch.save(dict(state_dict=converted, meta=meta), args.dst)
    print(f'{len(converted)} tensors written to {args.dst}')


if __name__ == '__main__':
    main()

# Copyright (c) mmdecur contributors. All rights reserved.
"""Put a DeCUR pretraining checkpoint's encoders into a downstream model.

Writes a checkpoint that the downstream config (FCN, CMX, classifiers...)
loads with ``load_from``: modality 1's backbone (deformable attention
included) becomes the first downstream encoder, modality 2's the second —
for CMX the RGB and the X (HHA/depth) streams. Every tensor is checked
against the model the config builds (name and shape); nothing is guessed.

    python tools/model_converters/decur_to_downstream.py \
        work_dirs/rgbd_mitb2/epoch_200.pth configs/cmx/cmx_mitb2_sunrgbd.py \
        decur_cmx_mitb2.pth [--map rgb=rgb hha=hha]
    tools/dist_train.sh configs/cmx/cmx_mitb2_sunrgbd.py 4 \
        --cfg-options load_from=decur_cmx_mitb2.pth
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse

from mmengine.runner import CheckpointLoader, save_checkpoint

from mmdecur.apis import init_model
from mmdecur.models.utils import (check_fit, decur_to_downstream,
                                  pretrained_modalities)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='DeCUR pretraining checkpoint')
    parser.add_argument('config', help='downstream config')
    parser.add_argument('dst', help='output checkpoint')
    parser.add_argument(
        '--map',
        nargs='+',
        metavar='PRETRAIN=DOWNSTREAM',
        help='modality names; default: same names, else by order')
    return parser.parse_args()


def modality_map(src_modalities, dst_modalities, pairs=None):
    if pairs:
        return dict(p.split('=', 1) for p in pairs)
    if set(dst_modalities) <= set(src_modalities):
        return {m: m for m in dst_modalities}
    if len(dst_modalities) > len(src_modalities):
        raise SystemExit(f'the downstream model has encoders '
                         f'{dst_modalities} but the checkpoint only '
                         f'{src_modalities}; use --map')
    # Modality 1 -> first downstream encoder, and so on.
    return dict(zip(src_modalities, dst_modalities))


def main():
    args = parse_args()
    checkpoint = CheckpointLoader.load_checkpoint(args.src, 'cpu')
    state = checkpoint.get('state_dict', checkpoint)
    model = init_model(args.config)
    encoders = getattr(model.backbone, 'encoders', None)
    if encoders is None:
        raise SystemExit(f'{args.config}: its backbone has no `encoders`')
    mapping = modality_map(
        pretrained_modalities(state), list(encoders), args.map)
    converted, report = decur_to_downstream(state, mapping)
    target = model.state_dict()
    check_fit(converted, target,
              [f'backbone.encoders.{m}.' for m in mapping.values()])
    save_checkpoint(  # atomic (mmdecur/compat.py)
        dict(
            state_dict=converted,
            meta=dict(source=args.src, modality_map=mapping)), args.dst)
    print(f'{len(report["mapped"])} tensors mapped (' +
          ', '.join(f'{s} -> backbone.encoders.{d}'
                    for s, d in mapping.items()) +
          f'), {len(report["dropped"])} dropped (projectors, pooling '
          f'head, other modalities); wrote {args.dst}')


if __name__ == '__main__':
    main()

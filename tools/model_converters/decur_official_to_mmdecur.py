# Copyright (c) mmdecur contributors. All rights reserved.
"""Import a checkpoint released with the official DeCUR code.

Joint files (``module.backbone_{1,2}``, ``module.projector{1,2}``,
``module.bn``, ``module.da{1,2}_l{3,4}``; raw or ``{'epoch', 'model',
'optimizer'}``) become an mmdecur DeCUR checkpoint; backbone-only exports
(ResNet-50 plain keys, RN50-RDA ``backbone.*`` + ``da1_*``/``da2_*``, MiT
SegFormer keys, ViT-S/16 timm keys) become that modality's
``backbones.<m>.*`` (which ``decur_to_downstream.py`` then transfers).
Every tensor is checked against the model the config builds: unknown or
mis-shaped keys are refused with the key named.

    python tools/model_converters/decur_official_to_mmdecur.py \
        rn50_rda_ssl4eo-s12_joint_decur_ep100.pth decur_rn50_rda.pth \
        --config configs/decur/sar_optical_rn50_rda.py [--rda-quirk]
    python tools/model_converters/decur_official_to_mmdecur.py \
        rn50_ssl4eo-s12_sar_decur_ep100.pth sar.pth \
        --config configs/decur/sar_optical_rn50.py --modality s1

``--rda-quirk``: official pretraining ran modality 2 through ``da1_*`` (its
``da2_*`` were never trained); this puts ``da1_*`` into both modalities,
reproducing the pretrained function. Without it ``da2_*`` go to modality 2,
as in the official downstream code. Official projectors are tied: pass
``--cfg-options model.share_projector=True`` to import them into one.
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse

from mmengine.config import DictAction
from mmengine.runner import CheckpointLoader, save_checkpoint

from mmdecur.apis import init_model
from mmdecur.models.utils import check_fit
from mmdecur.models.utils.official_decur import (official_backbone_to_mmdecur,
                                                 official_joint_to_mmdecur,
                                                 unwrap_official)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src')
    parser.add_argument('dst')
    parser.add_argument(
        '--config', required=True, help='the mmdecur DeCUR config to fit')
    parser.add_argument(
        '--modality',
        help='the file is a backbone-only export of this modality')
    parser.add_argument(
        '--modality-index',
        type=int,
        choices=(1, 2),
        help='which da<i>_* of a backbone-only RDA export to use')
    parser.add_argument('--rda-quirk', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    state = unwrap_official(CheckpointLoader.load_checkpoint(args.src, 'cpu'))
    model = init_model(args.config, cfg_options=args.cfg_options)
    target = model.state_dict()
    if args.modality:
        if args.modality not in model.modalities:
            raise SystemExit(f'--modality {args.modality!r}: the config has '
                             f'{model.modalities}')
        index = args.modality_index
        if index is None and any(k.startswith('da') for k in state):
            index = model.modalities.index(args.modality) + 1
        prefix = f'backbones.{args.modality}.'
        converted = official_backbone_to_mmdecur(state, index, prefix)
        # A backbone export has no pooling head (MiT) and no projector.
        covered = [
            k for k in target
            if k.startswith(prefix) and not k.startswith(prefix + 'head.')
        ]
        check_fit(converted, {k: target[k] for k in covered}, [prefix])
        what = f'the {args.modality} backbone'
    else:
        converted, report = official_joint_to_mmdecur(
            state, model.modalities, rda_quirk=args.rda_quirk)
        check_fit(converted, target, ['backbones.', 'projectors.'])
        what = (f'{len(report["mapped"])} official tensors '
                f'({len(report["dropped"])} dropped: '
                f'{sorted(set(k.split(".")[0] for k in report["dropped"]))})')
    save_checkpoint(
        dict(
            state_dict=converted,
            meta=dict(source=args.src, rda_quirk=args.rda_quirk)), args.dst)
    print(f'{what} -> {len(converted)} mmdecur tensors for '
          f'{model.modalities}; wrote {args.dst}')


if __name__ == '__main__':
    main()

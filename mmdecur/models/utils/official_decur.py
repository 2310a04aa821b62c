# Copyright (c) mmdecur contributors. All rights reserved.
"""Import the checkpoints released with the official DeCUR code.

Layouts (see the module docstring of
``tools/model_converters/decur_official_to_mmdecur.py``):

- joint files: ``module.backbone_{1,2}.*`` (torchvision ResNet without
  ``fc``, timm ViT without ``head``, or SegFormer MiT with DeCUR's ``head``),
  ``module.projector{1,2}.{0,1,3,4,6}.*``, ``module.bn.*`` and, for RDA,
  ``module.da{1,2}_l{3,4}.*``; raw state dicts or ``{'model': ...}``;
- backbone-only exports: plain ResNet / ViT keys, RN50-RDA ``backbone.*`` +
  ``da1_*`` (SAR) or ``da2_*`` (MS), MiT as plain SegFormer keys.
"""
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from torch import Tensor

from mmdecur.models.backbones.deform_attn import OFFICIAL_KEY_MAP
from .checkpoint_mapping import segformer_to_mmseg_mit

__all__ = [
    'unwrap_official', 'backbone_family', 'official_joint_to_mmdecur',
    'official_backbone_to_mmdecur'
]

_STAGE = {'l3': 'da_layer3', 'l4': 'da_layer4'}


def unwrap_official(checkpoint: Mapping) -> Dict[str, Tensor]:
    """The state dict of a raw or ``{'model'|'state_dict': ...}`` file."""
    for key in ('model', 'state_dict'):
        if key in checkpoint and isinstance(checkpoint[key], Mapping):
            return dict(checkpoint[key])
    return dict(checkpoint)


def backbone_family(keys: Sequence[str]) -> str:
    """'resnet', 'mit' or 'vit' from a backbone's (unprefixed) keys."""
    keys = set(keys)
    if 'patch_embed1.proj.weight' in keys:
        return 'mit'
    if 'patch_embed.proj.weight' in keys and 'cls_token' in keys:
        return 'vit'
    if 'conv1.weight' in keys and any(k.startswith('layer1.') for k in keys):
        return 'resnet'
    raise KeyError('cannot tell the backbone family (ResNet, MiT, ViT) from '
                   f'keys such as {sorted(keys)[:5]}')


def _deform_attn(key: str, src_prefix: str, dst_prefix: str) -> str:
    suffix = key[len(src_prefix):]
    if suffix not in OFFICIAL_KEY_MAP:
        raise KeyError(f'{key}: not a parameter of the official deformable '
                       f'attention (known: {sorted(OFFICIAL_KEY_MAP)})')
    return dst_prefix + OFFICIAL_KEY_MAP[suffix]


def _backbone(state: Mapping[str, Tensor], prefix: str,
              out_prefix: str) -> 'OrderedDict[str, Tensor]':
    sub = {
        k[len(prefix):]: v
        for k, v in state.items() if k.startswith(prefix)
    }
    if not sub:
        raise KeyError(f'no keys under {prefix!r}')
    family = backbone_family(sub)
    if family == 'mit':
        # DeCUR's MiT keeps its pooled-feature head (512 -> 2048).
        return segformer_to_mmseg_mit(
            sub, prefix_out=out_prefix, keep_head=True)
    out = OrderedDict()
    for k, v in sub.items():
        if family == 'resnet' and k.startswith('fc.'):
            continue  # torchvision's classifier (Identity in DeCUR)
        out[out_prefix + k] = v
    return out


def official_joint_to_mmdecur(
    state: Mapping[str, Tensor],
    modalities: Sequence[str],
    rda_quirk: bool = False
) -> Tuple['OrderedDict[str, Tensor]', Dict[str, List[str]]]:
    """A joint official checkpoint -> a :class:`DeCUR` state dict.

    Args:
        state (Mapping[str, Tensor]): The official state dict.
        modalities (Sequence[str]): mmdecur names of modality 1 and 2 (e.g.
            ``('s1', 's2c')``, ``('rgb', 'hha')``).
        rda_quirk (bool): The official pretraining ran modality 2 through
            ``da1_*`` (``da2_*`` were built but never trained). True puts
            ``da1_*`` into BOTH modalities' attention modules, reproducing the
            pretrained function; False maps ``da2_*`` to modality 2, as the
            official downstream code does. Defaults to False.

    Returns:
        tuple: The state dict and ``dict(mapped=..., dropped=...)``.
    """
    if len(modalities) != 2:
        raise ValueError(f'need two modality names, got {modalities}')
    state = {
        (k[len('module.'):] if k.startswith('module.') else k): v
        for k, v in state.items()
    }
    out, report = OrderedDict(), dict(mapped=[], dropped=[])
    for i, m in enumerate(modalities, 1):
        part = _backbone(state, f'backbone_{i}.', f'backbones.{m}.')
        out.update(part)
    for key, value in state.items():
        if key.startswith('backbone_'):
            report['mapped'].append(key)
        elif key.startswith('projector'):
            i = int(key[len('projector')])
            rest = key.split('.', 1)[1]
            if i not in (1, 2):
                raise KeyError(f'{key}: unknown projector')
            out[f'projectors.{modalities[i - 1]}.layers.{rest}'] = value
            report['mapped'].append(key)
        elif key.startswith('da'):
            head = key.split('.', 1)[0]  # da1_l3
            if len(head) != 6 or head[2] not in '12' or head[4:] not in _STAGE:
                raise KeyError(f'{key}: unknown deformable-attention module')
            i, stage = int(head[2]), _STAGE[head[4:]]
            if rda_quirk and i == 2:
                report['dropped'].append(key)  # never trained
                continue
            targets = [modalities[i - 1]]
            if rda_quirk and i == 1:
                targets = list(modalities)
            for m in targets:
                out[_deform_attn(key, head + '.',
                                 f'backbones.{m}.{stage}.')] = value
            report['mapped'].append(key)
        elif key.startswith('bn.'):
            report['dropped'].append(key)  # the loss BN: no state here
        else:
            raise KeyError(f'{key}: not a key of an official DeCUR joint '
                           'checkpoint')
    return out, report


def official_backbone_to_mmdecur(
        state: Mapping[str, Tensor],
        modality_index: Optional[int] = None,
        out_prefix: str = '') -> 'OrderedDict[str, Tensor]':
    """A backbone-only official export -> our backbone's state dict.

    Args:
        state (Mapping[str, Tensor]): ResNet / ViT plain keys, RN50-RDA
            ``backbone.*`` + ``da{1,2}_l{3,4}.*``, or SegFormer MiT keys.
        modality_index (int, optional): Which ``da<i>_*`` belong to this
            backbone (1 = SAR, 2 = MS); inferred if only one is present.
        out_prefix (str): Prefix of the returned keys (e.g.
            ``'backbones.s1.'`` to build a DeCUR-format state dict).

    Returns:
        OrderedDict: The converted state dict.
    """
    da_keys = [k for k in state if k.startswith('da')]
    plain = {k: v for k, v in state.items() if not k.startswith('da')}
    if plain and all(k.startswith('backbone.') for k in plain):
        plain = {k[len('backbone.'):]: v for k, v in plain.items()}
    out = _backbone(plain, '', out_prefix)
    indices = sorted({k[2] for k in da_keys})
    if modality_index is None and len(indices) > 1:
        raise ValueError(f'the file holds attention of modalities {indices};'
                         ' choose one with modality_index')
    for key in da_keys:
        head = key.split('.', 1)[0]
        if modality_index is not None and head[2] != str(modality_index):
            continue
        if head[4:] not in _STAGE:
            raise KeyError(f'{key}: unknown deformable-attention module')
        out[_deform_attn(key, head + '.',
                         f'{out_prefix}{_STAGE[head[4:]]}.')] = state[key]
    return out

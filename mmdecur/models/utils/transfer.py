# Copyright (c) mmdecur contributors. All rights reserved.
"""Move pretrained DeCUR encoders into downstream models."""
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from torch import Tensor

__all__ = ['pretrained_modalities', 'decur_to_downstream', 'check_fit']

# Parameters of a pretraining backbone that no downstream model has: the
# MiT pooling head (mean token -> Linear) only feeds the projector.
_PRETRAIN_ONLY = ('head.', )


def pretrained_modalities(state_dict: Mapping[str, Tensor]) -> List[str]:
    """Modalities of a DeCUR checkpoint, in the order they were stored."""
    seen = []
    for key in state_dict:
        if key.startswith('backbones.'):
            m = key.split('.')[1]
            if m not in seen:
                seen.append(m)
    return seen


def decur_to_downstream(
    state_dict: Mapping[str, Tensor],
    modality_map: Mapping[str, str],
    prefix: str = 'backbone.encoders'
) -> Tuple['OrderedDict[str, Tensor]', Dict[str, List[str]]]:
    """Rename a DeCUR pretraining state dict for a downstream model.

    ``backbones.<src>.<rest>`` becomes ``<prefix>.<dst>.<rest>`` for every
    ``src -> dst`` of ``modality_map`` (deformable-attention modules are part
    of ``<rest>``); projectors, the pooling head of MiT backbones and
    modalities not in the map are dropped.

    Args:
        state_dict (Mapping[str, Tensor]): A ``DeCUR`` model's state dict.
        modality_map (Mapping[str, str]): Pretraining modality -> downstream
            encoder name, e.g. ``{'rgb': 'rgb', 'depth': 'hha'}``.
        prefix (str): Where the downstream model keeps its encoders.
            Defaults to 'backbone.encoders' (:class:`MultiModalEncoder` and
            :class:`CMXBackbone`).

    Returns:
        tuple: The new state dict and a report ``dict(mapped=[...],
        dropped=[...])`` of source keys.
    """
    unknown = [
        m for m in modality_map if m not in pretrained_modalities(state_dict)
    ]
    if unknown:
        raise KeyError(
            f'the checkpoint has no backbone for modality(ies) {unknown}; it '
            f'has {pretrained_modalities(state_dict)}')
    out, report = OrderedDict(), dict(mapped=[], dropped=[])
    for key, value in state_dict.items():
        parts = key.split('.', 2)
        if (len(parts) == 3 and parts[0] == 'backbones'
                and parts[1] in modality_map
                and not parts[2].startswith(_PRETRAIN_ONLY)):
            out[f'{prefix}.{modality_map[parts[1]]}.{parts[2]}'] = value
            report['mapped'].append(key)
        else:
            report['dropped'].append(key)
    return out, report


def check_fit(converted: Mapping[str, Tensor],
              target: Mapping[str, Tensor],
              prefixes: Optional[Sequence[str]] = None) -> None:
    """Raise unless every converted tensor has a key of the same shape in the
    target model, and (for ``prefixes``) every target key is covered.

    Args:
        converted (Mapping[str, Tensor]): The converted state dict.
        target (Mapping[str, Tensor]): The downstream model's state dict.
        prefixes (Sequence[str], optional): Target key prefixes that must be
            fully covered (e.g. each encoder's).
    """
    problems = []
    for key, value in converted.items():
        if key not in target:
            problems.append(f'{key}: not in the downstream model')
        elif tuple(value.shape) != tuple(target[key].shape):
            problems.append(f'{key}: checkpoint {tuple(value.shape)} vs '
                            f'model {tuple(target[key].shape)}')
    for prefix in prefixes or ():
        missing = [
            k for k in target if k.startswith(prefix) and k not in converted
            and not k.endswith('num_batches_tracked')
        ]
        problems += [f'{k}: not in the checkpoint' for k in missing]
    if problems:
        raise ValueError(f'{len(problems)} tensor(s) do not fit the '
                         'downstream model:\n  ' + '\n  '.join(problems))

# Copyright (c) mmdecur contributors. All rights reserved.
"""Move pretrained DeCUR encoders into downstream models."""
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from torch import Tensor

__all__ = [
    'pretrained_modalities', 'match_modalities', 'decur_to_downstream',
    'check_fit'
]

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


def match_modalities(
        source: Sequence[str],
        target: Sequence[str],
        pairs: Optional[Mapping[str, str]] = None) -> 'OrderedDict[str, str]':
    """Decide which pretrained modality initialises which downstream encoder.

    1. ``pairs`` (e.g. ``--map depth=hha``) first;
    2. every other downstream encoder takes the pretrained modality of its
       own name;
    3. only when the checkpoint and the downstream model both have exactly
       two modalities, those still unmatched are paired in order (modality
       1 -> first encoder), as DeCUR's two-modality transfer always did.

    Anything else left unmatched is an error: with more modalities on
    either side a positional guess is ambiguous.

    Args:
        source (Sequence[str]): The checkpoint's modalities
            (:func:`pretrained_modalities`).
        target (Sequence[str]): The downstream model's encoders, in order.
        pairs (Mapping[str, str], optional): Explicit pretrained modality ->
            downstream encoder. Defaults to None.

    Returns:
        OrderedDict[str, str]: Pretrained modality -> downstream encoder, in
        the downstream order; checkpoint modalities not in it are unused.

    Raises:
        KeyError: ``pairs`` names a modality the checkpoint or the
            downstream model does not have.
        ValueError: ``pairs`` uses a modality twice, or a downstream encoder
            has no unambiguous source.
    """
    source, target = list(source), list(target)
    pairs = dict(pairs or {})
    have = (f'the checkpoint has modalities {source}, the downstream model '
            f'encoders {target}')
    for src, dst in pairs.items():
        if src not in source:
            raise KeyError(f'--map {src}={dst}: the checkpoint has no '
                           f'modality {src!r}; {have}')
        if dst not in target:
            raise KeyError(f'--map {src}={dst}: the downstream model has no '
                           f'encoder {dst!r}; {have}')
    twice = sorted(
        {d
         for d in pairs.values() if list(pairs.values()).count(d) > 1})
    if twice:
        raise ValueError(f'--map feeds encoder(s) {twice} from more than one '
                         f'modality: {pairs}')
    dst_to_src = {dst: src for src, dst in pairs.items()}
    used = set(pairs)
    for dst in target:
        if dst not in dst_to_src and dst in source and dst not in used:
            dst_to_src[dst] = dst
            used.add(dst)
    rest = [d for d in target if d not in dst_to_src]
    free = [s for s in source if s not in used]
    if rest and len(source) == 2 and len(target) == 2:
        dst_to_src.update(zip(rest, free))
        rest = []
    if rest:
        raise ValueError(
            f'no pretrained modality for downstream encoder(s) {rest}: '
            f'{have}' + (f' (unused: {free})' if free else '') +
            '; name the sources with --map PRETRAIN=DOWNSTREAM, e.g. '
            f'--map {(free or source)[0]}={rest[0]}')
    return OrderedDict((dst_to_src[d], d) for d in target)


def decur_to_downstream(
    state_dict: Mapping[str, Tensor],
    modality_map: Mapping[str, str],
    prefix: str = 'backbone.encoders',
    drop_prefixes: Sequence[str] = _PRETRAIN_ONLY
) -> Tuple['OrderedDict[str, Tensor]', Dict[str, List[str]]]:
    """Rename a DeCUR pretraining state dict for a downstream model.

    ``backbones.<src>.<rest>`` becomes ``<prefix>.<dst>.<rest>`` for every
    ``src -> dst`` of ``modality_map`` (deformable-attention modules are part
    of ``<rest>``); projectors, the pooling head of MiT backbones and
    modalities not in the map are dropped.

    Args:
        state_dict (Mapping[str, Tensor]): A ``DeCUR`` model's state dict,
            with any number of modalities.
        modality_map (Mapping[str, str]): Pretraining modality -> downstream
            encoder name, e.g. ``{'rgb': 'rgb', 'depth': 'hha'}``
            (:func:`match_modalities`).
        prefix (str): Where the downstream model keeps its encoders.
            Defaults to 'backbone.encoders' (:class:`MultiModalEncoder` and
            :class:`CMXBackbone`); 'backbones' for
            :class:`LateFusionClassifier`.
        drop_prefixes (Sequence[str]): Backbone parameters (after
            ``backbones.<src>.``) that stay behind. Defaults to
            ``('head.', )``, the MiT pooling head.

    Returns:
        tuple: The new state dict and a report ``dict(mapped=[...],
        dropped=[...])`` of source keys.
    """
    have = pretrained_modalities(state_dict)
    unknown = [m for m in modality_map if m not in have]
    if unknown:
        raise KeyError(f'the checkpoint has no backbone for modality(ies) '
                       f'{unknown}; it has {have}')
    targets = list(modality_map.values())
    twice = sorted({d for d in targets if targets.count(d) > 1})
    if twice:
        raise ValueError(f'encoder(s) {twice} would be written from more '
                         f'than one modality: {dict(modality_map)}')
    drop_prefixes = tuple(drop_prefixes)
    out, report = OrderedDict(), dict(mapped=[], dropped=[])
    for key, value in state_dict.items():
        parts = key.split('.', 2)
        if (len(parts) == 3 and parts[0] == 'backbones'
                and parts[1] in modality_map and
                not (drop_prefixes and parts[2].startswith(drop_prefixes))):
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

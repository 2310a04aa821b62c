# Copyright (c) mmdecur contributors. All rights reserved.
"""Which pretrained modality feeds which downstream encoder, and the renamed
state dict of an N-modality DeCUR checkpoint, tensor by tensor."""
from collections import OrderedDict

import pytest
import torch

from mmdecur.models.utils.transfer import (check_fit, decur_to_downstream,
                                           match_modalities,
                                           pretrained_modalities)


def three_modality_state(modalities=('rgb', 'hha', 'depth')):
    """A DeCUR-like state dict: a distinct backbone (with a pooling head) and
    projector per modality."""
    g = torch.Generator().manual_seed(0)
    state = OrderedDict()
    for m in modalities:
        state[f'backbones.{m}.conv1.weight'] = torch.randn(
            4, 3, 3, 3, generator=g)
        state[f'backbones.{m}.bn1.running_mean'] = torch.randn(4, generator=g)
        state[f'backbones.{m}.head.weight'] = torch.randn(2, 4, generator=g)
        state[f'projectors.{m}.layers.0.weight'] = torch.randn(
            8, 4, generator=g)
    return state


def test_pretrained_modalities_in_stored_order():
    assert pretrained_modalities(
        three_modality_state()) == ['rgb', 'hha', 'depth']


def pairs_of(text):
    """``'a=x b=y'`` -> ``{'a': 'x', 'b': 'y'}``."""
    return dict(p.split('=') for p in text.split())


@pytest.mark.parametrize(
    'source, target, pairs, want',
    [
        # Same names, picked out of three.
        ('rgb hha depth', 'rgb hha', '', 'rgb=rgb hha=hha'),
        ('rgb hha depth', 'depth rgb hha', '', 'depth=depth rgb=rgb hha=hha'),
        ('s1 s2c s2a', 's1', '', 's1=s1'),
        # --map for the unnamed one, the rest by name.
        ('rgb hha depth', 'rgb x', 'depth=x', 'rgb=rgb depth=x'),
        ('s1 s2c s2a', 's1 s2', 's2a=s2', 's1=s1 s2a=s2'),
        # --map overrides a name match.
        ('rgb hha depth', 'rgb hha', 'depth=hha', 'rgb=rgb depth=hha'),
        # Two into two: by order, as always (none or one name shared).
        ('rgb depth', 'rgb hha', '', 'rgb=rgb depth=hha'),
        ('a b', 'x y', '', 'a=x b=y'),
        ('depth rgb', 'rgb hha', '', 'rgb=rgb depth=hha'),
    ])
def test_match_modalities(source, target, pairs, want):
    got = match_modalities(source.split(), target.split(), pairs_of(pairs))
    assert dict(got) == pairs_of(want)
    assert list(got.values()) == target.split()  # in the downstream order


def test_ambiguous_matches_are_errors_naming_both_sides():
    # Three pretrained modalities, a downstream name not among them.
    with pytest.raises(ValueError) as e:
        match_modalities(['s1', 's2c', 's2a'], ['s1', 's2'])
    msg = str(e.value)
    assert "encoder(s) ['s2']" in msg
    assert "modalities ['s1', 's2c', 's2a']" in msg
    assert "encoders ['s1', 's2']" in msg
    assert "unused: ['s2c', 's2a']" in msg and '--map s2c=s2' in msg
    # Two pretrained, one downstream encoder of another name: which one?
    with pytest.raises(ValueError, match=r"encoder\(s\) \['rgb'\].*--map"):
        match_modalities(['s1', 's2'], ['rgb'])
    # Three into three with no shared name.
    with pytest.raises(ValueError, match=r"\['x', 'y', 'z'\]"):
        match_modalities(['a', 'b', 'c'], ['x', 'y', 'z'])
    # More downstream encoders than pretrained modalities.
    with pytest.raises(ValueError, match=r"encoder\(s\) \['depth'\]"):
        match_modalities(['rgb', 'hha'], ['rgb', 'hha', 'depth'])


def test_bad_maps_name_the_modality():
    src = ['rgb', 'hha', 'depth']
    with pytest.raises(KeyError, match="no modality 'dem'.*'rgb', 'hha'"):
        match_modalities(src, ['rgb', 'hha'], dict(dem='hha'))
    with pytest.raises(KeyError, match="no encoder 'x'.*encoders"):
        match_modalities(src, ['rgb', 'hha'], dict(depth='x'))
    with pytest.raises(ValueError, match=r"\['hha'\] from more than one"):
        match_modalities(src, ['rgb', 'hha'], dict(depth='hha', rgb='hha'))


def test_decur_to_downstream_picks_two_of_three_tensor_by_tensor():
    state = three_modality_state()
    out, report = decur_to_downstream(state, dict(rgb='rgb', depth='hha'))
    assert set(out) == {
        f'backbone.encoders.{d}.{k}'
        for d in ('rgb', 'hha')
        for k in ('conv1.weight', 'bn1.running_mean')
    }
    for src, dst in (('rgb', 'rgb'), ('depth', 'hha')):
        for k in ('conv1.weight', 'bn1.running_mean'):
            assert out[f'backbone.encoders.{dst}.{k}'] is \
                state[f'backbones.{src}.{k}']
    keys = ('conv1.weight', 'bn1.running_mean')
    assert sorted(report['mapped']) == sorted(
        [f'backbones.{m}.{k}' for m in ('rgb', 'depth') for k in keys])
    assert set(report['mapped']) | set(report['dropped']) == set(state)
    assert 'backbones.hha.conv1.weight' in report['dropped']

    # The classifier layout, keeping the pooling head.
    out, _ = decur_to_downstream(
        state, dict(hha='s2'), prefix='backbones', drop_prefixes=())
    assert set(out) == {
        'backbones.s2.conv1.weight', 'backbones.s2.bn1.running_mean',
        'backbones.s2.head.weight'
    }
    assert out['backbones.s2.head.weight'] is state[
        'backbones.hha.head.weight']


def test_decur_to_downstream_errors():
    state = three_modality_state()
    with pytest.raises(KeyError, match=r"\['dem'\].*'rgb', 'hha', 'depth'"):
        decur_to_downstream(state, dict(dem='hha'))
    with pytest.raises(ValueError, match=r"\['hha'\].*more than one"):
        decur_to_downstream(state, dict(rgb='hha', depth='hha'))
    out, _ = decur_to_downstream(state, dict(rgb='rgb'))
    target = {k: v.clone() for k, v in out.items()}
    target['backbone.encoders.rgb.bn1.weight'] = torch.ones(4)
    with pytest.raises(
            ValueError,
            match='encoders.rgb.bn1.weight: not in the checkpoint'):
        check_fit(out, target, ['backbone.encoders.rgb.'])

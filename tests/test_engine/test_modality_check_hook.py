# Copyright (c) mmdecur contributors. All rights reserved.
"""The run stops before training when model and data disagree."""
from types import SimpleNamespace

import pytest
import torch
from mmengine.dataset import ConcatDataset

from mmdecur.datasets import SyntheticMultiModalDataset
from mmdecur.engine import ModalityCheckHook
from mmdecur.engine.hooks.modality_check_hook import (dataset_modalities,
                                                      model_modalities)


class Logger:

    def __init__(self):
        self.warnings = []

    def warning(self, message):
        self.warnings.append(message)


def runner(model_modalities, dataset):
    model = torch.nn.Module()
    model.modalities = list(model_modalities)
    return SimpleNamespace(
        model=model,
        train_dataloader=SimpleNamespace(dataset=dataset),
        logger=Logger())


def synthetic(*modalities):
    return SyntheticMultiModalDataset(num_samples=2, modalities=modalities)


def test_a_missing_modality_stops_the_run_naming_it():
    run = runner(['rgb', 'depth', 'thermal'], synthetic('rgb', 'depth'))
    with pytest.raises(
            ValueError, match=r"\['thermal'\].*"
            'SyntheticMultiModalDataset'):
        ModalityCheckHook().before_train(run)


def test_unused_modalities_warn_or_fail_when_strict():
    run = runner(['rgb', 'depth'], synthetic('rgb', 'depth', 'thermal'))
    ModalityCheckHook().before_train(run)
    assert "['thermal']" in run.logger.warnings[0]
    with pytest.raises(ValueError, match='thermal'):
        ModalityCheckHook(strict=True).before_train(run)


def test_agreeing_or_silent_datasets_pass():
    ModalityCheckHook(strict=True).before_train(
        runner(['depth', 'rgb'], synthetic('rgb', 'depth')))
    ModalityCheckHook(strict=True).before_train(
        runner(['rgb'], SimpleNamespace(metainfo={})))  # does not say


def test_modalities_are_found_through_wrappers_and_backbones():
    both = ConcatDataset(
        [synthetic('rgb', 'depth'),
         synthetic('rgb', 'depth')])
    assert dataset_modalities(both) == ('rgb', 'depth')
    mixed = SimpleNamespace(
        datasets=[synthetic('rgb', 'depth'),
                  synthetic('rgb', 'hha')])  # no single answer
    assert dataset_modalities(mixed) is None
    segmentor = torch.nn.Module()
    segmentor.backbone = torch.nn.Module()
    segmentor.backbone.modalities = ('rgb', 'hha')
    assert model_modalities(segmentor) == ('rgb', 'hha')

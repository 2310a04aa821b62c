# Copyright (c) mmdecur contributors. All rights reserved.
from typing import Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdecur.registry import HOOKS

__all__ = ['ModalityCheckHook', 'dataset_modalities', 'model_modalities']


def dataset_modalities(dataset) -> Optional[Sequence[str]]:
    """The modalities a dataset produces, if it says (through dataset
    wrappers such as ``ConcatDataset`` or ``RepeatDataset``)."""
    while dataset is not None:
        names = getattr(dataset, 'modalities', None)
        if names is None:
            names = (getattr(dataset, 'metainfo', None)
                     or {}).get('modalities')
        if names is not None:
            return tuple(names)
        inner = getattr(dataset, 'datasets', None)
        if inner:
            found = {dataset_modalities(d) for d in inner}
            return found.pop() if len(found) == 1 else None
        dataset = getattr(dataset, 'dataset', None)
    return None


def model_modalities(model) -> Optional[Sequence[str]]:
    """The modalities a model consumes: its own ``modalities`` or its
    backbone's (segmentors, classifiers)."""
    if is_model_wrapper(model):
        model = model.module
    for owner in (model, getattr(model, 'backbone', None)):
        names = getattr(owner, 'modalities', None)
        if names is not None:
            return tuple(names)
    return None


@HOOKS.register_module()
class ModalityCheckHook(Hook):
    """Refuse to start when a model uses a modality a dataset lacks.

    Without it a missing modality surfaces at the first batch, deep in the
    data preprocessor; with it the run stops before the first iteration with
    both lists and the dataset's name. Modalities a dataset loads but the
    model does not use (e.g. RGB-only transfer on RGB-D data) are wasted
    I/O: a warning, or an error with ``strict=True``. Datasets that do not
    declare their modalities (``modalities`` attribute or
    ``metainfo['modalities']``) are not checked.

    Args:
        strict (bool): Also refuse unused dataset modalities.
            Defaults to False.
    """
    priority = 'VERY_HIGH'

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict

    def _check(self, runner, loader_name: str) -> None:
        loader = getattr(runner, loader_name, None)
        if loader is None or not hasattr(loader, 'dataset'):
            return
        wanted = model_modalities(runner.model)
        given = dataset_modalities(loader.dataset)
        if wanted is None or given is None:
            return
        missing = [m for m in wanted if m not in given]
        unused = [m for m in given if m not in wanted]
        name = type(loader.dataset).__name__
        if missing:
            raise ValueError(
                f'the model uses modality(ies) {missing} that the '
                f'{loader_name} dataset ({name}) does not produce: model '
                f'modalities {list(wanted)}, dataset modalities '
                f'{list(given)}; make the data preprocessor/model and the '
                'dataset list the same modalities')
        if unused:
            message = (f'the {loader_name} dataset ({name}) produces '
                       f'modality(ies) {unused} that the model does not use: '
                       f'model modalities {list(wanted)}, dataset modalities '
                       f'{list(given)}')
            if self.strict:
                raise ValueError(message)
            runner.logger.warning(message + '; they are loaded for nothing')

    def before_train(self, runner) -> None:
        self._check(runner, 'train_dataloader')

    def before_val(self, runner) -> None:
        self._check(runner, 'val_dataloader')

    def before_test(self, runner) -> None:
        self._check(runner, 'test_dataloader')

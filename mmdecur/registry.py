# Copyright (c) mmdecur contributors. All rights reserved.
"""mmdecur's registry nodes: children of MMEngine's roots, scope ``mmdecur``.

A config with ``default_scope='mmdecur'`` finds our modules first, then
MMEngine's. Modules of other OpenMMLab codebases are reached with an explicit
scope prefix, e.g. ``type='mmpretrain.LARS'`` or ``type='mmseg.IoUMetric'``.
The ``locations`` make the registries import their modules lazily, so building
from a config never needs a manual ``import mmdecur.models``.
"""
from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOG_PROCESSORS as MMENGINE_LOG_PROCESSORS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODEL_WRAPPERS as MMENGINE_MODEL_WRAPPERS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import OPTIMIZERS as MMENGINE_OPTIMIZERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import \
    WEIGHT_INITIALIZERS as MMENGINE_WEIGHT_INITIALIZERS
from mmengine.registry import Registry

__all__ = [
    'RUNNERS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS', 'OPTIMIZERS',
    'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS',
    'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS', 'MODEL_WRAPPERS',
    'WEIGHT_INITIALIZERS', 'METRICS', 'EVALUATORS', 'VISUALIZERS',
    'VISBACKENDS'
]


class _FallbackRegistry(Registry):
    """A registry node that, for unscoped names it does not know, also looks
    in the given codebases' nodes.

    mmseg/mmpretrain classes build their own parts with unscoped names (e.g.
    mmseg's decode heads default to ``type='CrossEntropyLoss'``). Under
    ``default_scope='mmdecur'`` those builds resolve here, so without the
    fallback a plain mmseg head could not be built in an mmdecur config.
    mmdecur's own names come first; a config may still scope explicitly
    (``'mmseg.FCNHead'``).
    """

    def __init__(self, *args, fallback_scopes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self._fallback_scopes = tuple(fallback_scopes)

    def get(self, key: str):
        obj = super().get(key)
        if obj is None and isinstance(key, str) and '.' not in key:
            root = self._get_root_registry()
            for scope in self._fallback_scopes:
                obj = root.get(f'{scope}.{key}')
                if obj is not None:
                    break
        return obj


RUNNERS = Registry(
    'runner', parent=MMENGINE_RUNNERS, locations=['mmdecur.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, locations=['mmdecur.engine'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, locations=['mmdecur.engine'])
LOG_PROCESSORS = Registry(
    'log processor',
    parent=MMENGINE_LOG_PROCESSORS,
    locations=['mmdecur.engine'])
OPTIMIZERS = Registry(
    'optimizer', parent=MMENGINE_OPTIMIZERS, locations=['mmdecur.engine'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    parent=MMENGINE_OPTIM_WRAPPERS,
    locations=['mmdecur.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMENGINE_OPTIM_WRAPPER_CONSTRUCTORS,
    locations=['mmdecur.engine'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler',
    parent=MMENGINE_PARAM_SCHEDULERS,
    locations=['mmdecur.engine'])

DATASETS = Registry(
    'dataset', parent=MMENGINE_DATASETS, locations=['mmdecur.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler',
    parent=MMENGINE_DATA_SAMPLERS,
    locations=['mmdecur.datasets'])
TRANSFORMS = Registry(
    'transform', parent=MMENGINE_TRANSFORMS, locations=['mmdecur.datasets'])

MODELS = _FallbackRegistry(
    'model',
    parent=MMENGINE_MODELS,
    locations=['mmdecur.models'],
    fallback_scopes=('mmseg', 'mmpretrain'))
MODEL_WRAPPERS = Registry(
    'model_wrapper',
    parent=MMENGINE_MODEL_WRAPPERS,
    locations=['mmdecur.engine'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer',
    parent=MMENGINE_WEIGHT_INITIALIZERS,
    locations=['mmdecur.models'])

METRICS = Registry(
    'metric', parent=MMENGINE_METRICS, locations=['mmdecur.evaluation'])
EVALUATORS = Registry(
    'evaluator', parent=MMENGINE_EVALUATOR, locations=['mmdecur.evaluation'])
VISUALIZERS = Registry(
    'visualizer',
    parent=MMENGINE_VISUALIZERS,
    locations=['mmdecur.visualization'])
VISBACKENDS = Registry(
    'vis_backend',
    parent=MMENGINE_VISBACKENDS,
    locations=['mmdecur.visualization'])

# Copyright (c) mmdecur contributors. All rights reserved.
"""Several augmented views of several modalities."""
import copy
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmcv.transforms import BaseTransform, Compose

from mmdecur.registry import TRANSFORMS
from .geometric import seg_keys

__all__ = ['MultiModalMultiView', 'build_pipeline']

TransformCfg = Union[dict, Callable[[dict], Optional[dict]]]
PipelineCfg = Sequence[TransformCfg]


def build_pipeline(transforms: Optional[PipelineCfg]) -> Compose:
    """Build a pipeline, resolving config dicts in mmdecur's registry.

    ``mmcv``'s ``Compose`` builds dicts in MMEngine's root registry, which
    only sees mmdecur's transforms under ``default_scope='mmdecur'``; building
    here works in any scope (and still reaches MMCV's transforms, and other
    codebases' through a scope prefix such as ``'mmpretrain.X'``).

    Args:
        transforms (Sequence[dict | callable], optional): Transform configs
            or objects. None or empty gives the identity.

    Returns:
        Compose: The pipeline.
    """
    built = [
        TRANSFORMS.build(t) if isinstance(t, dict) else t
        for t in (transforms or [])
    ]
    return Compose(built)


def _is_per_view(spec) -> bool:
    # A pipeline is a list of transforms; per-view pipelines are a list of
    # such lists.
    return (isinstance(spec, (list, tuple)) and len(spec) > 0
            and all(isinstance(p, (list, tuple)) for p in spec))


@TRANSFORMS.register_module()
class MultiModalMultiView(BaseTransform):
    """Make ``num_views`` augmented views of every modality.

    For each view:

    1. if ``shared`` is given, it runs once on a copy holding ALL
       modalities' images (and the labels), so its geometric ops are
       co-registered across modalities;
    2. then each modality's own pipeline runs on a copy whose ``imgs``
       holds only that modality (no labels): the same transform classes
       work in both contexts, and draws are independent per modality.

    DeCUR's pretraining is ``shared=None``: every modality draws its own
    crop and flip in every view, so cross-modal pairs are not co-registered.

    A modality may also bring one source image per view (``imgs[m]`` a list
    of ``num_views`` arrays), e.g. a different acquisition season for each
    view; view ``v`` then starts from ``imgs[m][v]``.

    Transforms must not modify arrays in place (all of mmdecur's return new
    arrays): the copies share the input arrays to avoid copying images.

    **Required Keys:** ``imgs``. **Removed Keys:** ``imgs``.

    **Added Keys:** ``views`` (dict modality -> list of ``num_views`` HWC
    arrays). Segmentation fields, when present, become lists of
    ``num_views`` label maps, each aligned with that view's ``shared``
    output.

    Args:
        transforms (dict): Modality name -> pipeline (a list of transform
            configs) used for every view, or a list of ``num_views``
            pipelines for asymmetric views. Every modality in ``imgs`` must
            have an entry (an empty list means no transform).
        num_views (int): Number of views. Defaults to 2.
        shared (list, optional): A pipeline run jointly on all modalities
            before the per-modality ones, or a list of ``num_views``
            pipelines. Defaults to None.

    Examples:
        >>> # DeCUR, SUN-RGBD: independent crops per modality and view.
        >>> crop = dict(type='RandomResizedCropND', size=224,
        ...             scale=(0.5, 1.0))
        >>> flip = dict(type='RandomFlipND')
        >>> view = dict(type='MultiModalMultiView', num_views=2,
        ...             transforms=dict(
        ...                 rgb=[crop, dict(type='ColorJitterND'), flip],
        ...                 hha=[crop, flip]))
    """

    def __init__(self,
                 transforms: Dict[str, Union[PipelineCfg,
                                             Sequence[PipelineCfg]]],
                 num_views: int = 2,
                 shared: Optional[Union[PipelineCfg,
                                        Sequence[PipelineCfg]]] = None):
        if not isinstance(num_views, int) or num_views < 1:
            raise ValueError(f'num_views must be a positive int, got '
                             f'{num_views!r}')
        if not isinstance(transforms, dict) or not transforms:
            raise TypeError('transforms must be a non-empty dict of modality '
                            f'name -> pipeline, got {type(transforms)}')
        self.num_views = num_views
        self.pipelines: Dict[str, List[Compose]] = {
            name: self._per_view(spec, f'transforms[{name!r}]')
            for name, spec in transforms.items()
        }
        self.shared: Optional[List[Compose]] = (
            None if not shared else self._per_view(shared, 'shared'))

    def _per_view(self, spec, what: str) -> List[Compose]:
        if _is_per_view(spec):
            if len(spec) != self.num_views:
                raise ValueError(
                    f'{what} lists {len(spec)} per-view pipelines but '
                    f'num_views={self.num_views}.')
            return [build_pipeline(p) for p in spec]
        pipeline = build_pipeline(spec)
        return [pipeline] * self.num_views

    @staticmethod
    def _run(pipeline: Compose, results: dict, what: str) -> dict:
        out = pipeline(results)
        if out is None:
            raise RuntimeError(f'{what} returned None; multi-view pipelines '
                               'must always produce a result.')
        return out

    def transform(self, results: dict) -> dict:
        """Make the views.

        Args:
            results (dict): Result dict with ``imgs``.

        Returns:
            dict: The results with ``views`` instead of ``imgs``.
        """
        imgs = results['imgs']
        for m, img in imgs.items():
            if isinstance(img, (list, tuple)) and len(img) != self.num_views:
                raise ValueError(
                    f'MultiModalMultiView: modality {m!r} brings {len(img)} '
                    f'per-view images but num_views={self.num_views}.')
        missing = [m for m in imgs if m not in self.pipelines]
        absent = [m for m in self.pipelines if m not in imgs]
        if missing or absent:
            raise ValueError(
                f'MultiModalMultiView: modalities in the data {list(imgs)} '
                f'and in transforms {list(self.pipelines)} differ (no '
                f'pipeline for {missing}, no data for {absent}).')
        labels = seg_keys(results)
        views: Dict[str, list] = {m: [] for m in imgs}
        label_views: Dict[str, list] = {k: [] for k in labels}
        for v in range(self.num_views):
            base = copy.copy(results)
            base['imgs'] = {
                m: img[v] if isinstance(img, (list, tuple)) else img
                for m, img in imgs.items()
            }
            if self.shared is not None:
                base = self._run(self.shared[v], base,
                                 f'shared pipeline of view {v}')
            for key in labels:
                label_views[key].append(base[key])
            for name in imgs:
                single = copy.copy(base)
                single['imgs'] = {name: base['imgs'][name]}
                for key in labels:
                    single.pop(key, None)
                single['seg_fields'] = []
                single = self._run(self.pipelines[name][v], single,
                                   f'{name!r} pipeline of view {v}')
                views[name].append(single['imgs'][name])
        results.pop('imgs')
        results['views'] = views
        results.update(label_views)
        return results

    def __repr__(self) -> str:
        repr_str = f'{self.__class__.__name__}(num_views={self.num_views}'
        if self.shared is not None:
            repr_str += f',\nshared={self.shared}'
        for name, pipelines in self.pipelines.items():
            repr_str += f',\n{name}={pipelines}'
        return repr_str + ')'

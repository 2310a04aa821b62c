# Copyright (c) mmdecur contributors. All rights reserved.
from typing import Dict, List, Mapping, Optional

from mmpretrain.structures import DataSample
from torch import Tensor

from .base import MultiModalSelfSupervisor


class BaselineSelfSupervisor(MultiModalSelfSupervisor):
    """Common ground of the baselines (Barlow Twins, SimCLR, CLIP, VICReg).

    Arguments are those of :class:`MultiModalSelfSupervisor`. On top of it:

    - the loss's ``check_modalities(modalities)`` (if it has one) runs at
      build time, else at least ``min_modalities`` modalities are required;
    - only the views the loss reads (its ``num_views``, e.g. the first view
      of each modality for the cross-modal losses) go through the encoders,
      which saves half of the compute of a two-view pipeline.
    """

    #: Fewest modalities the algorithm works with.
    min_modalities = 2

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        check = getattr(self.loss_module, 'check_modalities', None)
        if check is not None:
            check(self.modalities)
        elif len(self.modalities) < self.min_modalities:
            raise ValueError(f'{type(self).__name__} needs at least '
                             f'{self.min_modalities} modalities, got '
                             f'{self.modalities}')

    def loss(self,
             inputs: Mapping,
             data_samples: Optional[List[DataSample]] = None
             ) -> Dict[str, Tensor]:
        num_views = getattr(self.loss_module, 'num_views', None)
        views = {
            m: self.embed_views(m,
                                self._views(inputs, m)[:num_views])
            for m in self.modalities
        }
        return self.loss_module(views)

# Copyright (c) mmdecur contributors. All rights reserved.
from typing import Optional

from mmdecur.registry import MODELS
from .baseline import BaselineSelfSupervisor


@MODELS.register_module()
class BarlowTwins(BaselineSelfSupervisor):
    """Barlow Twins, cross-modal or single-modal.

    `Paper <https://arxiv.org/abs/2103.03230>`_. A separate encoder and
    projector per modality trained by :class:`BarlowTwinsLoss`:

    - with two (or more) modalities, between the modalities' first views
      (DeCUR's "Barlow Twins" baseline = DeCUR without decoupling and
      without intra-modal terms);
    - with ONE modality (``modalities=['s1']`` or a data preprocessor that
      lists one), between its two views: the original single-modal Barlow
      Twins (DeCUR's "BT-SAR", "BarlowTwins-RGB").

    Arguments are those of :class:`MultiModalSelfSupervisor`; ``loss``
    defaults to ``BarlowTwinsLoss`` with ``pairs='cross'`` for several
    modalities and ``pairs='intra'`` for one.
    """

    def __init__(self,
                 backbone: dict,
                 projector: Optional[dict] = None,
                 loss: Optional[dict] = None,
                 **kwargs) -> None:
        default = loss is None
        if default:
            # pairs is set below, once the modalities are known.
            loss = dict(type='BarlowTwinsLoss', pairs='intra')
        super().__init__(
            backbone=backbone, projector=projector, loss=loss, **kwargs)
        if default and len(self.modalities) > 1:
            self.loss_module = MODELS.build(
                dict(type='BarlowTwinsLoss', pairs='cross'))

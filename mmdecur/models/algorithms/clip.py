# Copyright (c) mmdecur contributors. All rights reserved.
from typing import Optional

from mmdecur.registry import MODELS
from .baseline import BaselineSelfSupervisor


@MODELS.register_module()
class CLIP(BaselineSelfSupervisor):
    """CLIP-style contrastive pretraining of two image modalities.

    `Paper <https://arxiv.org/abs/2103.00020>`_. A separate encoder and
    projector per modality; :class:`SymmetricInfoNCELoss` matches every
    sample of one modality to its partner among the global batch of the
    other, in both directions, with a learnable temperature (a parameter of
    ``loss_module``, so it is optimised with the model). Arguments are those
    of :class:`MultiModalSelfSupervisor`; ``loss`` defaults to
    ``SymmetricInfoNCELoss`` with CLIP's initial temperature 0.07.
    """

    def __init__(self,
                 backbone: dict,
                 projector: Optional[dict] = None,
                 loss: dict = dict(type='SymmetricInfoNCELoss'),
                 **kwargs) -> None:
        super().__init__(
            backbone=backbone, projector=projector, loss=loss, **kwargs)

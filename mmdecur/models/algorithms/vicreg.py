# Copyright (c) mmdecur contributors. All rights reserved.
from typing import Optional

from mmdecur.registry import MODELS
from .baseline import BaselineSelfSupervisor


@MODELS.register_module()
class VICReg(BaselineSelfSupervisor):
    """Cross-modal VICReg (DeCUR's "VICReg" baseline).

    `Paper <https://arxiv.org/abs/2105.04906>`_. A separate encoder and
    projector per modality; :class:`VICRegLoss` makes the first views of the
    two modalities invariant to each other while keeping each modality's
    embedding dimensions varied and decorrelated over the global batch.
    Arguments are those of :class:`MultiModalSelfSupervisor`; ``loss``
    defaults to ``VICRegLoss`` with the paper's coefficients 25 / 25 / 1.
    """

    def __init__(self,
                 backbone: dict,
                 projector: Optional[dict] = None,
                 loss: dict = dict(type='VICRegLoss'),
                 **kwargs) -> None:
        super().__init__(
            backbone=backbone, projector=projector, loss=loss, **kwargs)

# Copyright (c) mmdecur contributors. All rights reserved.
from typing import Optional

from mmdecur.registry import MODELS
from .baseline import BaselineSelfSupervisor


@MODELS.register_module()
class SimCLR(BaselineSelfSupervisor):
    """Cross-modal SimCLR (DeCUR's "SimCLR-cross" baseline).

    `Paper <https://arxiv.org/abs/2002.05709>`_. A separate encoder and
    projector per modality; :class:`NTXentLoss` contrasts the first views of
    the two modalities, with every other sample of both modalities in the
    global batch as a negative. Arguments are those of
    :class:`MultiModalSelfSupervisor`; ``loss`` defaults to ``NTXentLoss``
    with temperature 0.1.
    """

    def __init__(self,
                 backbone: dict,
                 projector: Optional[dict] = None,
                 loss: dict = dict(type='NTXentLoss', temperature=0.1),
                 **kwargs) -> None:
        super().__init__(
            backbone=backbone, projector=projector, loss=loss, **kwargs)

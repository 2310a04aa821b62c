# Copyright (c) mmdecur contributors. All rights reserved.
from typing import Optional

from mmdecur.registry import MODELS
from .base import MultiModalSelfSupervisor


@MODELS.register_module()
class DeCUR(MultiModalSelfSupervisor):
    """DeCUR: Decoupling Common and Unique Representations.

    `Paper <https://arxiv.org/abs/2309.05300>`_. A separate encoder and
    projector per modality; :class:`DeCURLoss` aligns the first ``Kc``
    embedding dimensions across modalities, decorrelates the rest, and
    keeps every dimension informative with intra-modal Barlow Twins terms.
    Arguments are those of :class:`MultiModalSelfSupervisor`; ``loss``
    defaults to ``DeCURLoss`` with 75 % common dimensions.
    """

    def __init__(self,
                 backbone: dict,
                 projector: Optional[dict] = None,
                 loss: dict = dict(type='DeCURLoss', common_ratio=0.75),
                 **kwargs) -> None:
        super().__init__(
            backbone=backbone, projector=projector, loss=loss, **kwargs)
        if len(self.modalities) < 2:
            raise ValueError('DeCUR needs at least two modalities, got '
                             f'{self.modalities}')
        out_dims = {
            m: getattr(p, 'out_channels', None)
            for m, p in self.projectors.items()
        }
        dims = {d for d in out_dims.values() if d is not None}
        if len(dims) > 1:
            raise ValueError('DeCUR needs one embedding dimension for all '
                             f'modalities, got {out_dims}')
        if dims and hasattr(self.loss_module, 'setup'):
            # Raises if Kc > K; sizes an adaptive split, so that a
            # checkpoint's split loads into a freshly built model.
            self.loss_module.setup(dims.pop())

# Copyright (c) mmdecur contributors. All rights reserved.
"""Cross-modal contrastive losses: NT-Xent (SimCLR-cross) and symmetric
InfoNCE (CLIP), with negatives from the GLOBAL batch.

Exactness under DDP (W ranks, rank r holding n_r of the N samples). The
objective is the mean of the per-anchor losses over ALL anchors,
``L = sum_i l_i / M`` (M = 2N anchors for both losses here). Every l_i
depends on all N samples (its negatives), so each rank gathers the
candidates with :func:`gather_batch` and evaluates only its OWN anchors::

    L_r = (W / M) * sum_{i on rank r} l_i

1. Value: ``sum_r L_r / W = L``, so the loss averaged over ranks (what
   a single process would log) is exact, also for unequal n_r. With equal
   n_r, L_r is simply the mean over the local anchors.
2. Gradients: l_i reaches another rank's embeddings only through the
   gathered tensor, whose backward all-reduces (sums) the gradient over
   ranks. So rank r's local embeddings receive ``sum_s dL_s/dz_r`` = the
   gradient of ``sum_s L_s = W * L``. DDP then averages the parameter
   gradients over the W ranks: ``(1/W) * d(W * L)/dtheta = dL/dtheta``,
   exactly one process on the concatenated batch.
3. Parameters of the loss itself (CLIP's logit scale) are not gathered:
   rank r's gradient is ``dL_r/ds`` and DDP's average gives
   ``(1/W) sum_r dL_r/ds = dL/ds``.

Had each rank instead used the plain mean over its anchors without the
W * n_r / N factor, the result would still be exact for equal n_r (the
factor is 1 then) but biased toward the smaller shards otherwise.
"""
import math
from itertools import combinations
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmdecur.models.utils.distributed import get_world_size
from mmdecur.registry import MODELS
from .views import gather_views, get_view

__all__ = ['NTXentLoss', 'SymmetricInfoNCELoss']


def _modality_pairs(views: Mapping[str, Sequence[Tensor]],
                    loss: str) -> List[Tuple[str, str, str]]:
    """(key suffix, m1, m2) for every pair of modalities."""
    names = list(views)
    if len(names) < 2:
        raise ValueError(f'{loss} is cross-modal and needs at least two '
                         f'modalities, got {names}')
    pairs = list(combinations(names, 2))
    return [('' if len(pairs) == 1 else f'_{a}_{b}', a, b) for a, b in pairs]


def _normalized_first_views(views, names):
    """L2-normalised global first views and this rank's row indices."""
    local = [get_view(views, m, 0) for m in names]
    gathered, offset = gather_views(local, with_offset=True)
    own = offset + torch.arange(local[0].shape[0], device=offset.device)
    return [F.normalize(z, dim=1) for z in gathered], own


@MODELS.register_module()
class NTXentLoss(BaseModule):
    """NT-Xent (SimCLR) between the first views of two modalities.

    `Paper <https://arxiv.org/abs/2002.05709>`_ (Eq. 1), with the two
    "augmentations" being the two modalities (DeCUR's "SimCLR-cross"). For
    the 2N L2-normalised embeddings ``a_1..a_2N`` (both modalities, global
    batch), anchor k with positive p(k) (the same sample in the other
    modality) costs::

        l_k = -log( exp(s_k,p(k) / t) / sum_{j != k} exp(s_kj / t) )

    with s the cosine similarity: 1 positive and 2N - 2 negatives (every
    other sample of both modalities). ``L = sum_k l_k / 2N``; see the module
    docstring for how it is split over ranks.

    Args:
        temperature (float): t. Defaults to 0.1.
        init_cfg (dict, optional): Unused; for BaseModule.
    """

    #: Views per modality that :meth:`forward` reads.
    num_views = 1

    def __init__(self,
                 temperature: float = 0.1,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if temperature <= 0:
            raise ValueError(f'temperature must be > 0, got {temperature}')
        self.temperature = temperature

    def forward(self, views: Mapping[str,
                                     Sequence[Tensor]]) -> Dict[str, Tensor]:
        """Compute the loss.

        Args:
            views (Mapping[str, Sequence[Tensor]]): Per modality its views'
                embeddings, each (N_local, K) on this rank; only the first
                view is used.

        Returns:
            dict[str, Tensor]: ``loss_ntxent`` (``loss_ntxent_<m1>_<m2>``
            with more than two modalities) and ``pos_sim`` (mean cosine
            similarity of this rank's positive pairs).
        """
        pairs = _modality_pairs(views, type(self).__name__)
        names = list(views)
        device = get_view(views, names[0], 0).device
        losses = {}
        # Losses are computed in fp32 (fp64 if given) even under autocast.
        with torch.autocast(device.type, enabled=False):
            z, own = _normalized_first_views(views, names)
            z = dict(zip(names, z))
            for suffix, m1, m2 in pairs:
                loss, pos_sim = self._pair(z[m1], z[m2], own)
                losses['loss_ntxent' + suffix] = loss
                losses['pos_sim' + suffix] = pos_sim
        return losses

    def _pair(self, u: Tensor, v: Tensor, own: Tensor) -> Tuple[Tensor, ...]:
        num = u.shape[0]
        candidates = torch.cat([u, v])  # a_1..a_2N: modality 1, modality 2
        # This rank's anchors: its samples in both modalities.
        anchor_idx = torch.cat([own, own + num])
        positive_idx = torch.cat([own + num, own])
        logits = candidates[anchor_idx] @ candidates.T / self.temperature
        # j != k: an anchor is not its own candidate.
        is_self = anchor_idx[:, None] == torch.arange(
            2 * num, device=own.device)
        logits = logits.masked_fill(is_self, float('-inf'))
        ce = F.cross_entropy(logits, positive_idx, reduction='sum')
        # W / M * sum over local anchors (M = 2N): exact after DDP's average.
        loss = ce * get_world_size() / (2 * num)
        pos_sim = (u[own] * v[own]).sum(1).mean().detach()
        return loss, pos_sim


@MODELS.register_module()
class SymmetricInfoNCELoss(BaseModule):
    """CLIP's symmetric InfoNCE between the first views of two modalities.

    `Paper <https://arxiv.org/abs/2103.00020>`_ (Fig. 3). With U, V (N x K)
    the L2-normalised embeddings of the two modalities (global batch) and a
    learnable logit scale ``s = exp(tau)``::

        logits = s * U V^T                                     (N x N)
        L = ( CE(logits, diag) + CE(logits^T, diag) ) / 2

    i.e. every sample of modality 1 picks its partner among the N samples of
    modality 2 (rows) and vice versa (columns); CE is the mean over the N
    rows. ``tau`` starts at ``log(1 / init_temperature)`` and, as in CLIP,
    the scale is capped at ``max_logit_scale`` (applied in the forward:
    beyond the cap the scale gets no gradient, which has the effect of
    CLIP's clamp after each step without touching the optimiser). See the
    module docstring for how the loss is split over ranks.

    Args:
        init_temperature (float): Initial 1 / s. Defaults to 0.07.
        learnable (bool): Learn the log-scale (a parameter) or keep it fixed
            (a buffer). Defaults to True.
        max_logit_scale (float): Cap on s. Defaults to 100.
        init_cfg (dict, optional): Unused; for BaseModule.
    """

    #: Views per modality that :meth:`forward` reads.
    num_views = 1

    def __init__(self,
                 init_temperature: float = 0.07,
                 learnable: bool = True,
                 max_logit_scale: float = 100.,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if init_temperature <= 0 or max_logit_scale <= 0:
            raise ValueError('init_temperature and max_logit_scale must be '
                             f'> 0, got {init_temperature} and '
                             f'{max_logit_scale}')
        log_scale = torch.tensor(math.log(1. / init_temperature))
        if learnable:
            self.logit_scale = nn.Parameter(log_scale)
        else:
            self.register_buffer('logit_scale', log_scale)
        self.learnable = learnable
        self.max_logit_scale = max_logit_scale

    def scale(self) -> Tensor:
        """The capped scale ``min(exp(tau), max_logit_scale)``."""
        return self.logit_scale.clamp(max=math.log(self.max_logit_scale)).exp()

    def forward(self, views: Mapping[str,
                                     Sequence[Tensor]]) -> Dict[str, Tensor]:
        """Compute the loss.

        Args:
            views (Mapping[str, Sequence[Tensor]]): Per modality its views'
                embeddings, each (N_local, K) on this rank; only the first
                view is used.

        Returns:
            dict[str, Tensor]: ``loss_clip`` (``loss_clip_<m1>_<m2>`` with
            more than two modalities) and ``logit_scale`` (the scale s).
        """
        pairs = _modality_pairs(views, type(self).__name__)
        names = list(views)
        device = get_view(views, names[0], 0).device
        losses = {}
        # Losses are computed in fp32 (fp64 if given) even under autocast.
        with torch.autocast(device.type, enabled=False):
            z, own = _normalized_first_views(views, names)
            z = dict(zip(names, z))
            scale = self.scale().to(z[names[0]].dtype)
            for suffix, m1, m2 in pairs:
                u, v = z[m1], z[m2]
                # Rows: our modality-1 samples against all modality-2 ones;
                # columns of the global matrix: the converse.
                rows = scale * u[own] @ v.T
                cols = scale * v[own] @ u.T
                ce = (
                    F.cross_entropy(rows, own, reduction='sum') +
                    F.cross_entropy(cols, own, reduction='sum'))
                # W / M * sum over local anchors (M = 2N): exact after DDP.
                num_anchors = 2 * u.shape[0]
                loss = ce * get_world_size() / num_anchors
                losses['loss_clip' + suffix] = loss
            losses['logit_scale'] = scale.detach()
        return losses

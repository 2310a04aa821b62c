# Copyright (c) mmdecur contributors. All rights reserved.
from itertools import combinations
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmdecur.registry import MODELS
from .correlation import CrossCorrelation, Embedding, bt_terms
from .views import gather_views, get_view

# (key, (modality A, view index), (modality B, view index))
Pair = Tuple[str, Tuple[str, int], Tuple[str, int]]


@MODELS.register_module()
class BarlowTwinsLoss(BaseModule):
    """Barlow Twins, cross-modal or single-modal.

    `Paper <https://arxiv.org/abs/2103.03230>`_. With A, B (N x K)
    standardised over the global batch and ``C = A^T B / N`` (Eq. 1 of
    DeCUR, computed by :mod:`.correlation`)::

        L_BT = sum_i (1 - C_ii)^2 + lambda * sum_i sum_{j!=i} C_ij^2

    - ``pairs='cross'`` (DeCUR's "Barlow Twins" row): A, B are the first
      views of two modalities; with more than two modalities every pair
      gets a term (keys suffixed ``_<m1>_<m2>``). This is DeCUR without
      decoupling and without intra-modal terms (``DeCURLoss(decouple=False,
      intra=False)``).
    - ``pairs='intra'``: A, B are the two views of each modality (the
      original single-modal Barlow Twins, "BT-SAR" / "BarlowTwins-RGB");
      ``'intra:<m>'`` restricts it to modality ``m``.

    Args:
        lambd (float): Off-diagonal weight lambda. Defaults to 0.0051.
        pairs (str): ``'cross'``, ``'intra'`` or ``'intra:<modality>'``.
            Defaults to 'cross'.
        eps (float): BatchNorm epsilon of the standardisation.
            Defaults to 1e-5.
        init_cfg (dict, optional): Unused; for BaseModule.
    """

    def __init__(self,
                 lambd: float = 0.0051,
                 pairs: str = 'cross',
                 eps: float = 1e-5,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        kind, _, modality = pairs.partition(':')
        if kind not in ('cross', 'intra') or (kind == 'cross' and modality):
            raise ValueError("pairs must be 'cross', 'intra' or "
                             f"'intra:<modality>', got {pairs!r}")
        self.lambd = lambd
        self.pairs = pairs
        self.kind = kind
        self.modality = modality or None
        self.eps = eps

    @property
    def num_views(self) -> int:
        """Views per modality that :meth:`forward` reads."""
        return 1 if self.kind == 'cross' else 2

    def check_modalities(self, modalities: Sequence[str]) -> None:
        """Fail early if ``pairs`` cannot be formed from ``modalities``."""
        if self.kind == 'cross' and len(modalities) < 2:
            raise ValueError(
                "cross-modal Barlow Twins (pairs='cross') needs at least two "
                f"modalities, got {list(modalities)}; use pairs='intra' for "
                'single-modal Barlow Twins')
        if self.modality is not None and self.modality not in modalities:
            raise ValueError(f'pairs={self.pairs!r} names a modality that is '
                             f'not among {list(modalities)}')

    def _pairs(self, names: List[str]) -> List[Pair]:
        self.check_modalities(names)
        if self.kind == 'cross':
            pairs = list(combinations(names, 2))
            return [('cross' if len(pairs) == 1 else f'cross_{a}_{b}', (a, 0),
                     (b, 0)) for a, b in pairs]
        intra = [self.modality] if self.modality else names
        return [(f'intra_{m}', (m, 0), (m, 1)) for m in intra]

    def forward(self, views: Mapping[str,
                                     Sequence[Tensor]]) -> Dict[str, Tensor]:
        """Compute the loss.

        Args:
            views (Mapping[str, Sequence[Tensor]]): Per modality its views'
                embeddings, each (N_local, K) on this rank.

        Returns:
            dict[str, Tensor]: ``loss_<key>`` per pair (``loss_cross`` or
            ``loss_intra_<m>``) and diagnostics ``<key>_on_diag`` /
            ``<key>_off_diag``.
        """
        pairs = self._pairs(list(views))
        # Each distinct view once, gathered in a single collective.
        needed = list(dict.fromkeys(v for _, a, b in pairs for v in (a, b)))
        local = [get_view(views, m, i) for m, i in needed]
        # Losses are computed in fp32 (fp64 if given) even under autocast.
        with torch.autocast(local[0].device.type, enabled=False):
            gathered, _ = gather_views(local)
            z = {
                key: Embedding(g, eps=self.eps, gather=False)
                for key, g in zip(needed, gathered)
            }
            losses = {}
            for key, a, b in pairs:
                on_diag, off_diag = bt_terms(CrossCorrelation(z[a], z[b]), 1.)
                losses[f'loss_{key}'] = on_diag + self.lambd * off_diag
                losses[f'{key}_on_diag'] = on_diag.detach()
                losses[f'{key}_off_diag'] = off_diag.detach()
        return losses

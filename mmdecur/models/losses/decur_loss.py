# Copyright (c) mmdecur contributors. All rights reserved.
from itertools import combinations
from typing import Dict, Mapping, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmdecur.models.utils.distributed import gather_batch
from mmdecur.registry import MODELS
from .correlation import CrossCorrelation, Embedding, bt_terms

TERMS = ('com', 'uni', 'intra')

# The official code returns (L_M1 + L_M2 + (L_com + L_uni) / 2) / 3.
OFFICIAL_WEIGHTS = dict(com=1 / 6, uni=1 / 6, intra=1 / 3)


@MODELS.register_module()
class DeCURLoss(BaseModule):
    """DeCUR loss: decoupled cross-modal + intra-modal redundancy reduction.

    With embeddings Z (N x K) standardised over the global batch, C is their
    cross-correlation (Eq. 1) and the first ``Kc`` dimensions are common::

        L_com = sum_i (1 - Cc_ii)^2 + l_c * sum_i sum_{j!=i} Cc_ij^2    (2)
        L_uni = sum_i Cu_ii^2       + l_u * sum_i sum_{j!=i} Cu_ij^2    (3)
        L_M1  = sum_i (1 - C1_ii)^2 + l_1 * sum_i sum_{j!=i} C1_ij^2    (4)
        L_M2  = sum_i (1 - C2_ii)^2 + l_2 * sum_i sum_{j!=i} C2_ij^2    (5)
        L     = L_com + L_uni + L_M1 + L_M2                             (6)

    Cc = C[:Kc, :Kc] and Cu = C[Kc:, Kc:] of the cross-modal matrix between
    the modalities' first views; C1, C2 are the intra-modal matrices between
    the two views of one modality. The blocks C[:Kc, Kc:] and C[Kc:, :Kc]
    are not penalised (as in the paper and the official code).

    Each term is returned separately, pre-multiplied by its weight, under a
    key containing ``loss`` (MMEngine sums those); the on/off-diagonal parts
    are returned under keys without ``loss`` so they are logged, not summed.
    With more than two modalities every pair gets cross terms (keys suffixed
    ``_<m1>_<m2>``) and every modality an intra term.

    Args:
        dim_common (int, optional): Kc, the number of common dimensions
            (the first Kc). Give this or ``common_ratio``.
        common_ratio (float, optional): Kc as a fraction of K (e.g. 0.75).
        lambd (float | dict): Off-diagonal weight lambda, one value or one
            per term (``com``, ``uni``, ``intra``). Defaults to 0.0051.
        loss_weights (dict | str): Weight of each term (``com``, ``uni``,
            ``intra``); ``'paper'`` = all 1 (Eq. 6), ``'official'`` =
            the official code's (L_M1 + L_M2 + (L_com + L_uni) / 2) / 3.
            Defaults to 'paper'.
        intra (bool): Add the intra-modal terms (Eq. 4-5). Defaults to True.
        decouple (bool): Split dimensions into common and unique. False
            treats all K dimensions as common (no L_uni). Defaults to True.
        cross_views (str): ``'first'`` correlates the first views of the
            modalities (official); ``'both'`` averages over the view pairs
            (1st, 1st) and (2nd, 2nd). Defaults to 'first'.
        eps (float): BatchNorm epsilon. Defaults to 1e-5.
        init_cfg (dict, optional): Unused; for BaseModule.
    """

    def __init__(self,
                 dim_common: Optional[int] = None,
                 common_ratio: Optional[float] = None,
                 lambd: Union[float, Dict[str, float]] = 0.0051,
                 loss_weights: Union[str, Dict[str, float]] = 'paper',
                 intra: bool = True,
                 decouple: bool = True,
                 cross_views: str = 'first',
                 eps: float = 1e-5,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if decouple and (dim_common is None) == (common_ratio is None):
            raise ValueError('DeCURLoss needs exactly one of dim_common or '
                             'common_ratio (or decouple=False)')
        if dim_common is not None and dim_common < 0:
            raise ValueError(f'dim_common must be >= 0, got {dim_common}')
        if common_ratio is not None and not 0 <= common_ratio <= 1:
            raise ValueError(
                f'common_ratio must be in [0, 1], got {common_ratio}')
        if cross_views not in ('first', 'both'):
            raise ValueError(
                f"cross_views must be 'first' or 'both', got {cross_views!r}")
        self.dim_common = dim_common
        self.common_ratio = common_ratio
        self.lambd = self._per_term(lambd, 'lambd')
        if isinstance(loss_weights, str):
            presets = dict(
                paper=dict(com=1., uni=1., intra=1.),
                official=OFFICIAL_WEIGHTS)
            if loss_weights not in presets:
                raise ValueError(f'unknown loss_weights preset '
                                 f'{loss_weights!r}; use {list(presets)}')
            loss_weights = presets[loss_weights]
        self.loss_weights = self._per_term(loss_weights, 'loss_weights', 1.)
        self.intra = intra
        self.decouple = decouple
        self.cross_views = cross_views
        self.eps = eps

    @staticmethod
    def _per_term(value, name, default=None) -> Dict[str, float]:
        if not isinstance(value, Mapping):
            return {term: float(value) for term in TERMS}
        unknown = set(value) - set(TERMS)
        if unknown:
            raise KeyError(f'{name} has unknown terms {sorted(unknown)}; '
                           f'known: {list(TERMS)}')
        if default is None and set(value) != set(TERMS):
            raise KeyError(f'{name} must give every term {list(TERMS)}')
        return {t: float(value.get(t, default)) for t in TERMS}

    def num_common(self, dim: int) -> int:
        """Kc for an embedding of dimension K (= K without decoupling)."""
        if not self.decouple:
            return dim
        kc = (
            self.dim_common
            if self.dim_common is not None else round(self.common_ratio * dim))
        if kc > dim:
            raise ValueError(f'dim_common={kc} exceeds the embedding '
                             f'dimension K={dim}')
        return kc

    def forward(self, views: Mapping[str,
                                     Sequence[Tensor]]) -> Dict[str, Tensor]:
        """Compute the loss terms.

        Args:
            views (Mapping[str, Sequence[Tensor]]): Per modality (in order:
                modality 1, modality 2, ...) its views' embeddings, each of
                shape (N_local, K) on this rank. Two views are needed for
                the intra-modal terms.

        Returns:
            dict[str, Tensor]: ``loss_com``, ``loss_uni``, ``loss_intra_<m>``
            (weighted) and diagnostics ``<term>_on_diag``/``_off_diag``.
        """
        names = list(views)
        dim = views[names[0]][0].shape[1]
        kc = self.num_common(dim)
        common, unique = slice(0, kc), slice(kc, dim)
        # Losses are computed in fp32 (fp64 if given) even under autocast.
        with torch.autocast(views[names[0]][0].device.type, enabled=False):
            z = self._embeddings(views, kc)
            parts = {}
            pairs = list(combinations(names, 2))
            for m1, m2 in pairs:
                suffix = '' if len(pairs) == 1 else f'_{m1}_{m2}'
                view_pairs = [(0,
                               0)] if self.cross_views == 'first' else [(0, 0),
                                                                        (1, 1)]
                cross = [
                    CrossCorrelation(z[m1][i], z[m2][j]) for i, j in view_pairs
                ]
                # Eq. 2: common dimensions aligned across modalities.
                parts['com' + suffix] = self._mean_terms(
                    [c.block(common) for c in cross], 1., 'com')
                # Eq. 3: unique dimensions decorrelated across modalities.
                parts['uni' + suffix] = self._mean_terms(
                    [c.block(unique) for c in cross], 0., 'uni')
            if self.intra:
                for m in names:
                    if len(z[m]) < 2:
                        raise ValueError(
                            f'intra-modal terms need 2 views of {m!r}, got '
                            f'{len(z[m])}')
                    # Eq. 4-5: both views of one modality, all dimensions.
                    parts[f'intra_{m}'] = self._mean_terms(
                        [CrossCorrelation(z[m][0], z[m][1])], 1., 'intra')

        losses = {}
        for name, (on_diag, off_diag, loss, weight) in parts.items():
            if loss is None:  # empty block, e.g. no unique dims
                continue
            losses[f'loss_{name}'] = weight * loss
            losses[f'{name}_on_diag'] = on_diag.detach()
            losses[f'{name}_off_diag'] = off_diag.detach()
        return losses

    def _embeddings(self, views, kc):
        """Standardised embeddings of every view, gathered in one go."""
        flat = [v for m in views for v in views[m]]
        dtype = torch.promote_types(flat[0].dtype, torch.float32)
        # One all-gather for all views instead of one per view.
        gathered = gather_batch(torch.cat([v.to(dtype) for v in flat], 1))
        chunks = iter(gathered.split([v.shape[1] for v in flat], dim=1))
        return {
            m: [
                Embedding(
                    next(chunks),
                    boundaries=(kc, ),
                    eps=self.eps,
                    gather=False) for _ in views[m]
            ]
            for m in views
        }

    def _mean_terms(self, blocks, target, term):
        """(on, off, on + lambda * off, weight) averaged over view pairs."""
        on_off = [bt_terms(block, target) for block in blocks]
        if on_off[0][0] is None:
            return None, None, None, None
        on_diag = sum(on for on, _ in on_off) / len(on_off)
        off_diag = sum(off for _, off in on_off) / len(on_off)
        loss = on_diag + self.lambd[term] * off_diag
        return on_diag, off_diag, loss, self.loss_weights[term]

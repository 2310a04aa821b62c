# Copyright (c) mmdecur contributors. All rights reserved.
from itertools import combinations
from typing import Dict, Mapping, Optional, Sequence, Union

import torch
from mmengine.model import BaseModule
from torch import Tensor

from mmdecur.models.utils.distributed import gather_batch
from mmdecur.registry import MODELS
from .common_split import AdaptiveCommonSplit
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

    **M modalities.** Every modality keeps its intra term (Eq. 4-5) over all
    dimensions. ``cross_modal='pairwise'`` (default) applies Eq. 2-3 to every
    pair ``(m, n)`` (keys suffixed ``_<m>_<n>`` when M > 2): M(M-1)/2 cross
    terms. ``cross_modal='shared'`` makes the common block one
    representation shared by all M and keeps each modality's unique block
    apart from everything of every other modality::

        L_com^m  = BT(C(Z_m[:, :Kc], Zbar), target I)        one per modality
        L_uni^mn = sum_{i in u} C_ii^2 + l_u * (all other entries of C^mn
                   in a unique row or a unique column)      one per pair

    where ``Zbar`` is the standardised mean of the M standardised common
    blocks (the consensus) and C^mn the full cross-correlation of m and n:
    unlike Eq. 3, a unique dimension of m must also be uncorrelated with the
    common dimensions of n.

    **Adaptive split.** With ``adaptive_split`` (off by default) the common
    dimensions are a mask that :class:`AdaptiveCommonSplit` revises at epoch
    ends (see its docstring); ``dim_common``/``common_ratio`` give the start.
    The loss permutes the embedding columns so that the masked dimensions
    come first; every term is then the same block computation as above.

    Each term is returned separately, pre-multiplied by its weight, under a
    key containing ``loss`` (MMEngine sums those); the on/off-diagonal parts
    are returned under keys without ``loss`` so they are logged, not summed.

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
        cross_modal (str): ``'pairwise'`` or ``'shared'`` (see above).
            Defaults to 'pairwise'.
        adaptive_split (dict, optional): Arguments of
            :class:`AdaptiveCommonSplit`; the ``CommonSplitHook`` of the
            default runtime makes its decisions. Defaults to None (fixed).
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
                 cross_modal: str = 'pairwise',
                 adaptive_split: Optional[dict] = None,
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
        if cross_modal not in ('pairwise', 'shared'):
            raise ValueError("cross_modal must be 'pairwise' or 'shared', "
                             f'got {cross_modal!r}')
        if adaptive_split is not None and not decouple:
            raise ValueError('adaptive_split needs decouple=True')
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
        self.cross_modal = cross_modal
        self.split = (
            AdaptiveCommonSplit(
                **adaptive_split) if adaptive_split is not None else None)
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

    def _fixed_num_common(self, dim: int) -> int:
        if not self.decouple:
            return dim
        kc = (
            self.dim_common
            if self.dim_common is not None else round(self.common_ratio * dim))
        if kc > dim:
            raise ValueError(f'dim_common={kc} exceeds the embedding '
                             f'dimension K={dim}')
        return kc

    def setup(self, dim: int) -> None:
        """Check Kc against K; size the adaptive split (start: fixed Kc)."""
        kc = self._fixed_num_common(dim)
        if self.split is not None and self.split.dim != dim:
            self.split.reset(dim, kc)

    def num_common(self, dim: int) -> int:
        """Kc for an embedding of dimension K (= K without decoupling)."""
        if self.split is not None:
            self.setup(dim)
            return self.split.num_common
        return self._fixed_num_common(dim)

    def dim_order(self, dim: int, device: torch.device) -> Optional[Tensor]:
        """Indices that put the common dimensions first (None: they are).

        Analysis code applies it to embeddings so that the first
        ``num_common(K)`` columns are the common ones.
        """
        if self.split is None:
            return None
        self.setup(dim)
        return self.split.order(device)

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
        first = views[names[0]][0]
        dim = first.shape[1]
        kc = self.num_common(dim)
        common, unique = slice(0, kc), slice(kc, dim)
        view_ids = [0] if self.cross_views == 'first' else [0, 1]
        # Losses are computed in fp32 (fp64 if given) even under autocast.
        with torch.autocast(first.device.type, enabled=False):
            z = self._embeddings(views, kc, self.dim_order(dim, first.device))
            if self.cross_modal == 'pairwise':
                parts = self._pairwise_terms(z, view_ids, common, unique)
            else:
                parts = self._shared_terms(z, view_ids, common, unique)
            if self.intra:
                for m in names:
                    self._check_two_views(z, m, 'intra-modal terms')
                    # Eq. 4-5: both views of one modality, all dimensions.
                    parts[f'intra_{m}'] = self._mean_terms(
                        [bt_terms(CrossCorrelation(z[m][0], z[m][1]), 1.)],
                        'intra')
            if self.split is not None and self.training:
                self._accumulate_split_statistics(z)

        losses = {}
        for name, (on_diag, off_diag, loss, weight) in parts.items():
            if loss is None:  # empty block, e.g. no unique dims
                continue
            losses[f'loss_{name}'] = weight * loss
            losses[f'{name}_on_diag'] = on_diag.detach()
            losses[f'{name}_off_diag'] = off_diag.detach()
        return losses

    def _pairwise_terms(self, z, view_ids, common, unique):
        pairs = list(combinations(z, 2))
        parts = {}
        for m1, m2 in pairs:
            suffix = '' if len(pairs) == 1 else f'_{m1}_{m2}'
            cross = [CrossCorrelation(z[m1][i], z[m2][i]) for i in view_ids]
            # Eq. 2: common dimensions aligned across modalities.
            parts['com' + suffix] = self._mean_terms(
                [bt_terms(c.block(common), 1.) for c in cross], 'com')
            # Eq. 3: unique dimensions decorrelated across modalities.
            parts['uni' + suffix] = self._mean_terms(
                [bt_terms(c.block(unique), 0.) for c in cross], 'uni')
        return parts

    def _shared_terms(self, z, view_ids, common, unique):
        names = list(z)
        parts = {}
        consensus = [
            Embedding(
                torch.stack([z[m][i].z[:, common] for m in names]).mean(0),
                eps=self.eps,
                gather=False) for i in view_ids
        ]
        for m in names:
            # One common block for all: each modality against the consensus.
            parts[f'com_{m}'] = self._mean_terms([
                bt_terms(
                    CrossCorrelation(z[m][i], c, common, slice(None)), 1.)
                for i, c in zip(view_ids, consensus)
            ], 'com')
        pairs = list(combinations(names, 2))
        for m1, m2 in pairs:
            suffix = '' if len(pairs) == 1 else f'_{m1}_{m2}'
            terms = []
            for i in view_ids:
                c = CrossCorrelation(z[m1][i], z[m2][i])
                on_diag, off_diag = bt_terms(c.block(unique), 0.)
                if on_diag is not None:
                    # A unique dimension of either modality is kept apart
                    # from the common dimensions of the other one too.
                    off_diag = off_diag + c.block(
                        unique, common).squared_norm() + c.block(
                            common, unique).squared_norm()
                terms.append((on_diag, off_diag))
            parts['uni' + suffix] = self._mean_terms(terms, 'uni')
        return parts

    @staticmethod
    def _check_two_views(z, modality, what):
        if len(z[modality]) < 2:
            raise ValueError(f'{what} need 2 views of {modality!r}, got '
                             f'{len(z[modality])}')

    @torch.no_grad()
    def _accumulate_split_statistics(self, z):
        """The adaptive split's statistics of the first views, back in raw
        dimension order."""
        stats = self.split.measure({m: views[0].z for m, views in z.items()})
        shared = stats['shared']
        order = self.split.order(shared.device)
        if order is not None:
            shared = shared.new_empty(shared.shape).index_copy_(
                0, order, shared)
        self.split.accumulate(shared, stats['fraction'], stats['rank'])

    def _embeddings(self, views, kc, order=None):
        """Standardised embeddings of every view, gathered in one go, with
        the common dimensions first (``order``)."""
        flat = [v for m in views for v in views[m]]
        dtype = torch.promote_types(flat[0].dtype, torch.float32)
        # One all-gather for all views instead of one per view.
        gathered = gather_batch(torch.cat([v.to(dtype) for v in flat], 1))
        chunks = iter(gathered.split([v.shape[1] for v in flat], dim=1))

        def embedding(chunk):
            if order is not None:
                chunk = chunk.index_select(1, order)
            return Embedding(
                chunk, boundaries=(kc, ), eps=self.eps, gather=False)

        return {m: [embedding(next(chunks)) for _ in views[m]] for m in views}

    def _mean_terms(self, on_off, term):
        """(on, off, on + lambda * off, weight) averaged over view pairs."""
        if on_off[0][0] is None:
            return None, None, None, None
        on_diag = sum(on for on, _ in on_off) / len(on_off)
        off_diag = sum(off for _, off in on_off) / len(on_off)
        loss = on_diag + self.lambd[term] * off_diag
        return on_diag, off_diag, loss, self.loss_weights[term]

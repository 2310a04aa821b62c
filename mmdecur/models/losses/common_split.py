# Copyright (c) mmdecur contributors. All rights reserved.
"""A common/unique split of the embedding dimensions that adapts itself.

The paper fixes the common dimensions to the first ``Kc`` and grid-searches
``Kc / K`` per dataset. :class:`AdaptiveCommonSplit` instead keeps a mask of
common dimensions and revises it at epoch ends from statistics the loss
accumulates on the global batch. Both are measured on *subspaces*, not on
the dimension indices the loss pairs up, so they do not echo the loss's own
targets:

* **How many** dimensions are common: each modality's embedding spans a
  signal subspace of the batch (its principal components holding
  ``energy`` of the variance), of rank ``r``. The cosines of the principal
  angles between two modalities' subspaces are their canonical correlations;
  those above ``threshold`` count the directions both modalities carry.
  Their number over ``r`` is the common fraction of the signal, and
  ``Kc* = K * shared / r`` is the split that gives common and unique
  content the same share of dimensions. A wrong split changes how many
  copies of each direction the embedding holds, not which directions it
  spans, so ``Kc*`` is (nearly) the same from any start.
* **Which** dimensions move: each dimension's *shared variance*, the
  fraction of its variance inside the other modality's signal subspace
  (chance-corrected: with ``r`` of ``N`` directions kept, noise explains
  ``r / N``). A growing common block takes the unique dimensions with the
  most shared variance, a shrinking one gives up the common dimensions with
  the least.

Hysteresis keeps the split from flapping: no change while
``|Kc* - Kc| <= deadband * K``, ``gain`` of the gap (at most
``max_step * K`` dimensions) per decision, and a dimension that moved may
not move back for ``cooldown`` decisions. Every statistic comes from the
all-gathered embeddings, so each rank holds the same numbers; the decided
mask is also broadcast from rank 0. The mask, the per-dimension history and
the running statistics are buffers, so they are part of every checkpoint
and ``--resume`` continues the same split.
"""
from typing import Dict, Tuple

import torch
from mmengine import dist
from torch import Tensor, nn

__all__ = [
    'AdaptiveCommonSplit', 'signal_subspace', 'shared_variance',
    'shared_directions'
]

_NEVER = -(2**31)


def signal_subspace(gram: Tensor,
                    energy: float = 0.99,
                    max_rank_fraction: float = 0.25) -> Tuple[Tensor, Tensor]:
    """Orthonormal basis of the principal subspace of a batch of embeddings.

    Args:
        gram (Tensor): ``Z @ Z.T`` (N x N) of centred embeddings ``Z``; its
            eigenvectors are the left singular vectors of ``Z``, whatever K
            is.
        energy (float): Keep the fewest components that hold this fraction
            of the variance. Defaults to 0.99.
        max_rank_fraction (float): At most this fraction of N components
            (bounds the chance level r / N). Defaults to 0.25.

    Returns:
        tuple[Tensor, Tensor]: The N x N eigenvectors, largest first, and a
        boolean mask of the kept ones (its sum is the rank r; no host
        synchronisation).
    """
    num = gram.shape[0]
    evals, evecs = torch.linalg.eigh(gram)
    evals, evecs = evals.flip(0).clamp(min=0), evecs.flip(1)
    share = evals / evals.sum().clamp(min=torch.finfo(evals.dtype).tiny)
    before = share.cumsum(0) - share
    index = torch.arange(num, device=gram.device)
    keep = (before < energy) & (index < max(1, int(max_rank_fraction * num)))
    return evecs, keep


def shared_variance(z: Tensor, basis: Tensor, keep: Tensor) -> Tensor:
    """Per dimension of ``z``, the chance-corrected fraction of its variance
    inside another modality's signal subspace.

    Args:
        z (Tensor): Centred embeddings (N, K) of one modality.
        basis (Tensor): The other modality's eigenvectors (N x N) and
        keep (Tensor): its kept-component mask (:func:`signal_subspace`).

    Returns:
        Tensor: (K,): 1 inside the subspace, 0 (on average) for a dimension
        unrelated to it: ``(R^2 - r/N) / (1 - r/N)``.
    """
    num = z.shape[0]
    inside = ((basis.T @ z).pow(2) * keep[:, None]).sum(0)
    r2 = inside / z.pow(2).sum(0).clamp(min=torch.finfo(z.dtype).tiny)
    floor = keep.sum().to(z.dtype) / num
    return (r2 - floor) / (1 - floor)


def shared_directions(basis_a: Tensor,
                      keep_a: Tensor,
                      basis_b: Tensor,
                      keep_b: Tensor,
                      threshold: float = 0.7) -> Tensor:
    """How many directions two signal subspaces share: the canonical
    correlations (cosines of the principal angles) above ``threshold``.

    Args:
        basis_a (Tensor): N x N eigenvectors of modality a,
        keep_a (Tensor): its kept-component mask; likewise
        basis_b (Tensor), keep_b (Tensor) for modality b.
        threshold (float): Canonical correlation that counts as shared.
            Defaults to 0.7.

    Returns:
        Tensor: The count (0-d tensor).
    """
    overlap = (basis_a * keep_a).T @ (basis_b * keep_b)
    return (torch.linalg.svdvals(overlap) > threshold).sum()


class AdaptiveCommonSplit(nn.Module):
    """Mask of common dimensions, revised from the modalities' shared signal.

    Args:
        start_epoch (int): First epoch after which a decision is made (the
            statistics of a freshly initialised network say nothing).
            Defaults to 5.
        interval (int): Decide every ``interval`` epochs. Defaults to 1.
        energy (float): Variance fraction of a modality's signal subspace
            (:func:`signal_subspace`). Defaults to 0.99.
        threshold (float): Canonical correlation above which a direction is
            shared (:func:`shared_directions`). Defaults to 0.7.
        max_rank_fraction (float): Cap on the subspace rank as a fraction of
            the global batch. Defaults to 0.25.
        deadband (float): No change while ``|Kc* - Kc| <= deadband * K``.
            Defaults to 0.02.
        gain (float): Fraction of the gap ``Kc* - Kc`` closed per decision.
            Defaults to 0.5.
        max_step (float): At most ``max_step * K`` dimensions move per
            decision. Defaults to 0.1.
        cooldown (int): Decisions a moved dimension waits before it may move
            back. Defaults to 2.
        min_ratio (float): Lower bound of ``Kc / K``. Defaults to 0.05.
        max_ratio (float): Upper bound of ``Kc / K``. Defaults to 0.95.
    """

    def __init__(self,
                 start_epoch: int = 5,
                 interval: int = 1,
                 energy: float = 0.99,
                 threshold: float = 0.7,
                 max_rank_fraction: float = 0.25,
                 deadband: float = 0.02,
                 gain: float = 0.5,
                 max_step: float = 0.1,
                 cooldown: int = 2,
                 min_ratio: float = 0.05,
                 max_ratio: float = 0.95) -> None:
        super().__init__()
        if not 0 <= min_ratio <= max_ratio <= 1:
            raise ValueError('need 0 <= min_ratio <= max_ratio <= 1, got '
                             f'{min_ratio}, {max_ratio}')
        for name, value in (('energy', energy), ('threshold', threshold),
                            ('max_rank_fraction', max_rank_fraction),
                            ('gain', gain), ('max_step', max_step)):
            if not 0 < value <= 1:
                raise ValueError(f'need 0 < {name} <= 1, got {value}')
        if deadband < 0:
            raise ValueError(f'need deadband >= 0, got {deadband}')
        if interval < 1 or start_epoch < 0 or cooldown < 0:
            raise ValueError('need interval >= 1, start_epoch >= 0 and '
                             f'cooldown >= 0, got {interval}, {start_epoch},'
                             f' {cooldown}')
        self.start_epoch = int(start_epoch)
        self.interval = int(interval)
        self.energy = float(energy)
        self.threshold = float(threshold)
        self.max_rank_fraction = float(max_rank_fraction)
        self.deadband = float(deadband)
        self.gain = float(gain)
        self.max_step = float(max_step)
        self.cooldown = int(cooldown)
        self.min_ratio = float(min_ratio)
        self.max_ratio = float(max_ratio)
        # Sized by reset(dim, ...) or by a checkpoint that is loaded.
        self.register_buffer('common_mask', torch.zeros(0, dtype=torch.bool))
        self.register_buffer('last_moved', torch.zeros(0, dtype=torch.long))
        self.register_buffer('num_decisions', torch.zeros((),
                                                          dtype=torch.long))
        self.register_buffer('stat_steps', torch.zeros((), dtype=torch.long))
        self.register_buffer('stat_shared',
                             torch.zeros(0, dtype=torch.float64))
        self.register_buffer('stat_fraction',
                             torch.zeros((), dtype=torch.float64))
        self.register_buffer('stat_rank', torch.zeros((), dtype=torch.float64))
        self._refresh()

    # ------------------------------------------------------------------ state
    @property
    def dim(self) -> int:
        """K, the embedding dimension (0 before :meth:`reset`)."""
        return self.common_mask.numel()

    @property
    def num_common(self) -> int:
        """Kc, the current number of common dimensions (a Python int)."""
        return self._num_common

    def reset(self, dim: int, num_common: int) -> None:
        """Start with the first ``num_common`` of ``dim`` dimensions common.

        Args:
            dim (int): Embedding dimension K.
            num_common (int): Initial Kc (the loss's fixed split).
        """
        device = self.common_mask.device
        self.common_mask = torch.arange(dim, device=device) < num_common
        self.last_moved = torch.full((dim, ),
                                     _NEVER,
                                     dtype=torch.long,
                                     device=device)
        self.num_decisions.zero_()
        self.stat_shared = torch.zeros(dim, dtype=torch.float64, device=device)
        self._reset_statistics()
        self._refresh()

    def _reset_statistics(self) -> None:
        self.stat_steps.zero_()
        self.stat_shared.zero_()
        self.stat_fraction.zero_()
        self.stat_rank.zero_()

    def _refresh(self) -> None:
        """Cache Kc and the dimension order (host copies: no per-step sync)."""
        mask = self.common_mask.cpu()
        self._num_common = int(mask.sum())
        dims = torch.arange(mask.numel())
        self._order_cpu = torch.cat([dims[mask], dims[~mask]])
        self._identity = bool((self._order_cpu == dims).all())
        self._order = None

    def order(self, device: torch.device):
        """Dimension indices, common ones first (each group ascending), or
        None while that is the identity (the first ``Kc`` are common)."""
        if self._identity:
            return None
        if self._order is None or self._order.device != device:
            self._order = self._order_cpu.to(device)
        return self._order

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Buffers are sized by the checkpoint, not by the constructor.
        for name in ('common_mask', 'last_moved', 'stat_shared'):
            key = prefix + name
            if key in state_dict:
                setattr(
                    self, name,
                    torch.empty_like(
                        state_dict[key], device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        self._refresh()

    # ------------------------------------------------------------ statistics
    @torch.no_grad()
    def measure(self, embeddings: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """One step's statistics from globally gathered embeddings.

        Args:
            embeddings (dict): Modality -> centred (standardised) embeddings
                (N, K) of one view, dimensions in split order.

        Returns:
            dict: ``shared`` (K,) shared variance in split order (mean over
            ordered modality pairs), ``fraction`` (shared directions over
            the mean rank, mean over pairs) and ``rank`` (mean rank).
        """
        names = list(embeddings)
        subspaces = {
            m: signal_subspace(z @ z.T, self.energy, self.max_rank_fraction)
            for m, z in embeddings.items()
        }
        shared, fraction, rank, pairs = 0., 0., 0., 0
        for i, m in enumerate(names):
            rank = rank + subspaces[m][1].sum() / len(names)
            for n in names:
                if n == m:
                    continue
                shared = shared + shared_variance(embeddings[m], *subspaces[n])
                if names.index(n) > i:
                    count = shared_directions(*subspaces[m], *subspaces[n],
                                              self.threshold)
                    mean_rank = (subspaces[m][1].sum() +
                                 subspaces[n][1].sum()) / 2
                    fraction = fraction + count / mean_rank.clamp(min=1)
                    pairs += 1
        num_ordered = len(names) * (len(names) - 1)
        return dict(
            shared=shared / num_ordered, fraction=fraction / pairs, rank=rank)

    @torch.no_grad()
    def accumulate(self, shared: Tensor, fraction: Tensor,
                   rank: Tensor) -> None:
        """Add one step's statistics (raw dimension order, no host sync).

        Args:
            shared (Tensor): (K,) shared variance per dimension.
            fraction (Tensor): Shared directions over signal rank.
            rank (Tensor): Mean signal rank.
        """
        self.stat_steps += 1
        self.stat_shared += shared.to(torch.float64)
        self.stat_fraction += fraction.to(torch.float64)
        self.stat_rank += rank.to(torch.float64)

    def statistics(self) -> Dict[str, object]:
        """Running means since the last decision (CPU)."""
        steps = max(int(self.stat_steps), 1)
        return dict(
            steps=int(self.stat_steps),
            shared=self.stat_shared.cpu() / steps,
            fraction=float(self.stat_fraction) / steps,
            rank=float(self.stat_rank) / steps)

    # ------------------------------------------------------------- decisions
    def due(self, epoch: int) -> bool:
        """Whether a decision is due after ``epoch`` epochs of training."""
        return epoch >= self.start_epoch and (
            epoch - self.start_epoch) % self.interval == 0

    def bounds(self) -> Tuple[int, int]:
        lo = max(round(self.min_ratio * self.dim), 0)
        hi = min(round(self.max_ratio * self.dim), self.dim)
        return lo, hi

    def target(self, fraction: float) -> float:
        """``Kc* = K * fraction`` within the configured bounds."""
        lo, hi = self.bounds()
        return min(max(self.dim * fraction, lo), hi)

    @torch.no_grad()
    def update(self) -> Dict[str, object]:
        """Revise the mask from the running statistics, then reset them.

        Returns:
            dict: ``num_common_before``, ``num_common``, ``target``, the
            measured common ``fraction`` and signal ``rank``, ``to_common``
            / ``to_unique`` (dimension indices that moved), the mean shared
            variance of the common and of the unique dimensions before the
            move (``shared_common``, ``shared_unique``) and the ``steps``
            the statistics cover.
        """
        stats = self.statistics()
        before = self.num_common
        decision = int(self.num_decisions)
        shared = stats['shared']
        mask = self.common_mask.cpu().clone()
        eligible = (decision - self.last_moved.cpu()) > self.cooldown
        target = self.target(stats['fraction']) if stats['steps'] else before
        gap = target - before
        to_common = to_unique = torch.zeros(0, dtype=torch.long)
        if stats['steps'] and abs(gap) > self.deadband * self.dim:
            step = max(1, round(self.gain * abs(gap)))
            step = min(step, max(1, round(self.max_step * self.dim)))
            if gap > 0:  # the unique dims most shared with the others
                candidates = (~mask & eligible).nonzero()[:, 0]
                rank = shared[candidates].argsort(descending=True, stable=True)
                to_common = candidates[rank[:step]]
            else:  # the common dims least shared with the others
                candidates = (mask & eligible).nonzero()[:, 0]
                rank = shared[candidates].argsort(stable=True)
                to_unique = candidates[rank[:step]]
        summary = dict(
            shared_common=float(shared[mask].mean()) if mask.any() else 0.,
            shared_unique=float(shared[~mask].mean()) if (~mask).any() else 0.)
        mask[to_common] = True
        mask[to_unique] = False
        last_moved = self.last_moved.cpu().clone()
        last_moved[torch.cat([to_common, to_unique])] = decision
        self.common_mask.copy_(mask)
        self.last_moved.copy_(last_moved)
        self.num_decisions += 1
        if dist.get_world_size() > 1:
            # Identical statistics give identical decisions; rank 0's copy
            # makes it a guarantee (packed: gloo cannot broadcast bools).
            packed = torch.stack([self.common_mask.long(), self.last_moved])
            dist.broadcast(packed)
            self.common_mask.copy_(packed[0].bool())
            self.last_moved.copy_(packed[1])
        self._reset_statistics()
        self._refresh()
        return dict(
            num_common_before=before,
            num_common=self.num_common,
            target=float(target),
            fraction=stats['fraction'],
            rank=stats['rank'],
            to_common=to_common.tolist(),
            to_unique=to_unique.tolist(),
            steps=stats['steps'],
            **summary)

    def extra_repr(self) -> str:
        return (f'dim={self.dim}, num_common={self.num_common}, '
                f'start_epoch={self.start_epoch}, interval={self.interval}, '
                f'energy={self.energy}, threshold={self.threshold}, '
                f'deadband={self.deadband}, gain={self.gain}, '
                f'max_step={self.max_step}, cooldown={self.cooldown}')

# Copyright (c) mmdecur contributors. All rights reserved.
"""Input handling shared by the baseline losses.

Every loss takes ``views``: modality name -> list of per-view embeddings
(N_local, K), as :class:`DeCURLoss` does. The helpers here pick the views a
loss reads and gather them over ranks in ONE differentiable all-gather,
promoted to float32 (float64 stays float64).
"""
from typing import List, Mapping, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
from torch import Tensor

from mmdecur.models.utils.distributed import gather_batch, get_world_size

__all__ = ['get_view', 'gather_views']


def get_view(views: Mapping[str, Sequence[Tensor]], modality: str,
             index: int) -> Tensor:
    """``views[modality][index]``, with errors that name what is missing.

    Args:
        views (Mapping[str, Sequence[Tensor]]): Modality -> its views'
            embeddings (a single tensor counts as one view).
        modality (str): Which modality.
        index (int): Which view (0 = the first).

    Returns:
        Tensor: The (N_local, K) embeddings.
    """
    if modality not in views:
        raise KeyError(f'no embeddings of modality {modality!r} (got '
                       f'{list(views)})')
    per_view = views[modality]
    per_view = [per_view] if isinstance(per_view, Tensor) else per_view
    if len(per_view) <= index:
        raise ValueError(f'view {index + 1} of modality {modality!r} is '
                         f'needed but only {len(per_view)} were given')
    z = per_view[index]
    if z.dim() != 2:
        raise ValueError(f'embeddings must be (N, K), got {tuple(z.shape)} '
                         f'for view {index + 1} of {modality!r}')
    return z


def gather_views(
        tensors: Sequence[Tensor],
        with_offset: bool = False) -> Tuple[List[Tensor], Optional[Tensor]]:
    """Gather several (N_local, K_i) tensors over ranks in one collective.

    Args:
        tensors (Sequence[Tensor]): Embeddings of the same local samples.
        with_offset (bool): Also return where this rank's rows start in the
            global batch (for losses over local anchors). Defaults to False.

    Returns:
        tuple: The global (N, K_i) tensors (at least float32) in rank order,
        and the offset as a 0-dim long tensor (None unless ``with_offset``).
        Gradients flow back through :func:`gather_batch`.
    """
    sizes = {z.shape[0] for z in tensors}
    if len(sizes) != 1:
        raise ValueError('the views of one loss must hold the same samples, '
                         f'got batch sizes {sorted(sizes)}')
    dtype = torch.promote_types(tensors[0].dtype, torch.float32)
    flat = [z.to(dtype) for z in tensors]
    world_size = get_world_size()
    marker = None
    if with_offset and world_size > 1:
        # A column holding the rank tells where our rows land after the
        # gather (sizes may differ between ranks), without a second
        # collective or a host sync.
        marker = flat[0].new_full((flat[0].shape[0], 1), dist.get_rank())
        flat.append(marker)
    gathered = gather_batch(torch.cat(flat, 1))
    chunks = list(gathered.split([z.shape[1] for z in flat], dim=1))
    offset = None
    if with_offset:
        if marker is None:
            offset = torch.zeros((), dtype=torch.long, device=gathered.device)
        else:
            rank_col = chunks.pop()[:, 0]
            offset = (rank_col < dist.get_rank()).sum()
    return chunks, offset

# Copyright (c) mmdecur contributors. All rights reserved.
from typing import Dict, Optional

import torch
from mmengine.utils import ProgressBar


@torch.no_grad()
def extract_embeddings(model: torch.nn.Module,
                       dataloader,
                       max_samples: Optional[int] = None,
                       progress: bool = True) -> Dict[str, object]:
    """Projector embeddings of the first view of every modality.

    Args:
        model (nn.Module): A :class:`MultiModalSelfSupervisor` (eval mode).
        dataloader: Yields packed batches of the model's modalities.
        max_samples (int, optional): Stop after this many samples.
        progress (bool): Show a progress bar. Defaults to True.

    Returns:
        dict: ``embeddings`` (modality -> (N, K) float tensor, the common
        dimensions first: ``model.to_split_order``) and
        ``gt_factors`` ((N, F) tensor, or None if the data has no factors).
    """
    model.eval()
    total = len(dataloader.dataset)
    if max_samples is not None:
        total = min(total, max_samples)
    bar = ProgressBar(total) if progress else None
    chunks = {m: [] for m in model.modalities}
    factors = []
    seen = 0
    for batch in dataloader:
        data = model.data_preprocessor(batch, False)
        for m in model.modalities:
            views = data['inputs'][m]
            x = views if isinstance(views, torch.Tensor) else views[0]
            chunks[m].append(
                model.to_split_order(model.embed(m, x)).float().cpu())
        samples = data.get('data_samples') or []
        if samples and 'gt_factors' in samples[0]:
            factors.append(torch.stack([s.gt_factors for s in samples]).cpu())
        n = chunks[model.modalities[0]][-1].shape[0]
        seen += n
        if bar is not None:
            bar.update(min(n, total - (seen - n)))
        if seen >= total:
            break
    out = {m: torch.cat(c)[:total] for m, c in chunks.items()}
    gt = torch.cat(factors)[:total] if factors else None
    if bar is not None:
        print()
    return dict(embeddings=out, gt_factors=gt)

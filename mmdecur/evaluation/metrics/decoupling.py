# Copyright (c) mmdecur contributors. All rights reserved.
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric

from mmdecur.analysis.alignment import alignment_per_dim
from mmdecur.analysis.probe import linear_probe
from mmdecur.registry import METRICS


@METRICS.register_module()
class DecouplingMetric(BaseMetric):
    """Cross-modal alignment of common vs unique dims, and linear probes.

    Consumes the ``embedding_<modality>`` fields that
    :meth:`MultiModalSelfSupervisor.predict` writes (and ``dim_common`` in
    their metainfo). Over the whole split it reports, for the first two
    modalities, the mean alignment loss ``(1 - C_ii)^2`` (paper Eq. 7) and
    mean ``|C_ii|`` of common and unique dims. If the data samples carry
    ``gt_factors`` and the dataset meta lists categorical factors
    (``num_classes``, e.g. the synthetic dataset), it also reports held-out
    linear-probe accuracies of each modality's common and unique dims.

    Args:
        probe_factors (Sequence[str], optional): Factors to probe; None =
            all categorical factors in the dataset meta. Defaults to None.
        collect_device (str): Defaults to 'cpu'.
        prefix (str, optional): Defaults to 'decoupling'.
    """
    default_prefix = 'decoupling'

    def __init__(self,
                 probe_factors: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.probe_factors = probe_factors

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        # The evaluator passes data samples as dicts (data + metainfo).
        for sample in data_samples:
            item = {
                key: value.detach().cpu().float()
                for key, value in sample.items()
                if key.startswith('embedding_') or key == 'gt_factors'
            }
            item['dim_common'] = sample.get('dim_common')
            self.results.append(item)

    def compute_metrics(self, results: List[dict]) -> dict:
        names = sorted(k[len('embedding_'):] for k in results[0]
                       if k.startswith('embedding_'))
        order = list(self.dataset_meta.get(
            'modalities', names)) if (self.dataset_meta) else names
        names = [m for m in order if m in names] or names
        z = {
            m: torch.stack([r[f'embedding_{m}'] for r in results])
            for m in names
        }
        dim = z[names[0]].shape[1]
        dim_common = results[0]['dim_common']
        dim_common = dim if dim_common is None else int(dim_common)

        metrics = {}
        if len(names) >= 2:
            per_dim = alignment_per_dim(z[names[0]], z[names[1]])
            for group, dims in (('common', slice(0, dim_common)),
                                ('unique', slice(dim_common, None))):
                if per_dim['loss'][dims].size:
                    metrics[f'{group}_align_loss'] = float(
                        per_dim['loss'][dims].mean())
                    metrics[f'{group}_abs_corr'] = float(
                        np.abs(per_dim['corr'][dims]).mean())

        meta = self.dataset_meta or {}
        if 'gt_factors' in results[0] and 'num_classes' in meta:
            factors = torch.stack([r['gt_factors'] for r in results]).numpy()
            factor_names = list(meta['factor_names'])
            wanted = self.probe_factors or list(meta['num_classes'])
            for factor in wanted:
                labels = factors[:, factor_names.index(factor)].astype(int)
                for m in names:
                    for group, dims in (('common', slice(0, dim_common)),
                                        ('unique', slice(dim_common, None))):
                        feats = z[m][:, dims].numpy()
                        if feats.shape[1]:
                            metrics[f'probe_{factor}_{m}_{group}'] = \
                                linear_probe(feats, labels)
        return metrics

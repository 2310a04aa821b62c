# Copyright (c) mmdecur contributors. All rights reserved.
from itertools import combinations
from typing import Dict, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmdecur.registry import MODELS
from .correlation import CrossCorrelation, Embedding
from .views import gather_views, get_view


@MODELS.register_module()
class VICRegLoss(BaseModule):
    """VICReg between the first views of two modalities (cross-modal).

    `Paper <https://arxiv.org/abs/2105.04906>`_ (Eq. 1-6). For Z, Z'
    (N x K, global batch)::

        s(Z, Z') = sum_b ||z_b - z'_b||^2 / (N K)            invariance (MSE)
        v(Z) = sum_j max(0, 1 - sqrt(Var(z^j) + eps)) / K    variance hinge
        c(Z) = sum_{i != j} C(Z)_ij^2 / K                    covariance
        L = sim * s(Z, Z') + std * [v(Z) + v(Z')] + cov * [c(Z) + c(Z')]

    Var and C(Z) are unbiased (divided by N - 1) over the global batch. The
    paper's Eq. 6 sums the two variance terms; Facebook's released code
    averages them (equivalent to half ``std_coeff``). With more than two
    modalities every pair gets the terms (keys suffixed ``_<m1>_<m2>``).

    Args:
        sim_coeff (float): lambda, weight of the invariance term.
            Defaults to 25.
        std_coeff (float): mu, weight of the variance term. Defaults to 25.
        cov_coeff (float): nu, weight of the covariance term.
            Defaults to 1.
        eps (float): Added to the variance. Defaults to 1e-4.
        init_cfg (dict, optional): Unused; for BaseModule.
    """

    #: Views per modality that :meth:`forward` reads.
    num_views = 1

    def __init__(self,
                 sim_coeff: float = 25.,
                 std_coeff: float = 25.,
                 cov_coeff: float = 1.,
                 eps: float = 1e-4,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.sim_coeff = sim_coeff
        self.std_coeff = std_coeff
        self.cov_coeff = cov_coeff
        self.eps = eps

    def forward(self, views: Mapping[str,
                                     Sequence[Tensor]]) -> Dict[str, Tensor]:
        """Compute the loss.

        Args:
            views (Mapping[str, Sequence[Tensor]]): Per modality its views'
                embeddings, each (N_local, K) on this rank; only the first
                view is used.

        Returns:
            dict[str, Tensor]: ``loss_inv``, ``loss_var``, ``loss_cov``
            (weighted) and the unweighted ``inv``, ``var``, ``cov`` as
            diagnostics.
        """
        names = list(views)
        if len(names) < 2:
            raise ValueError('VICRegLoss is cross-modal and needs at least '
                             f'two modalities, got {names}')
        local = [get_view(views, m, 0) for m in names]
        # Losses are computed in fp32 (fp64 if given) even under autocast.
        with torch.autocast(local[0].device.type, enabled=False):
            gathered, _ = gather_views(local)
            if gathered[0].shape[0] < 2:
                raise ValueError('VICReg needs a global batch of at least 2 '
                                 'samples (variances are unbiased)')
            z = dict(zip(names, gathered))
            # Per modality: its variance and covariance terms (each modality
            # enters once even when it is part of several pairs).
            var, cov = {}, {}
            for m, zm in z.items():
                # Unbiased covariance via the Gram route when N < K.
                centred = Embedding(zm, gather=False, normalize='covariance')
                c = CrossCorrelation(centred, centred)
                variances = c.diagonal()
                std = torch.sqrt(variances + self.eps)
                var[m] = F.relu(1 - std).mean()
                off_diag = c.squared_norm() - variances.pow(2).sum()
                cov[m] = off_diag / zm.shape[1]
            pairs = list(combinations(names, 2))
            losses = {}
            for a, b in pairs:
                suffix = '' if len(pairs) == 1 else f'_{a}_{b}'
                terms = dict(
                    inv=F.mse_loss(z[a], z[b]),
                    var=var[a] + var[b],
                    cov=cov[a] + cov[b])
                weights = dict(
                    inv=self.sim_coeff, var=self.std_coeff, cov=self.cov_coeff)
                for name, value in terms.items():
                    losses[f'loss_{name}{suffix}'] = weights[name] * value
                    losses[name + suffix] = value.detach()
        return losses

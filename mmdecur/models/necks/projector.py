# Copyright (c) mmdecur contributors. All rights reserved.
from typing import Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from torch import Tensor

from mmdecur.registry import MODELS


@MODELS.register_module()
class Projector(BaseModule):
    """Barlow Twins / DeCUR projector: ``[Linear-BN-ReLU] x (L-1) - Linear``.

    Linear layers have no bias (BN follows them, and the last output is
    batch-normalised by the loss). The layers live in one ``nn.Sequential``
    with the official indices (Linear at 0, 3, 6; BN at 1, 4), so official
    ``projector{1,2}.*`` weights map by prefix only.

    Args:
        in_channels (int): Backbone feature dimension (2048 for ResNet-50 and
            DeCUR's MiT head, 512 for ResNet-18, 384 for ViT-S/16).
        hid_channels (int): Width of the hidden layers. Defaults to 8192.
        out_channels (int): Embedding dimension K. Defaults to 8192.
        num_layers (int): Number of Linear layers; 0 means no projector
            (identity), an ablation of the paper's Fig. 3b. Defaults to 3.
        norm_cfg (dict): Hidden-layer norm. Use ``GlobalBN`` so that DDP runs
            equal one process on the global batch. Defaults to
            ``dict(type='GlobalBN')``.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to None (PyTorch's Linear/BN defaults, as official).
    """

    def __init__(self,
                 in_channels: int,
                 hid_channels: int = 8192,
                 out_channels: int = 8192,
                 num_layers: int = 3,
                 norm_cfg: dict = dict(type='GlobalBN'),
                 init_cfg: Optional[Union[dict, Sequence[dict]]] = None):
        super().__init__(init_cfg=init_cfg)
        if num_layers < 0:
            raise ValueError(f'num_layers must be >= 0, got {num_layers}')
        self.in_channels = in_channels
        self.out_channels = out_channels if num_layers else in_channels
        sizes = [in_channels] + [hid_channels] * (
            num_layers - 1) + [out_channels] if num_layers else []
        layers = []
        for i, (c_in, c_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(c_in, c_out, bias=False))
            if i < num_layers - 1:
                layers.append(build_norm_layer(norm_cfg, c_out)[1])
                layers.append(nn.ReLU(inplace=True))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Union[Tensor, Tuple[Tensor, ...]]) -> Tensor:
        """Project pooled features (B, in_channels) to embeddings (B, K).

        A tuple (backbone output) is accepted; its last element is used.
        """
        if isinstance(x, (tuple, list)):
            x = x[-1]
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'Projector expects pooled features (B, {self.in_channels}), '
                f'got {tuple(x.shape)}; check in_channels against the '
                "backbone's output (out_type='pooled')")
        return self.layers(x)

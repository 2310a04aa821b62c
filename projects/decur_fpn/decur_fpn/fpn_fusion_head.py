# Copyright (c) mmdecur contributors. All rights reserved.
from typing import List, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize

from mmdecur.registry import MODELS


@MODELS.register_module()
class FPNFusionHead(BaseDecodeHead):
    """A feature-pyramid decoder for DeCUR's multimodal encoders.

    Instead of the paper's FCN head (independent per-stage classifiers,
    logits summed), the concatenated RGB + X stage features are merged top
    down: a 1x1 lateral convolution per stage, each coarser map upsampled
    and added to the next finer one, a 3x3 smoothing convolution, and one
    classifier on the finest map.

    Args:
        in_channels (Sequence[int]): Channels of the selected stages, finest
            first (the multimodal encoder concatenates both modalities).
        channels (int): Pyramid width. Defaults to 128.
        **kwargs: :class:`BaseDecodeHead` arguments.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int = 128,
                 **kwargs) -> None:
        kwargs.setdefault('in_index', list(range(len(in_channels))))
        kwargs.setdefault(
            'loss_decode',
            dict(
                type='mmseg.CrossEntropyLoss',
                use_sigmoid=False,
                loss_weight=1.0))
        super().__init__(
            in_channels=list(in_channels),
            channels=channels,
            input_transform='multiple_select',
            **kwargs)
        self.laterals = nn.ModuleList(
            ConvModule(
                c, channels, 1, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
            for c in in_channels)
        self.smooth = ConvModule(
            channels,
            channels,
            3,
            padding=1,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)

    def forward(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        feats = self._transform_inputs(inputs)
        x = self.laterals[-1](feats[-1])
        for lateral, feat in zip(self.laterals[-2::-1], feats[-2::-1]):
            x = lateral(feat) + resize(
                x,
                size=feat.shape[2:],
                mode='bilinear',
                align_corners=self.align_corners)
        return self.cls_seg(self.smooth(x))

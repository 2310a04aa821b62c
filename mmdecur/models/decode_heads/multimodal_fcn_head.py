# Copyright (c) mmdecur contributors. All rights reserved.
from typing import List, Sequence

import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize

from mmdecur.registry import MODELS


@MODELS.register_module()
class MultiModalFCNHead(BaseDecodeHead):
    """DeCUR's FCN head: per stage a 1x1 projection and a 1x1 classifier,
    the per-stage logits upsampled and summed.

    The paper's multimodal FCN feeds it the concatenated stage-2/3/4 features
    of both encoders (1024/2048/4096 channels for two ResNet-50s) and
    projects them to 128/256/512 channels. Logits are summed at the largest
    (stage-2, 1/8) resolution; mmseg's loss and inference resize them to the
    label size. Classifying before upsampling is exact: a 1x1 convolution
    commutes with bilinear interpolation.

    Args:
        in_channels (Sequence[int]): Channels of the selected stages.
        stage_channels (Sequence[int]): Projection width per stage.
            Defaults to (128, 256, 512).
        **kwargs: :class:`BaseDecodeHead` arguments (``num_classes``,
            ``in_index``, ``align_corners``, ``loss_decode``, ...);
            ``input_transform`` is 'multiple_select'.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 stage_channels: Sequence[int] = (128, 256, 512),
                 **kwargs) -> None:
        if len(in_channels) != len(stage_channels):
            raise ValueError(f'in_channels {tuple(in_channels)} and '
                             f'stage_channels {tuple(stage_channels)} must '
                             'have one entry per stage')
        kwargs.setdefault('in_index', list(range(len(in_channels))))
        # BaseDecodeHead's default init targets `conv_seg`, replaced here.
        kwargs.setdefault(
            'init_cfg',
            dict(type='Normal', std=0.01, override=dict(name='classifiers')))
        super().__init__(
            in_channels=list(in_channels),
            channels=stage_channels[0],
            input_transform='multiple_select',
            **kwargs)
        # One classifier per stage instead of BaseDecodeHead's single one.
        del self.conv_seg
        self.projections = nn.ModuleList(
            nn.Conv2d(c_in, c, 1)
            for c_in, c in zip(in_channels, stage_channels))
        self.classifiers = nn.ModuleList(
            nn.Conv2d(c, self.out_channels, 1) for c in stage_channels)

    def forward(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        feats = self._transform_inputs(inputs)
        size = feats[0].shape[2:]
        logits = 0
        for x, proj, cls in zip(feats, self.projections, self.classifiers):
            out = cls(self.dropout(proj(x))) if self.dropout else cls(proj(x))
            logits = logits + resize(
                out,
                size=size,
                mode='bilinear',
                align_corners=self.align_corners)
        return logits

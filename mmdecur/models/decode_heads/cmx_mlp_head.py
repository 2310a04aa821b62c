# Copyright (c) mmdecur contributors. All rights reserved.
"""CMX's all-MLP decoder as an mmseg decode head."""
from typing import List, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize

from mmdecur.registry import MODELS

__all__ = ['CMXMLPHead']


@MODELS.register_module()
class CMXMLPHead(BaseDecodeHead):
    """The MLP decoder of `CMX <https://arxiv.org/abs/2203.04838>`_.

    SegFormer's all-MLP head as CMX configures it: per stage a ``Linear``
    from the stage width to ``channels`` on the flattened tokens
    (``linear_projs``), bilinear upsampling to the first (1/4) stage's size,
    concatenation in the order **c4, c3, c2, c1** (CMX's order; mmseg's
    ``SegformerHead`` uses c1..c4, so its fuse weights would not import),
    a 1x1 ``ConvModule`` (``4 * channels -> channels``, no bias, norm, ReLU:
    ``fusion_conv``), then mmseg's dropout and 1x1 ``conv_seg``. Logits are
    at 1/4 of the input size; mmseg's loss and inference resize them.

    Official checkpoints (``linear_c{1..4}.proj``, ``linear_fuse.{0,1}``,
    ``linear_pred``) import through
    :func:`~mmdecur.models.utils.checkpoint_mapping.cmx_official_to_mmdecur`;
    the official fuse conv has a bias, which the converter folds exactly into
    the following BatchNorm's running mean.

    Args:
        in_channels (Sequence[int]): Widths of the input stages (fine to
            coarse). Defaults to (64, 128, 320, 512) (MiT-b2).
        channels (int): Embedding width (CMX's ``decoder_embed_dim``).
            Defaults to 512.
        norm_cfg (dict): Norm of ``fusion_conv``. CMX trains with BatchNorm
            (SyncBN when distributed) of eps 1e-3. Defaults to
            ``dict(type='BN', eps=1e-3, requires_grad=True)``.
        init_cfg (dict | list): Initialisation. Defaults to CMX's: Kaiming
            normal (fan-in, ReLU) for every conv, PyTorch's default for the
            linear projections.
        **kwargs: Other :class:`BaseDecodeHead` arguments (``num_classes``,
            ``dropout_ratio`` (0.1), ``align_corners``, ``loss_decode``,
            ``ignore_index``, ``in_index``, ...). ``input_transform`` is
            always ``'multiple_select'``.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (64, 128, 320, 512),
                 channels: int = 512,
                 norm_cfg: dict = dict(
                     type='BN', eps=1e-3, requires_grad=True),
                 init_cfg: Union[dict, List[dict]] = dict(
                     type='Kaiming',
                     layer='Conv2d',
                     mode='fan_in',
                     nonlinearity='relu',
                     distribution='normal'),
                 **kwargs) -> None:
        transform = kwargs.pop('input_transform', 'multiple_select')
        if transform != 'multiple_select':
            raise ValueError("CMXMLPHead needs input_transform="
                             f"'multiple_select', got {transform!r}.")
        kwargs.setdefault('in_index', list(range(len(in_channels))))
        super().__init__(
            in_channels=list(in_channels),
            channels=channels,
            input_transform='multiple_select',
            norm_cfg=norm_cfg,
            init_cfg=init_cfg,
            **kwargs)
        if len(self.in_index) != len(self.in_channels):
            raise ValueError(f'in_index {self.in_index} and in_channels '
                             f'{self.in_channels} differ in length.')
        self.linear_projs = nn.ModuleList(
            nn.Linear(c, channels) for c in self.in_channels)
        self.fusion_conv = ConvModule(
            len(self.in_channels) * channels,
            channels,
            1,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)

    def forward(self, inputs: List[torch.Tensor]) -> torch.Tensor:
        """Forward.

        Args:
            inputs (list[torch.Tensor]): Backbone maps; those at
                ``in_index`` are used, the first being the finest.

        Returns:
            torch.Tensor: Logits (B, num_classes, H1, W1) at the size of the
            first selected map.
        """
        inputs = self._transform_inputs(inputs)
        size = inputs[0].shape[2:]
        maps = []
        for x, proj in zip(inputs, self.linear_projs):
            b, _, h, w = x.shape
            # A Linear on tokens, as officially (same weight shape as the
            # checkpoint; a 1x1 conv would need a reshape).
            y = proj(x.flatten(2).transpose(1, 2)).transpose(1, 2)
            y = y.reshape(b, -1, h, w)
            if y.shape[2:] != size:
                y = resize(
                    y,
                    size=size,
                    mode='bilinear',
                    align_corners=self.align_corners)
            maps.append(y)
        out = self.fusion_conv(torch.cat(maps[::-1], dim=1))
        return self.cls_seg(out)

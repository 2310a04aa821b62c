# Copyright (c) mmdecur contributors. All rights reserved.
"""ResNet with any number of input bands and DeCUR's deformable attention."""
import copy
from typing import Dict, List, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmpretrain.models.backbones import ResNet as _ResNet

from mmdecur.registry import MODELS
from .checks import check_images, check_out_type
from .deform_attn import DeformableAttention2d

__all__ = ['ResNet', 'RDA_PAPER_SETTINGS']

#: DeCUR's RDA settings for ResNet-50 (``rda=True``): a
#: :class:`DeformableAttention2d` after layer3 and after layer4. ``rpe_size``
#: is the stage's map size at 224 px input.
RDA_PAPER_SETTINGS = dict(
    layer3=dict(
        num_heads=8,
        head_channels=128,
        num_groups=4,
        offset_stride=2,
        offset_kernel_size=5,
        rpe_size=(14, 14)),
    layer4=dict(
        num_heads=16,
        head_channels=128,
        num_groups=8,
        offset_stride=1,
        offset_kernel_size=3,
        rpe_size=(7, 7)))


@MODELS.register_module()
class ResNet(_ResNet):
    """ResNet backbone with any ``in_channels`` and optional (R)DA stages.

    A `ResNet <https://arxiv.org/abs/1512.03385>`_ (``style='pytorch'``, i.e.
    torchvision's layout and parameter names: ``conv1``, ``bn1``,
    ``layer1.0.conv1``, ..., ``downsample.0/1``) as used by `DeCUR
    <https://arxiv.org/abs/2309.05300>`_. DeCUR's variants are ResNet-18
    (512-d pooled output) and ResNet-50 (2048-d); the other depths of
    :attr:`arch_settings` are inherited from mmpretrain and also build.

    With ``rda`` a :class:`DeformableAttention2d` follows the named stages,
    added as a residual (RDA, the paper's model) or replacing the stage
    output (``rda_residual=False``, plain DA). The stage output after
    attention is what feeds the next stage and what ``out_indices`` returns.

    Args:
        depth (int): Network depth; DeCUR uses 18 or 50.
        in_channels (int): Input bands (e.g. 2 for S1 SAR, 13 for S2 L1C,
            3 for RGB). Defaults to 3.
        out_type (str): ``'pooled'`` returns ``(B, out_channels)`` global
            average pooled features of the last stage (pretraining);
            ``'featmap'`` returns the NCHW outputs of the stages in
            ``out_indices`` (dense prediction). Defaults to ``'pooled'``.
        out_indices (Sequence[int]): Stages (0-3) returned when
            ``out_type='featmap'``. Defaults to ``(0, 1, 2, 3)``.
        rda (bool | dict, optional): Deformable attention after stages.
            ``None``/``False``: plain ResNet. ``True``: DeCUR's settings
            (:data:`RDA_PAPER_SETTINGS`, ResNet-50 channels). A dict maps
            stage names (``'layer1'`` .. ``'layer4'``) to the keyword
            arguments of the attention module (all but ``channels``, taken
            from the stage); ``type`` defaults to ``'DeformableAttention2d'``.
            Defaults to None.
        rda_residual (bool): Add the attention output to the stage output
            (RDA) rather than replacing it (DA). Defaults to True.
        zero_init_residual (bool): Zero-init the last norm of every residual
            block, as torchvision's ``zero_init_residual=True`` that DeCUR
            uses. Defaults to True.
        channels_last (bool): Keep the convolution weights and the
            activations in ``torch.channels_last`` (NHWC) memory format:
            inputs are converted on entry, weights at construction and after
            :meth:`init_weights`. GPUs run NHWC convolutions faster (tensor
            cores, above all under AMP); the outputs equal the default
            layout's to float tolerance. ``'featmap'`` outputs are
            channels_last tensors (same shapes and values). The state dict
            is unchanged, so checkpoints load either way. Defaults to False.
        **kwargs: Other arguments of
            :class:`mmpretrain.models.backbones.ResNet`, e.g. ``norm_cfg``,
            ``frozen_stages``, ``norm_eval``, ``base_channels``,
            ``init_cfg``.

    Example:
        >>> import torch
        >>> from mmdecur.models.backbones import ResNet
        >>> model = ResNet(50, in_channels=13, rda=True).eval()
        >>> model(torch.rand(1, 13, 64, 64))[0].shape
        torch.Size([1, 2048])
    """

    def __init__(self,
                 depth: int,
                 in_channels: int = 3,
                 out_type: str = 'pooled',
                 out_indices: Sequence[int] = (0, 1, 2, 3),
                 rda: Union[bool, Dict[str, dict], None] = None,
                 rda_residual: bool = True,
                 zero_init_residual: bool = True,
                 channels_last: bool = False,
                 **kwargs) -> None:
        check_out_type(out_type)
        self.out_type = out_type
        # The parent freezes stages in __init__, which needs ``rda_layers``.
        self.rda_layers: List[str] = []
        super().__init__(
            depth=depth,
            in_channels=in_channels,
            out_indices=tuple(out_indices),
            zero_init_residual=zero_init_residual,
            **kwargs)
        self.in_channels = in_channels
        self.out_channels = self.feat_dim
        self.featmap_channels = tuple(
            getattr(self, self.res_layers[i])[-1].out_channels
            for i in self.out_indices)
        self.rda_residual = rda_residual

        if rda is True:
            rda = RDA_PAPER_SETTINGS
        for name, cfg in (rda or {}).items():
            self._add_deform_attn(name, cfg)
        self._freeze_stages()
        self.channels_last = bool(channels_last)
        self._apply_memory_format()

    def _apply_memory_format(self) -> None:
        if self.channels_last:
            self.to(memory_format=torch.channels_last)

    def init_weights(self) -> None:
        """Initialise (``init_cfg``), keeping the weights' memory format."""
        super().init_weights()
        self._apply_memory_format()

    def _add_deform_attn(self, stage: str, cfg: dict) -> None:
        if stage not in self.res_layers:
            raise ValueError(f'rda names stage {stage!r}, but this ResNet '
                             f'has stages {self.res_layers}.')
        channels = getattr(self, stage)[-1].out_channels
        cfg = copy.deepcopy(cfg)
        cfg.setdefault('type', 'DeformableAttention2d')
        if cfg.setdefault('channels', channels) != channels:
            raise ValueError(
                f"rda['{stage}'] sets channels={cfg['channels']}, but "
                f'{stage} of this ResNet has {channels} channels.')
        if cfg['type'] in ('DeformableAttention2d', DeformableAttention2d):
            heads = cfg.get('num_heads') or 0
            head_channels = cfg.get('head_channels') or 0
            if heads * head_channels != channels:
                raise ValueError(
                    f'RDA after {stage} needs num_heads * head_channels == '
                    f'{channels} (the {stage} channels of '
                    f'ResNet-{self.depth} with base_channels='
                    f'{self.base_channels}), but the settings give '
                    f'num_heads={heads}, head_channels={head_channels}. '
                    'rda=True only fits ResNet-50 with base_channels=64; '
                    'pass explicit rda settings, e.g. rda=dict('
                    f'{stage}=dict(num_heads=..., head_channels=..., '
                    'num_groups=..., offset_stride=..., '
                    'offset_kernel_size=..., rpe_size=...)).')
        self.add_module(f'da_{stage}', MODELS.build(cfg))
        self.rda_layers.append(stage)

    def _freeze_stages(self) -> None:
        super()._freeze_stages()
        # A stage's attention block is part of that stage (DeCUR's linear
        # probing freezes ``backbone_*`` and ``da*`` together).
        for stage in self.rda_layers:
            if int(stage[len('layer'):]) <= self.frozen_stages:
                da = getattr(self, f'da_{stage}')
                da.eval()
                for param in da.parameters():
                    param.requires_grad = False

    def train(self, mode: bool = True) -> 'ResNet':
        """Set train/eval mode (keeping frozen stages and ``norm_eval``).

        Returns ``self`` like :meth:`torch.nn.Module.train`; the parent's
        override returns None, which breaks ``model = model.eval()``.
        """
        super().train(mode)
        return self

    def _forward_stages(
        self, x: torch.Tensor
    ) -> Tuple[List[torch.Tensor], Dict[str, Dict[str, torch.Tensor]]]:
        """Run the stem and all stages.

        Returns:
            tuple: The output of every stage (after attention where present),
            and per attention stage ``dict(pos, ref, feature)``, ``feature``
            being the stage output the attention block attended over.
        """
        check_images(x, self.in_channels, 'ResNet')
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        outs, points = [], {}
        for stage in self.res_layers:
            x = getattr(self, stage)(x)
            if stage in self.rda_layers:
                y, pos, ref = getattr(self, f'da_{stage}')(x)
                points[stage] = dict(pos=pos, ref=ref, feature=x)
                x = x + y if self.rda_residual else y
            outs.append(x)
        return outs, points

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Forward.

        Args:
            x (torch.Tensor): Images of shape (B, in_channels, H, W).

        Returns:
            tuple[torch.Tensor]: ``((B, out_channels), )`` for
            ``out_type='pooled'``, else the stage maps in ``out_indices``.
        """
        outs, _ = self._forward_stages(x)
        if self.out_type == 'pooled':
            return (torch.flatten(F.adaptive_avg_pool2d(outs[-1], 1), 1), )
        return tuple(outs[i] for i in self.out_indices)

    def forward_deform_points(
            self, x: torch.Tensor) -> Dict[str, Dict[str, torch.Tensor]]:
        """Deformable sampling points of every attention stage.

        Args:
            x (torch.Tensor): Images of shape (B, in_channels, H, W).

        Returns:
            dict[str, dict[str, torch.Tensor]]: For each attention stage
            (e.g. ``'layer3'``, ``'layer4'``), ``pos`` (deformed points) and
            ``ref`` (reference grid), each (B, num_groups, Hk, Wk, 2) in
            normalized (y, x) coordinates of the stage map, and ``feature``,
            that stage's (B, C, H, W) output fed to the attention block.
        """
        if not self.rda_layers:
            raise RuntimeError('forward_deform_points needs deformable '
                               'attention stages; build ResNet with rda.')
        return self._forward_stages(x)[1]

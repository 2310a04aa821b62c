# Copyright (c) mmdecur contributors. All rights reserved.
"""timm Vision Transformer as an mmengine backbone with plain timm keys."""
from typing import Optional, Sequence, Tuple, Union

import torch
from mmengine.model import BaseModule
from timm.models.vision_transformer import VisionTransformer

from mmdecur.registry import MODELS
from .checks import check_images, check_out_type

__all__ = ['TimmViT']


@MODELS.register_module()
class TimmViT(VisionTransformer, BaseModule):
    """timm's `ViT <https://arxiv.org/abs/2010.11929>`_ for any input bands.

    A subclass of :class:`timm.models.vision_transformer.VisionTransformer`
    (so the state-dict keys are timm's: ``cls_token``, ``pos_embed``,
    ``patch_embed.proj.*``, ``blocks.{i}.*``, ``norm.*``; timm and DeCUR ViT
    checkpoints load unchanged) that is also an mmengine ``BaseModule`` (so
    ``init_cfg``, e.g. ``dict(type='Pretrained', checkpoint=...)``, works).
    It is built exactly as ``timm.create_model(arch, pretrained=False,
    num_classes=0, in_chans=in_channels, img_size=img_size,
    dynamic_img_size=True)`` would build it; ``dynamic_img_size`` lets any
    input size run by resampling the position embedding. DeCUR uses ViT-S/16.

    Args:
        arch (str): A key of :attr:`arch_zoo`. Defaults to
            ``'vit_small_patch16_224'``.
        in_channels (int): Input bands. Defaults to 3.
        img_size (int | Sequence[int]): The size the position embedding is
            stored for. Defaults to 224.
        out_type (str): ``'pooled'`` returns the ``(B, embed_dim)`` class
            token after the final norm; ``'featmap'`` returns the patch
            tokens (after the final norm) of the blocks in ``out_indices``
            as (B, embed_dim, H / patch, W / patch). Defaults to
            ``'pooled'``.
        out_indices (Sequence[int]): Blocks returned by ``'featmap'``;
            negative indices count from the end. Defaults to ``(-1, )``.
        drop_path_rate (float): Stochastic depth rate. Defaults to 0.
        init_cfg (dict | list[dict], optional): mmengine initialization
            config. Defaults to None (timm's own initialization).
        **kwargs: Other arguments of timm's ``VisionTransformer``, e.g.
            ``drop_rate``, ``attn_drop_rate``.
    """

    #: timm's model_args for each variant.
    arch_zoo = {
        'vit_tiny_patch16_224':
        dict(patch_size=16, embed_dim=192, depth=12, num_heads=3),
        'vit_small_patch16_224':
        dict(patch_size=16, embed_dim=384, depth=12, num_heads=6),
        'vit_base_patch16_224':
        dict(patch_size=16, embed_dim=768, depth=12, num_heads=12),
    }

    def __init__(self,
                 arch: str = 'vit_small_patch16_224',
                 in_channels: int = 3,
                 img_size: Union[int, Sequence[int]] = 224,
                 out_type: str = 'pooled',
                 out_indices: Sequence[int] = (-1, ),
                 drop_path_rate: float = 0.,
                 init_cfg: Optional[Union[dict, list]] = None,
                 **kwargs) -> None:
        if arch not in self.arch_zoo:
            raise ValueError(f'Unknown ViT arch {arch!r}; choose from '
                             f'{sorted(self.arch_zoo)}.')
        check_out_type(out_type)
        # timm's constructor ends by calling ``self.init_weights``, which
        # goes to timm's initializer because ``init_cfg`` is set only after.
        super().__init__(
            img_size=img_size,
            in_chans=in_channels,
            num_classes=0,
            dynamic_img_size=True,
            drop_path_rate=drop_path_rate,
            **self.arch_zoo[arch],
            **kwargs)
        self.init_cfg = init_cfg
        self.arch = arch
        self.in_channels = in_channels
        self.out_channels = self.embed_dim
        self.out_type = out_type
        self.out_indices = tuple(out_indices)
        self.featmap_channels = (self.embed_dim, ) * len(self.out_indices)

    def init_weights(self, mode: str = '', needs_reset: bool = True) -> None:
        """Initialize with ``init_cfg`` if given, else with timm's scheme.

        Args:
            mode (str): timm's ``weight_init`` mode (only for timm's own
                initializer). Defaults to ``''``.
            needs_reset (bool): Passed to timm's initializer.
                Defaults to True.
        """
        if getattr(self, 'init_cfg', None):
            BaseModule.init_weights(self)
        else:
            VisionTransformer.init_weights(self, mode, needs_reset)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Forward.

        Args:
            x (torch.Tensor): Images of shape (B, in_channels, H, W).

        Returns:
            tuple[torch.Tensor]: ``((B, embed_dim), )`` for
            ``out_type='pooled'``, else the patch-token maps of the blocks
            in ``out_indices``.
        """
        check_images(x, self.in_channels, 'TimmViT')
        if self.out_type == 'pooled':
            return (self.forward_features(x)[:, 0], )
        return tuple(
            self.forward_intermediates(
                x,
                indices=list(self.out_indices),
                norm=True,
                output_fmt='NCHW',
                intermediates_only=True))

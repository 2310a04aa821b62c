# Copyright (c) mmdecur contributors. All rights reserved.
"""Argument and input checks shared by every backbone family."""
import torch

OUT_TYPES = ('pooled', 'featmap')


def check_out_type(out_type: str) -> str:
    if out_type not in OUT_TYPES:
        raise ValueError(f"out_type must be 'pooled' or 'featmap', but got "
                         f'{out_type!r}.')
    return out_type


def check_images(x: torch.Tensor, in_channels: int, owner: str) -> None:
    """Raise a clear error unless ``x`` is (B, in_channels, H, W)."""
    if x.dim() != 4:
        raise ValueError(f'{owner} expects a (B, C, H, W) tensor but got '
                         f'shape {tuple(x.shape)}.')
    if x.shape[1] != in_channels:
        raise ValueError(f'{owner} expects {in_channels} input channels '
                         f'(in_channels={in_channels}) but got {x.shape[1]}.')

# Copyright (c) mmdecur contributors. All rights reserved.
"""Every registered backbone variant: forward + backward with 2, 13 and 3
input bands, pooled output of the advertised width (timm-style sweep)."""
import pytest
import torch

from mmdecur.models.backbones import MiT, TimmViT
from mmdecur.registry import MODELS

VARIANTS = ([dict(type='ResNet', depth=d)
             for d in (18, 50)] + [dict(type='ResNet', depth=50, rda=True)] +
            [dict(type='MiT', arch=a) for a in sorted(MiT.arch_zoo)] +
            [dict(type='TimmViT', arch=a) for a in sorted(TimmViT.arch_zoo)])


def variant_id(cfg):
    return '-'.join(str(v)
                    for k, v in cfg.items() if k != 'type') or cfg['type']


@pytest.mark.parametrize('in_channels', [2, 13, 3])
@pytest.mark.parametrize(
    'cfg', VARIANTS, ids=[variant_id(c) for c in VARIANTS])
def test_forward_backward(cfg, in_channels):
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg, in_channels=in_channels))
    # 64 px: the smallest input whose ResNet layer4 map is 2x2.
    x = torch.randn(2, in_channels, 64, 64, requires_grad=True)
    (pooled, ) = model(x)
    assert pooled.shape == (2, model.out_channels)
    (pooled * torch.randn_like(pooled)).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0

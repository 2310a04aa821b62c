# Copyright (c) mmdecur contributors. All rights reserved.
import pytest
import timm
import torch

import mmdecur  # noqa: F401  (applies the compat patches)
from mmdecur.models.backbones import TimmViT
from mmdecur.registry import MODELS

EMBED = {
    'vit_tiny_patch16_224': 192,
    'vit_small_patch16_224': 384,
    'vit_base_patch16_224': 768,
}


def timm_reference(arch, in_channels):
    return timm.create_model(
        arch,
        pretrained=False,
        num_classes=0,
        in_chans=in_channels,
        dynamic_img_size=True)


@pytest.mark.parametrize('arch', sorted(EMBED))
def test_same_model_as_timm_create_model(arch):
    ours = TimmViT(arch, in_channels=13).eval()
    ref = timm_reference(arch, 13).eval()
    ref_state = ref.state_dict()
    ours_state = ours.state_dict()
    assert set(ours_state) == set(ref_state)
    for k, v in ref_state.items():
        assert ours_state[k].shape == v.shape, k
    assert ours.out_channels == EMBED[arch]
    ours.load_state_dict(ref_state, strict=True)
    x = torch.randn(1, 13, 64, 96)
    torch.testing.assert_close(ours(x)[0], ref(x))


@pytest.mark.parametrize('in_channels', [13, 2, 3])
@pytest.mark.parametrize('size', [(64, 64), (96, 128), (224, 224)])
def test_vit_small_forward_backward(in_channels, size):
    model = MODELS.build(
        dict(type='TimmViT', in_channels=in_channels, drop_path_rate=0.1))
    assert model.in_channels == in_channels
    x = torch.randn(2, in_channels, *size)
    (cls, ) = model(x)
    assert cls.shape == (2, 384)
    # Not cls.sum(): the sum of a LayerNorm output has no gradient.
    (cls * torch.randn_like(cls)).sum().backward()
    grad = model.patch_embed.proj.weight.grad
    assert grad.shape == (384, in_channels, 16, 16)
    assert grad.abs().sum() > 0


def test_pooled_is_normed_cls_token_and_featmap_patch_tokens():
    model = TimmViT('vit_tiny_patch16_224', in_channels=2).eval()
    x = torch.randn(2, 2, 96, 128)
    tokens = model.forward_features(x)  # (B, 1 + 6 * 8, C), after norm
    (cls, ) = model(x)
    torch.testing.assert_close(cls, tokens[:, 0])
    model.out_type = 'featmap'
    (fmap, ) = model(x)
    assert fmap.shape == (2, 192, 6, 8)
    torch.testing.assert_close(
        fmap, tokens[:, 1:].reshape(2, 6, 8, 192).permute(0, 3, 1, 2))


def test_featmap_out_indices():
    model = TimmViT(
        'vit_tiny_patch16_224',
        in_channels=13,
        out_type='featmap',
        out_indices=(3, 7, -1))
    assert model.featmap_channels == (192, 192, 192)
    outs = model(torch.randn(1, 13, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 192, 4, 4)] * 3


def test_init_cfg_pretrained(tmp_path):
    ref = timm_reference('vit_tiny_patch16_224', 13).eval()
    ckpt = tmp_path / 'vit.pth'
    torch.save(ref.state_dict(), ckpt)
    model = TimmViT(
        'vit_tiny_patch16_224',
        in_channels=13,
        init_cfg=dict(type='Pretrained', checkpoint=str(ckpt)))
    model.init_weights()
    model.eval()
    x = torch.randn(1, 13, 64, 64)
    torch.testing.assert_close(model(x)[0], ref(x))


def test_errors():
    model = TimmViT('vit_tiny_patch16_224', in_channels=13)
    with pytest.raises(
            ValueError,
            match=r'TimmViT expects 13 input channels \(in_channels=13\) '
            'but got 3'):
        model(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match='Unknown ViT arch'):
        TimmViT('vit_huge_patch14_224')
    with pytest.raises(ValueError, match='out_type'):
        TimmViT('vit_tiny_patch16_224', out_type='tokens')

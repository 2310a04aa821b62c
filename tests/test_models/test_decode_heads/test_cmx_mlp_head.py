# Copyright (c) mmdecur contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import mmdecur  # noqa: F401  (applies the compat patches)
from mmdecur.models.backbones import CMXBackbone
from mmdecur.models.decode_heads import CMXMLPHead  # noqa: F401
from mmdecur.registry import MODELS

B0_WIDTHS = [32, 64, 160, 256]


def features(batch=2, size=64, widths=B0_WIDTHS):
    return [
        torch.randn(batch, c, size // 2**(i + 2), size // 2**(i + 2))
        for i, c in enumerate(widths)
    ]


def head(**kwargs):
    cfg = dict(
        type='CMXMLPHead', in_channels=B0_WIDTHS, channels=32, num_classes=7)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def test_output_shape_and_modules():
    model = head()
    model.init_weights()
    logits = model(features())
    assert logits.shape == (2, 7, 16, 16)
    assert [p.weight.shape for p in model.linear_projs] == [(32, c)
                                                            for c in B0_WIDTHS]
    assert model.fusion_conv.conv.weight.shape == (32, 128, 1, 1)
    assert model.fusion_conv.conv.bias is None
    assert model.fusion_conv.bn.eps == 1e-3
    assert model.conv_seg.weight.shape == (7, 32, 1, 1)
    assert isinstance(model.dropout, torch.nn.Dropout2d)
    assert model.dropout.p == 0.1


def test_concatenation_order_is_c4_to_c1():
    """Only c4's projection feeds the first `channels` fuse-conv inputs."""
    model = head(dropout_ratio=0.).eval()
    with torch.no_grad():
        for proj in model.linear_projs:
            proj.weight.zero_()
            proj.bias.zero_()
        model.linear_projs[3].bias.fill_(1.)  # c4 -> constant 1
        conv = model.fusion_conv.conv.weight
        conv.zero_()
        conv[:, :32] = 1. / 32  # inputs 0..31: the c4 block
        model.fusion_conv.bn.weight.fill_(1.)
        model.fusion_conv.bn.bias.zero_()
        model.conv_seg.weight.zero_()
        model.conv_seg.weight[:, 0] = 1.
        model.conv_seg.bias.zero_()
        logits = model(features(batch=1))
    expected = torch.full_like(logits, 1. / (1 + 1e-3)**0.5)
    torch.testing.assert_close(logits, expected)


def test_in_index_selects_stages():
    model = head(in_channels=[64, 256], in_index=[1, 3])
    logits = model(features())
    assert logits.shape == (2, 7, 8, 8)  # at the first selected stage
    with pytest.raises(ValueError, match='multiple_select'):
        head(input_transform='resize_concat')


def test_loss_and_predict_with_seg_data_samples():
    model = head()
    samples = []
    for _ in range(2):
        sample = SegDataSample()
        label = torch.randint(0, 7, (1, 64, 64))
        label[0, :4] = 255  # ignored
        sample.gt_sem_seg = PixelData(data=label)
        sample.set_metainfo(dict(img_shape=(64, 64), ori_shape=(64, 64)))
        samples.append(sample)
    losses = model.loss(features(), samples, train_cfg=dict())
    assert set(losses) == {'loss_ce', 'acc_seg'}
    assert losses['loss_ce'] > 0
    losses['loss_ce'].backward()
    assert model.linear_projs[0].weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        seg_logits = model.predict(
            features(), [s.metainfo for s in samples], test_cfg=dict())
    assert seg_logits.shape == (2, 7, 64, 64)


def test_on_cmx_backbone_with_loss_by_feat():
    backbone = CMXBackbone('b0')
    model = head()
    x = dict(rgb=torch.randn(2, 3, 64, 64), hha=torch.randn(2, 3, 64, 64))
    logits = model(backbone(x))
    sample = SegDataSample()
    sample.gt_sem_seg = PixelData(data=torch.randint(0, 7, (1, 64, 64)))
    losses = model.loss_by_feat(logits, [sample, sample])
    reference = F.cross_entropy(
        F.interpolate(logits, (64, 64), mode='bilinear'),
        torch.stack([sample.gt_sem_seg.data[0]] * 2),
        ignore_index=255)
    torch.testing.assert_close(losses['loss_ce'], reference)

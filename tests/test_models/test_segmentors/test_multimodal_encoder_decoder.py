# Copyright (c) mmdecur contributors. All rights reserved.
import copy

import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmdecur.registry import MODELS

NUM_CLASSES = 5


@MODELS.register_module(force=True)
class _PointwiseEncoder(BaseModule):
    """A per-pixel (1x1) 'backbone': sliding windows cannot change it."""

    def __init__(self, in_channels=3, out_type='featmap'):
        super().__init__()
        self.in_channels = in_channels
        self.conv = nn.Conv2d(in_channels, 4, 1)
        self.featmap_channels = (4, )

    def forward(self, x):
        return (self.conv(x), )


def data_preprocessor():
    return dict(
        type='MultiModalSegDataPreProcessor',
        modalities=dict(
            rgb=dict(mean=[100.] * 3, std=[50.] * 3),
            hha=dict(mean=[90.] * 3, std=[40.] * 3)),
        size_divisor=32)


def fcn_cfg(frozen=False, **test_cfg):
    encoder = dict(
        type='ResNet',
        depth=18,
        base_channels=8,
        stem_channels=8,
        out_indices=(1, 2, 3))
    return dict(
        type='MultiModalEncoderDecoder',
        data_preprocessor=data_preprocessor(),
        backbone=dict(
            type='MultiModalEncoder',
            encoders=dict(rgb=encoder, hha=encoder),
            frozen=frozen),
        decode_head=dict(
            type='MultiModalFCNHead',
            in_channels=[32, 64, 128],
            stage_channels=[8, 16, 32],
            num_classes=NUM_CLASSES),
        test_cfg=dict(mode='whole', **test_cfg))


def pointwise_cfg(**test_cfg):
    return dict(
        type='MultiModalEncoderDecoder',
        data_preprocessor=data_preprocessor(),
        backbone=dict(
            type='MultiModalEncoder',
            encoders=dict(
                rgb=dict(type='_PointwiseEncoder'),
                hha=dict(type='_PointwiseEncoder'))),
        decode_head=dict(
            type='MultiModalFCNHead',
            in_channels=[8],
            stage_channels=[6],
            num_classes=NUM_CLASSES),
        test_cfg=test_cfg)


def batch(n=2, h=64, w=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = {
        m: [
            torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8)
            for _ in range(n)
        ]
        for m in ('rgb', 'hha')
    }
    samples = []
    for _ in range(n):
        s = SegDataSample(metainfo=dict(ori_shape=(h, w), img_shape=(h, w)))
        label = torch.randint(0, NUM_CLASSES, (1, h, w), generator=g)
        label[0, :4] = 255
        s.gt_sem_seg = PixelData(data=label)
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_fcn_trains_and_predicts_full_size_maps():
    torch.manual_seed(0)
    model = MODELS.build(fcn_cfg())
    data = model.data_preprocessor(batch(), True)
    losses = model(**data, mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    loss.backward()
    assert model.backbone.encoders['hha'].conv1.weight.grad is not None
    model.eval()
    with torch.no_grad():
        out = model.test_step(batch(n=1, h=70, w=50))
    assert out[0].pred_sem_seg.shape == (70, 50)
    assert out[0].seg_logits.data.shape == (NUM_CLASSES, 70, 50)


def test_slide_equals_whole_for_a_pointwise_model():
    torch.manual_seed(0)
    whole = MODELS.build(pointwise_cfg(mode='whole')).eval()
    slide = MODELS.build(
        pointwise_cfg(mode='slide', crop_size=(32, 40),
                      stride=(20, 24))).eval()
    slide.load_state_dict(whole.state_dict())
    data = batch(n=1, h=64, w=96)
    with torch.no_grad():
        a = whole.test_step(copy.deepcopy(data))[0].seg_logits.data
        b = slide.test_step(copy.deepcopy(data))[0].seg_logits.data
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_flip_and_multiscale_tta_average_softmax():
    torch.manual_seed(0)
    plain = MODELS.build(pointwise_cfg(mode='whole')).eval()
    tta = MODELS.build(
        pointwise_cfg(mode='whole', tta=dict(scales=(1.0, ),
                                             flip=True))).eval()
    tta.load_state_dict(plain.state_dict())
    data = batch(n=1)
    with torch.no_grad():
        logits = plain.test_step(copy.deepcopy(data))[0].seg_logits.data
        probs = tta.test_step(copy.deepcopy(data))[0].seg_logits.data
    # A pointwise model is flip-equivariant: TTA = softmax of one pass.
    torch.testing.assert_close(probs, logits.softmax(0), rtol=1e-5, atol=1e-6)
    ms = MODELS.build(
        pointwise_cfg(
            mode='whole', tta=dict(scales=(0.5, 1.0, 1.5), flip=True))).eval()
    ms.load_state_dict(plain.state_dict())
    with torch.no_grad():
        out = ms.test_step(copy.deepcopy(data))[0]
    assert out.seg_logits.data.shape == (NUM_CLASSES, 64, 96)
    torch.testing.assert_close(out.seg_logits.data.sum(0), torch.ones(64, 96))


def test_frozen_encoders_keep_weights_and_bn_statistics():
    from mmengine.optim import OptimWrapper
    torch.manual_seed(0)
    model = MODELS.build(fcn_cfg(frozen=True))
    model.train()
    before = copy.deepcopy(model.backbone.state_dict())
    params = [p for p in model.parameters() if p.requires_grad]
    assert params and all(not p.requires_grad
                          for p in model.backbone.parameters())
    optim = OptimWrapper(torch.optim.SGD(params, lr=0.1))
    model.train_step(batch(), optim)
    after = model.backbone.state_dict()
    for key, value in before.items():
        assert torch.equal(value, after[key]), key


def test_a_checkpoint_that_does_not_fit_names_the_keys():
    model = MODELS.build(fcn_cfg())
    state = model.state_dict()
    state['decode_head.classifiers.0.weight'] = torch.zeros(9, 8, 1, 1)
    with pytest.raises(
            ValueError,
            match=r'decode_head\.classifiers\.0\.'
            r'weight: checkpoint \(9, 8, 1, 1\)'):
        model.load_state_dict(state)


def test_missing_modality_is_a_clear_error():
    model = MODELS.build(fcn_cfg())
    data = batch()
    del data['inputs']['hha']
    data = model.data_preprocessor(data, True)
    with pytest.raises(KeyError, match="lacks modality.*'hha'"):
        model(**data, mode='loss')

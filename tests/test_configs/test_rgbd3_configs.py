# Copyright (c) mmdecur contributors. All rights reserved.
"""The RGB + HHA + raw depth configs build models with one encoder per
modality, in order, whose input bands follow the data preprocessor."""
import os.path as osp

import torch

from mmdecur.apis import init_model

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TINY_RESNET = {
    'model.backbone.depth': 18,
    'model.backbone.base_channels': 8,
    'model.backbone.stem_channels': 8,
    'model.projector.hid_channels': 32,
    'model.projector.out_channels': 16,
}


def test_three_modality_decur_models():
    model = init_model(
        osp.join(ROOT, 'configs/decur/rgbd3_rn50.py'), cfg_options=TINY_RESNET)
    assert model.modalities == ['rgb', 'hha', 'depth']
    assert [b.conv1.in_channels for b in model.backbones.values()] == [3, 3, 1]
    with torch.no_grad():
        z = model.embed('depth', torch.randn(2, 1, 32, 32))
    assert z.shape == (2, 16)
    mit = init_model(
        osp.join(ROOT, 'configs/decur/rgbd3_mitb2.py'),
        cfg_options={
            'model.backbone.arch': 'b0',
            'model.projector.hid_channels': 32,
            'model.projector.out_channels': 16
        })
    assert list(mit.backbones) == ['rgb', 'hha', 'depth']
    assert [b.in_channels for b in mit.backbones.values()] == [3, 3, 1]
    assert mit.cfg.optim_wrapper.optimizer.weight_decay == 1e-4


def test_three_encoder_fcn_head_follows_the_encoders():
    for name, classes in (('nyudv2', 40), ('sunrgbd', 37)):
        model = init_model(
            osp.join(ROOT, f'configs/fcn/fcn_rn50_{name}_rgb_hha_depth.py'),
            cfg_options={
                'model.backbone.encoders.depth': 18,
                'model.backbone.encoders.base_channels': 8,
                'model.backbone.encoders.stem_channels': 8,
                'model.decode_head.stage_channels': (8, 16, 32),
            })
        assert model.backbone.modalities == ['rgb', 'hha', 'depth']
        assert model.backbone.encoders.depth.conv1.in_channels == 1
        # ResNet-18 at 1/8 width: stages 2-4 have 16/32/64 channels each.
        assert tuple(model.decode_head.in_channels) == (48, 96, 192)
        assert model.decode_head.num_classes == classes

# Copyright (c) mmdecur contributors. All rights reserved.
"""Modality-missing evaluation (``test_cfg.drop_modalities``) for the FCN,
CMX and the late-fusion classifier: a prediction with the option equals that
of the same model fed the modality's mean image by hand, the other
modalities reach their encoders untouched, and training is unaffected."""
import copy
import importlib.util
import os.path as osp
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper
from mmengine.structures import PixelData
from mmpretrain.structures import DataSample
from mmseg.structures import SegDataSample

from mmdecur.apis import init_model
from mmdecur.models.utils.modality_drop import (blank_modalities,
                                                parse_drop_modalities)
from mmdecur.registry import MODELS

ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
NUM_CLASSES = 5
# Raw-unit statistics; the mean image of a modality is its `mean` per band.
SEG_STATS = dict(
    rgb=dict(mean=[100., 110., 120.], std=[50.] * 3),
    hha=dict(mean=[90.] * 3, std=[40.] * 3),
    depth=dict(mean=[1000.], std=[500.]))
SEG_SCALE = dict(rgb=255, hha=255, depth=4000)
TINY_RN = dict(type='ResNet', depth=18, base_channels=8, stem_channels=8)


def seg_preprocessor(modalities):
    return dict(
        type='MultiModalSegDataPreProcessor',
        modalities={m: SEG_STATS[m]
                    for m in modalities},
        size_divisor=32)


def fcn(modalities=('rgb', 'hha', 'depth'), **test_cfg):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='MultiModalEncoderDecoder',
            data_preprocessor=seg_preprocessor(modalities),
            backbone=dict(
                type='MultiModalEncoder',
                encoders=dict(TINY_RN, out_indices=(1, 2, 3))),
            decode_head=dict(
                type='MultiModalFCNHead',
                stage_channels=[8, 16, 32],
                num_classes=NUM_CLASSES),
            test_cfg=dict(dict(mode='whole'), **test_cfg)))


def cmx(**test_cfg):
    torch.manual_seed(0)
    return MODELS.build(
        dict(
            type='MultiModalEncoderDecoder',
            data_preprocessor=seg_preprocessor(('rgb', 'hha')),
            backbone=dict(type='CMXBackbone', arch='b0'),
            decode_head=dict(
                type='CMXMLPHead', channels=32, num_classes=NUM_CLASSES),
            test_cfg=dict(dict(mode='whole'), **test_cfg)))


def seg_batch(modalities, n=2, h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = {
        m: [
            torch.rand(len(SEG_STATS[m]['mean']), h, w, generator=g) *
            SEG_SCALE[m] for _ in range(n)
        ]
        for m in modalities
    }
    samples = []
    for _ in range(n):
        s = SegDataSample(metainfo=dict(ori_shape=(h, w), img_shape=(h, w)))
        s.gt_sem_seg = PixelData(
            data=torch.randint(0, NUM_CLASSES, (1, h, w), generator=g))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def with_mean_image(data, modality, stats):
    """``data`` with ``modality`` replaced by its mean image, by hand."""
    data = copy.deepcopy(data)
    mean = torch.tensor(stats[modality]['mean']).view(-1, 1, 1)
    data['inputs'][modality] = [
        mean.expand_as(x).clone() for x in data['inputs'][modality]
    ]
    return data


def seg_logits(model, data):
    with torch.no_grad():
        return torch.stack(
            [s.seg_logits.data for s in model.test_step(copy.deepcopy(data))])


def twin(model, build, **test_cfg):
    """The same weights without (or with other) test_cfg options."""
    other = build(**test_cfg)
    other.load_state_dict(model.state_dict())
    return other.eval()


class EncoderInputs:
    """What each encoder of ``encoders`` is fed."""

    def __init__(self, encoders):
        self.seen = {}
        for m, enc in encoders.items():
            enc.register_forward_pre_hook(
                lambda mod, args, m=m: self.seen.__setitem__(m, args[0]))


@pytest.mark.parametrize('test_cfg', [
    dict(),
    dict(mode='slide', crop_size=(24, 24), stride=(16, 16)),
    dict(tta=dict(scales=(0.75, 1.0), flip=True)),
])
def test_fcn_drop_equals_the_mean_image_by_hand(test_cfg):
    modalities = ('rgb', 'hha', 'depth')
    dropping = fcn(drop_modalities=['hha'], **test_cfg).eval()
    plain = twin(dropping, fcn, **test_cfg)
    data = seg_batch(modalities)
    got = seg_logits(dropping, data)
    want = seg_logits(plain, with_mean_image(data, 'hha', SEG_STATS))
    assert torch.allclose(got, want, rtol=0, atol=1e-6)
    # The HHA images no longer matter; without the option they do.
    other_hha = copy.deepcopy(data)
    other_hha['inputs']['hha'] = seg_batch(modalities, seed=1)['inputs']['hha']
    assert torch.allclose(
        seg_logits(dropping, other_hha), got, rtol=0, atol=1e-6)
    assert not torch.allclose(seg_logits(plain, data), got, atol=1e-3)


def test_fcn_other_modalities_reach_their_encoders_untouched():
    modalities = ('rgb', 'hha', 'depth')
    model = fcn(drop_modalities=['hha']).eval()
    seen = EncoderInputs(model.backbone.encoders)
    data = seg_batch(modalities)
    seg_logits(model, data)
    normalised = model.data_preprocessor(copy.deepcopy(data))['inputs']
    assert torch.equal(seen.seen['rgb'], normalised['rgb'])
    assert torch.equal(seen.seen['depth'], normalised['depth'])
    assert seen.seen['hha'].shape == normalised['hha'].shape
    assert not seen.seen['hha'].any()  # zeros: the mean after normalisation


@pytest.mark.parametrize('dropped', ['hha', 'rgb'])
def test_cmx_drop_equals_the_mean_image_by_hand(dropped):
    dropping = cmx(drop_modalities=[dropped]).eval()
    plain = twin(dropping, cmx)
    data = seg_batch(('rgb', 'hha'))
    got = seg_logits(dropping, data)
    want = seg_logits(plain, with_mean_image(data, dropped, SEG_STATS))
    assert torch.allclose(got, want, rtol=0, atol=1e-6)
    assert not torch.allclose(seg_logits(plain, data), got, atol=1e-3)
    # CMX runs its streams stage by stage: watch each first patch embedding.
    seen = EncoderInputs({
        m: e.layers[0][0]
        for m, e in dropping.backbone.encoders.items()
    })
    seg_logits(dropping, data)
    kept = 'rgb' if dropped == 'hha' else 'hha'
    normalised = dropping.data_preprocessor(copy.deepcopy(data))['inputs']
    assert torch.equal(seen.seen[kept], normalised[kept])
    assert not seen.seen[dropped].any()


def seg_loss(model, data):
    model.train()
    data = model.data_preprocessor(copy.deepcopy(data), True)
    torch.manual_seed(1)  # the same dropout / drop-path draws for both
    losses = model(**data, mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    model.zero_grad()
    loss.backward()
    return loss.detach(), {
        k: p.grad.clone()
        for k, p in model.named_parameters() if p.grad is not None
    }


@pytest.mark.parametrize('build', [fcn, cmx])
def test_segmentor_training_is_unaffected(build):
    dropping = build(drop_modalities=['hha'])
    plain = twin(dropping, build)
    data = seg_batch(dropping.backbone.modalities)
    seen = EncoderInputs({
        m: e.layers[0][0] if hasattr(e, 'layers') else e
        for m, e in dropping.backbone.encoders.items()
    })
    loss, grads = seg_loss(dropping, data)
    assert seen.seen['hha'].abs().sum() > 0  # the real HHA input
    want_loss, want_grads = seg_loss(plain, data)
    assert torch.equal(loss, want_loss)
    assert grads.keys() == want_grads.keys()
    assert any('hha' in k for k in grads)
    for k, g in grads.items():
        assert torch.equal(g, want_grads[k]), k


def test_segmentor_bad_drop_options():
    with pytest.raises(KeyError) as e:
        fcn(drop_modalities=['hha', 'dem'])
    assert "['dem']" in str(e.value)
    assert "['rgb', 'hha', 'depth']" in str(e.value)
    with pytest.raises(KeyError, match=r"\['depth'\].*\['rgb', 'hha'\]"):
        cmx(drop_modalities='depth')
    with pytest.raises(TypeError, match='modality names or a dict'):
        fcn(drop_modalities=3)
    with pytest.raises(TypeError, match='drop_modalities.hha must be a num'):
        fcn(drop_modalities=dict(hha='mean'))
    model = fcn(drop_modalities=dict(hha=[0., 0.])).eval()
    with pytest.raises(ValueError, match='2 fill values for 3 bands'):
        seg_logits(model, seg_batch(('rgb', 'hha', 'depth')))


# ------------------------------------------------------------- classifier
CLS_BANDS = dict(s1=2, s2=13)


def classifier(modalities=('s1', 's2'), **test_cfg):
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='LateFusionClassifier',
            backbone=dict(TINY_RN, out_type='pooled'),
            head=dict(
                type='mmpretrain.MultiLabelLinearClsHead',
                num_classes=19,
                loss=dict(
                    type='mmpretrain.CrossEntropyLoss', use_sigmoid=True)),
            modalities=list(modalities),
            test_cfg=test_cfg or None,
            data_preprocessor=dict(
                type='MultiModalDataPreprocessor',
                modalities={
                    m: dict(mean=[0.] * b, std=[255.] * b)
                    for m, b in CLS_BANDS.items()
                })))
    with torch.no_grad():  # a head that reads every feature
        model.head.fc.weight.normal_()
    return model


def cls_batch(n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = {
        m: torch.randint(0, 256, (n, b, 32, 32), generator=g).float()
        for m, b in CLS_BANDS.items()
    }
    samples = [
        DataSample().set_gt_label(lab) for lab in ([0, 4], [], [2], [9])
    ]
    return dict(inputs=inputs, data_samples=samples[:n])


def scores(model, data):
    with torch.no_grad():
        return torch.stack(
            [s.pred_score for s in model.test_step(copy.deepcopy(data))])


def filled(data, modality, raw):
    """``modality`` replaced by a constant raw image (per band)."""
    data = copy.deepcopy(data)
    band = torch.tensor(raw).view(1, -1, 1, 1)
    data['inputs'][modality] = band.expand_as(data['inputs'][modality]).clone()
    return data


@pytest.mark.parametrize(
    'drop, modality, raw',
    [
        (['s1'], 's1', [0., 0.]),  # 0 after normalisation = raw mean 0
        (dict(s1=0.5), 's1', [127.5, 127.5]),  # 0.5 * 255
        (dict(s2=[0.5] * 10 + [0.] + [0.5] * 2), 's2',
         [127.5] * 10 + [0.] + [127.5] * 2),
    ])
def test_classifier_drop_equals_the_fill_image_by_hand(drop, modality, raw):
    dropping = classifier(drop_modalities=drop).eval()
    plain = classifier().eval()
    plain.load_state_dict(dropping.state_dict())
    data = cls_batch()
    got = scores(dropping, data)
    assert torch.allclose(
        got, scores(plain, filled(data, modality, raw)), rtol=0, atol=1e-6)
    assert not torch.allclose(got, scores(plain, data), atol=1e-4)
    seen = EncoderInputs(dropping.backbones)
    scores(dropping, data)
    kept = 's2' if modality == 's1' else 's1'
    normalised = dropping.data_preprocessor(copy.deepcopy(data))['inputs']
    assert torch.equal(seen.seen[kept], normalised[kept])
    assert torch.equal(
        seen.seen[modality],
        torch.tensor(raw).div(255).view(1, -1, 1,
                                        1).expand_as(normalised[modality]))
    # 'tensor' mode (features, analysis) never drops.
    with torch.no_grad():
        assert torch.equal(
            dropping(normalised, mode='tensor'),
            plain(normalised, mode='tensor'))


def test_classifier_training_is_unaffected():
    dropping = classifier(drop_modalities=['s2'])
    plain = classifier()
    plain.load_state_dict(dropping.state_dict())
    for model in (dropping, plain):
        optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
        model.train()
        for seed in range(2):
            model.train_step(cls_batch(seed=seed), optim)
    for key, value in plain.state_dict().items():
        assert torch.equal(dropping.state_dict()[key], value), key


def test_classifier_bad_drop_options():
    with pytest.raises(KeyError, match=r"\['s2a'\].*\['s1', 's2'\]"):
        classifier(drop_modalities=['s2a'])
    with pytest.raises(KeyError, match=r"\['s2'\].*\['s1'\]"):
        classifier(['s1'], drop_modalities=['s2'])
    with pytest.raises(KeyError, match=r"unknown test_cfg keys \['mode'\]"):
        classifier(mode='whole')
    with pytest.raises(KeyError, match=r"pretrained_modalities.*\['S2'\]"):
        MODELS.build(
            dict(
                type='LateFusionClassifier',
                backbone=dict(TINY_RN, out_type='pooled'),
                head=dict(
                    type='mmpretrain.MultiLabelLinearClsHead', num_classes=19),
                modalities=['s1'],
                pretrained_modalities=dict(S2='s2c'),
                data_preprocessor=classifier().data_preprocessor))


# ---------------------------------------------------------------- helpers
def test_blank_modalities_passes_the_others_through():
    x = dict(a=torch.randn(2, 3, 4, 4), b=torch.randn(2, 1, 4, 4))
    out = blank_modalities(x, parse_drop_modalities('b', ['a', 'b'], 'M'))
    assert out['a'] is x['a'] and not out['b'].any()
    assert out['b'].shape == x['b'].shape and x['b'].any()  # not in place
    out = blank_modalities(x, dict(a=(1., 2., 3.)))
    assert out['a'][:, 1].eq(2.).all() and out['a'][:, 2].eq(3.).all()
    with pytest.raises(KeyError, match="lacks modality 'c'"):
        blank_modalities(x, dict(c=0.))
    assert parse_drop_modalities(None, ['a'], 'M') == {}
    assert parse_drop_modalities(['a', 'b'], ['a', 'b'], 'M') == dict(
        a=0., b=0.)


# ---------------------------------------------------------------- configs
EXAMPLES = [
    ('configs/fcn/fcn_rn50_nyudv2_test_drop_hha.py',
     'configs/fcn/fcn_rn50_nyudv2.py', ['hha']),
    ('configs/cmx/cmx_mitb2_nyudv2_test_drop_hha.py',
     'configs/cmx/cmx_mitb2_nyudv2.py', ['hha']),
    ('configs/bigearthnet/late_fusion_rn50_finetune_test_drop_s1.py',
     'configs/bigearthnet/late_fusion_rn50_finetune.py', dict(s1=0.5)),
]


@pytest.mark.parametrize('config, base, drop', EXAMPLES)
def test_example_configs_only_set_the_option(config, base, drop):
    cfg = Config.fromfile(osp.join(ROOT, config)).to_dict()
    want = Config.fromfile(osp.join(ROOT, base)).to_dict()
    want['model'].setdefault('test_cfg', {})['drop_modalities'] = drop
    assert cfg == want


def load_test_tool():
    sys.path.insert(0, osp.join(ROOT, 'tools'))
    try:
        spec = importlib.util.spec_from_file_location(
            '_tools_test', osp.join(ROOT, 'tools', 'test.py'))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(osp.join(ROOT, 'tools'))
    return module


@pytest.mark.parametrize('option, want', [
    ('model.test_cfg.drop_modalities=hha', dict(hha=0.)),
    ('model.test_cfg.drop_modalities=[rgb,hha]', dict(rgb=0., hha=0.)),
    ('model.test_cfg.drop_modalities.hha=0.25', dict(hha=0.25)),
])
def test_tools_test_sets_it_with_cfg_options(option, want, monkeypatch):
    tool = load_test_tool()
    config = osp.join(ROOT, 'configs/fcn/fcn_rn50_nyudv2.py')
    monkeypatch.setattr(sys, 'argv', [
        'test.py', config, 'x.pth', '--cfg-options', option,
        'model.backbone.encoders.depth=18'
    ])
    args = tool.parse_args()
    cfg = tool.merge_common_args(Config.fromfile(config), args)
    model = init_model(cfg)
    assert model._dropped_modalities() == want
    assert model.test_cfg.mode == 'slide'  # the rest of test_cfg stays

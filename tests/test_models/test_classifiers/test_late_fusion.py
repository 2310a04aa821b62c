# Copyright (c) mmdecur contributors. All rights reserved.
"""LateFusionClassifier: fused forward and loss, linear probing really
freezes the encoders, every encoder gets exactly its pretrained modality's
tensors, and checkpoints that do not fit are errors."""
import copy

import numpy as np
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmengine.runner import save_checkpoint
from mmpretrain.structures import DataSample, label_to_onehot

from mmdecur.registry import MODELS, TRANSFORMS

BANDS = dict(s1=2, s2=13)
TINY_RN = dict(
    type='ResNet',
    depth=18,
    base_channels=8,
    stem_channels=8,
    out_type='pooled')
# ResNet-18 at 1/8 width: 32 / 64 channels in stages 3 / 4.
TINY_RDA = dict(
    layer3=dict(
        num_heads=4,
        head_channels=8,
        num_groups=2,
        offset_stride=2,
        offset_kernel_size=5,
        rpe_size=(2, 2)),
    layer4=dict(
        num_heads=8,
        head_channels=8,
        num_groups=2,
        offset_stride=1,
        offset_kernel_size=3,
        rpe_size=(1, 1)))


def preprocessor(bands):
    return dict(
        type='MultiModalDataPreprocessor',
        modalities={
            m: dict(mean=[0.] * b, std=[255.] * b)
            for m, b in bands.items()
        })


def classifier(
        modalities=('s1', 's2'),
        rda=None,
        checkpoint=None,
        pretrained=dict(s2='s2c'),
        **kwargs):
    backbone = dict(TINY_RN, rda=rda) if rda else TINY_RN
    cfg = dict(
        type='LateFusionClassifier',
        backbone=backbone,
        head=dict(
            type='mmpretrain.MultiLabelLinearClsHead',
            num_classes=19,
            loss=dict(
                type='mmpretrain.CrossEntropyLoss',
                use_sigmoid=True,
                loss_weight=1 / 19),
            init_cfg=dict(type='Normal', layer='Linear', std=0.01, bias=0.)),
        modalities=list(modalities),
        pretrained_modalities=pretrained,
        data_preprocessor=preprocessor(BANDS),
        **kwargs)
    if checkpoint:
        cfg['init_cfg'] = dict(type='Pretrained', checkpoint=checkpoint)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def decur(bands=dict(s1=2, s2c=13), rda=None, seed=1):
    """A tiny DeCUR pretraining model with non-default BN statistics."""
    torch.manual_seed(seed)
    model = MODELS.build(
        dict(
            type='DeCUR',
            backbone=dict(TINY_RN, rda=rda) if rda else TINY_RN,
            projector=dict(type='Projector', hid_channels=16, out_channels=16),
            loss=dict(type='DeCURLoss', dim_common=12),
            data_preprocessor=preprocessor(bands)))
    model.train()
    with torch.no_grad():
        for m, b in bands.items():
            model.embed(m, torch.randn(4, b, 32, 32))
    return model


def save(model, path):
    save_checkpoint(dict(state_dict=model.state_dict(), meta={}), str(path))
    return str(path)


def batch(n=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = {
        m: torch.randint(0, 256, (n, b, size, size),
                         generator=g).to(torch.uint8)
        for m, b in BANDS.items()
    }
    labels = [[0, 4], [], [2, 3, 18], [9]][:n]
    samples = [DataSample().set_gt_label(lab) for lab in labels]
    return dict(inputs=inputs, data_samples=samples)


def test_fused_forward_loss_and_predict():
    torch.manual_seed(0)
    model = classifier()
    assert list(model.backbones) == ['s1', 's2']
    assert model.backbones['s1'].in_channels == 2
    assert model.backbones['s2'].in_channels == 13
    assert model.head.fc.in_features == 64 + 64
    assert model.head.fc.bias.abs().sum() == 0
    assert model.head.fc.weight.std().item() == pytest.approx(0.01, rel=0.2)
    data = model.data_preprocessor(batch())
    feats = model.extract_feat(data['inputs'])
    expected = torch.cat([
        model.backbones['s1'](data['inputs']['s1'])[-1], model.backbones['s2'](
            data['inputs']['s2'])[-1]
    ], 1)
    assert torch.allclose(feats, expected)
    logits = model(data['inputs'], mode='tensor')
    assert logits.shape == (4, 19)
    assert torch.allclose(logits, model.head.fc(feats))
    # The official MultiLabelSoftMarginLoss, with multi-hot targets.
    target = torch.zeros(4, 19)
    for i, lab in enumerate([[0, 4], [], [2, 3, 18], [9]]):
        target[i, lab] = 1
    loss = model(**data, mode='loss')['loss']
    want = torch.nn.MultiLabelSoftMarginLoss()(logits, target)
    assert loss.item() == pytest.approx(want.item(), rel=1e-5)
    model.eval()
    with torch.no_grad():
        out = model(**data, mode='predict')
        logits = model(data['inputs'], mode='tensor')
    assert out[0].pred_score.shape == (19, )
    assert torch.allclose(out[0].pred_score, logits[0].sigmoid())
    assert torch.equal(out[2].gt_label, torch.tensor([2, 3, 18]))


def test_single_modality_ignores_other_inputs():
    model = classifier(modalities=['s1'])
    assert list(model.backbones) == ['s1'] and model.head.fc.in_features == 64
    data = model.data_preprocessor(batch())
    logits = model(data['inputs'], mode='tensor')
    only = model({'s1': data['inputs']['s1']}, mode='tensor')
    assert torch.equal(logits, only)
    with pytest.raises(KeyError, match="lacks modality.*'s1'"):
        model({'s2': data['inputs']['s2']}, mode='tensor')


def snapshot(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def train_steps(model, steps=2):
    optim = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9))
    model.train()
    for i in range(steps):
        model.train_step(batch(seed=i), optim)


@pytest.mark.parametrize('rda', [None, TINY_RDA])
def test_linear_probing_freezes_weights_and_bn_statistics(rda):
    torch.manual_seed(0)
    model = classifier(frozen=True, rda=rda)
    model.train()
    assert not any(m.training for m in model.backbones.modules())
    assert model.head.training
    assert not any(p.requires_grad for p in model.backbones.parameters())
    backbones, head = snapshot(model.backbones), snapshot(model.head)
    train_steps(model)
    after = model.backbones.state_dict()
    assert any('running_mean' in k for k in after)
    for key, value in backbones.items():
        assert torch.equal(after[key], value), key
    assert not torch.equal(model.head.fc.weight, head['fc.weight'])

    # Fine-tuning changes the weights and the BN statistics.
    tuned = classifier(frozen=False, rda=rda)
    before = snapshot(tuned.backbones)
    train_steps(tuned)
    after = tuned.backbones.state_dict()
    for key in ('s1.conv1.weight', 's2.layer1.0.bn1.running_mean'):
        assert not torch.equal(after[key], before[key]), key


def assert_transferred(model, pretrained, mapping):
    """Every encoder tensor equals its pretrained modality's, and every
    pretrained tensor of those modalities landed."""
    source = pretrained.state_dict()
    target = model.state_dict()
    for m, src in mapping.items():
        own = {
            k[len(f'backbones.{m}.'):]
            for k in target if k.startswith(f'backbones.{m}.')
        }
        theirs = {
            k[len(f'backbones.{src}.'):]
            for k in source if k.startswith(f'backbones.{src}.')
        }
        assert own == theirs, m
        for key in own:
            assert torch.equal(target[f'backbones.{m}.{key}'],
                               source[f'backbones.{src}.{key}']), (m, key)
    assert set(k.split('.')[1] for k in target
               if k.startswith('backbones.')) == set(mapping)


@pytest.mark.parametrize('rda', [None, TINY_RDA])
def test_each_encoder_gets_its_pretrained_modality(tmp_path, rda):
    pretrained = decur(rda=rda)
    ckpt = save(pretrained, tmp_path / 'decur.pth')
    model = classifier(checkpoint=ckpt, rda=rda)
    assert_transferred(model, pretrained, dict(s1='s1', s2='s2c'))
    assert any('da_layer4' in k for k in model.state_dict()) == bool(rda)
    # The two encoders differ: no tensor of one landed in the other.
    assert not torch.equal(
        model.state_dict()['backbones.s1.layer1.0.conv1.weight'],
        model.state_dict()['backbones.s2.layer1.0.conv1.weight'])
    assert model.head.fc.bias.abs().sum() == 0  # the head stays new

    assert_transferred(
        classifier(['s1'], checkpoint=ckpt, rda=rda), pretrained,
        dict(s1='s1'))
    assert_transferred(
        classifier(['s2'], checkpoint=ckpt, rda=rda), pretrained,
        dict(s2='s2c'))

    # A checkpoint of the classifier itself loads without renaming.
    own = save(model, tmp_path / 'classifier.pth')
    other = classifier(rda=rda)
    other.load_state_dict(
        torch.load(own, weights_only=False)['state_dict'], strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(other.state_dict()[key], value), key


def test_encoders_picked_from_a_three_modality_checkpoint(tmp_path):
    """SSL4EO-S12 S1 + S2 L1C + S2 L2A pretraining: the mapping picks which
    optical encoder feeds 's2'; the third modality stays behind."""
    pretrained = decur(dict(s1=2, s2c=13, s2a=13))
    ckpt = save(pretrained, tmp_path / 'decur3.pth')
    l1c = classifier(checkpoint=ckpt)
    assert_transferred(l1c, pretrained, dict(s1='s1', s2='s2c'))
    l2a = classifier(checkpoint=ckpt, pretrained=dict(s2='s2a'))
    assert_transferred(l2a, pretrained, dict(s1='s1', s2='s2a'))
    assert not torch.equal(l1c.state_dict()['backbones.s2.conv1.weight'],
                           l2a.state_dict()['backbones.s2.conv1.weight'])
    assert_transferred(
        classifier(['s2'], checkpoint=ckpt, pretrained=dict(s2='s2a')),
        pretrained, dict(s2='s2a'))
    with pytest.raises(
            KeyError,
            match=r"'s2' encoder.*backbones\.s2l2a.*"
            r"\['s1', 's2a', 's2c'\]"):
        classifier(checkpoint=ckpt, pretrained=dict(s2='s2l2a'))


def test_checkpoints_that_do_not_fit(tmp_path):
    # SAR encoder pretrained on 13 bands (another scenario): a clear error.
    wrong = save(decur(dict(s1=13, s2c=13)), tmp_path / 'wrong.pth')
    with pytest.raises(
            ValueError,
            match=r'backbones\.s1\.conv1\.weight: '
            r'checkpoint \(8, 13, 7, 7\) vs model \(8, 2, 7, 7\)'):
        classifier(['s1'], checkpoint=wrong)
    # The optical encoder read from 's2c': the message says so.
    flipped = save(decur(dict(s1=13, s2c=2)), tmp_path / 'flipped.pth')
    with pytest.raises(ValueError) as e:
        classifier(['s2'], checkpoint=flipped)
    assert 'backbones.s2.conv1.weight' in str(e.value)
    assert "checkpoint encoder 's2c' -> 's2'" in str(e.value)
    # RGB-DEM weights have no SAR encoder.
    rgbd = save(decur(dict(rgb=3, dem=3)), tmp_path / 'rgbd.pth')
    with pytest.raises(KeyError, match=r"'s1' encoder.*\['dem', 'rgb'\]"):
        classifier(['s1'], checkpoint=rgbd)
    with pytest.raises(KeyError, match=r"backbones\.s2c"):
        classifier(['s2'], checkpoint=rgbd)
    # ResNet-50 weights into the ResNet-18 classifier.
    model = classifier(['s1'])
    state = copy.deepcopy(model.state_dict())
    state['backbones.s1.layer1.0.conv1.weight'] = torch.zeros(64, 64, 1, 1)
    with pytest.raises(ValueError, match='layer1.0.conv1.weight'):
        model.load_state_dict(state)


def test_config_errors():
    head = dict(type='mmpretrain.MultiLabelLinearClsHead', num_classes=19)
    with pytest.raises(ValueError, match='2 bands.*in_channels=3'):
        MODELS.build(
            dict(
                type='LateFusionClassifier',
                backbone=dict(TINY_RN, in_channels=3),
                head=head,
                modalities=['s1'],
                data_preprocessor=preprocessor(BANDS)))
    with pytest.raises(KeyError, match="no entry for modality 's2'"):
        MODELS.build(
            dict(
                type='LateFusionClassifier',
                backbone=dict(s1=TINY_RN),
                head=head,
                data_preprocessor=preprocessor(BANDS)))


def test_packed_labels_are_multi_hot_targets():
    """PackMultiModalClsInputs -> gt_label -> the head's multi-hot target
    (an empty label list = all negatives)."""
    pack = TRANSFORMS.build(dict(type='PackMultiModalClsInputs'))
    imgs = dict(s1=np.zeros((8, 8, 2), np.uint8))
    for labels in ([], [3, 18]):
        out = pack(dict(imgs=imgs, gt_label=labels, sample_idx=0))
        sample = out['data_samples']
        assert sample.gt_label.dtype == torch.int64
        assert sample.gt_label.tolist() == labels
        assert sample.sample_idx == 0
        hot = label_to_onehot(sample.gt_label, 19)
        assert hot.sum() == len(labels) and hot[labels].all()
    assert 'gt_label' not in pack(dict(imgs=imgs))['data_samples']

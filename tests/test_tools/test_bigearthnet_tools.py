# Copyright (c) mmdecur contributors. All rights reserved.
"""Every BigEarthNet config family trains 2 epochs from a DeCUR checkpoint on
a tiny BigEarthNet-MM in the released layout (tools/train.py, validating on
the val split), and tools/test.py reports micro and macro mAP on the test
split and writes them as JSON. Linear probing leaves the pretrained encoders
exactly as they were; fine-tuning changes them."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import save_checkpoint

from mmdecur.datasets import BIGEARTHNET_S2_BANDS, bigearthnet_19_labels
from mmdecur.datasets.ssl4eo_s12 import SSL4EO_S12_BANDS
from mmdecur.registry import DATASETS, MODELS
from mmdecur.testing import fake_data

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# ResNet-18 at 1/8 width has 32/64 channels in stages 3/4.
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
TINY_RN = dict(type='ResNet', depth=18, base_channels=8, stem_channels=8)

# Inherits the real config; sizes shrink, the checkpoint is the test's.
TINY = """
_base_ = '{config}'
model = dict(
    backbone=dict(depth=18, base_channels=8, stem_channels=8{rda}),
    init_cfg=dict(checkpoint='{checkpoint}'))
train_pipeline = (_base_.train_pipeline[:3] +
                  [dict(_base_.train_pipeline[3], size=32)] +
                  _base_.train_pipeline[4:])
test_pipeline = (_base_.test_pipeline[:3] +
                 [dict(_base_.test_pipeline[3], size=36),
                  dict(_base_.test_pipeline[4], size=32)] +
                 _base_.test_pipeline[5:])
loader = dict(num_workers=0, persistent_workers=False, pin_memory=False)
train_dataloader = dict(
    batch_size=4, **loader,
    dataset=dict(data_root='{data_root}', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=2, **loader,
    dataset=dict(data_root='{data_root}', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=2, **loader,
    dataset=dict(data_root='{data_root}', pipeline=test_pipeline))
train_cfg = dict(max_epochs=2, val_interval=2)
# Fewer config dumps (each a yapf run of ~2 s on this machine).
default_hooks = dict(
    logger=dict(interval=1), checkpoint=dict(interval=2, save_best=None))
vis_backends = []
visualizer = dict(vis_backends=[])
"""
RDA = f',\n        rda=dict(_delete_=True, **{TINY_RDA!r})'

# family: (config, rda, encoder -> pretrained modality, frozen)
FAMILIES = dict(
    late_fusion_linear_1pct=('late_fusion_rn50_linear_1pct.py', False,
                             dict(s1='s1', s2='s2c'), True),
    sar_finetune=('sar_rn50_finetune.py', False, dict(s1='s1'), False),
    optical_linear_10pct=('optical_rn50_linear_10pct.py', False,
                          dict(s2='s2c'), True),
    late_fusion_rda_linear=('late_fusion_rn50_rda_linear.py', True,
                            dict(s1='s1', s2='s2c'), True),
)


def pretrain_checkpoint(path, rda):
    """A tiny DeCUR SSL4EO-S12 checkpoint (SAR 's1', optical 's2c')."""
    torch.manual_seed(1)
    backbone = dict(TINY_RN, rda=TINY_RDA) if rda else TINY_RN
    model = MODELS.build(
        dict(
            type='DeCUR',
            backbone=backbone,
            projector=dict(type='Projector', hid_channels=16, out_channels=16),
            loss=dict(type='DeCURLoss', dim_common=12),
            data_preprocessor=dict(
                type='MultiModalDataPreprocessor',
                modalities=dict(
                    s1=dict(mean=[0.] * 2, std=[1.] * 2),
                    s2c=dict(mean=[0.] * 13, std=[1.] * 13)))))
    with torch.no_grad():  # BN statistics that differ from a fresh init
        model.embed('s1', torch.randn(4, 2, 32, 32))
        model.embed('s2c', torch.randn(4, 13, 32, 32))
    save_checkpoint(dict(state_dict=model.state_dict(), meta={}), path)
    return path


def run_parallel(commands):
    """Run the commands at once (2 cores; imports dominate), return their
    output; each must succeed."""
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHON=sys.executable)
    procs = [
        subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True) for cmd in commands
    ]
    outputs = []
    for cmd, proc in zip(commands, procs):
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, ' '.join(cmd) + '\n' + out[-5000:]
        outputs.append(out)
    return outputs


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('bigearthnet')
    data_root = str(tmp / 'data')
    fake_data.make_bigearthnet(data_root, num_train=8, num_val=2, num_test=4)
    ckpts = {
        rda: pretrain_checkpoint(str(tmp / f'decur_rda{int(rda)}.pth'), rda)
        for rda in (False, True)
    }
    specs = {}
    for family, (config, rda, _, _) in FAMILIES.items():
        path = tmp / f'{family}.py'
        path.write_text(
            TINY.format(
                config=osp.join(ROOT, 'configs/bigearthnet', config),
                rda=RDA if rda else '',
                checkpoint=ckpts[rda],
                data_root=data_root))
        specs[family] = dict(
            config=str(path),
            work_dir=str(tmp / family),
            pretrained=ckpts[rda])
    train_logs = run_parallel([[
        sys.executable, 'tools/train.py', s['config'], '--work-dir',
        s['work_dir']
    ] for s in specs.values()])
    test_logs = run_parallel([[
        sys.executable, 'tools/test.py', s['config'],
        osp.join(s['work_dir'], 'epoch_2.pth'), '--work-dir',
        osp.join(s['work_dir'], 'test'), '--out',
        osp.join(s['work_dir'], 'mAP.json')
    ] for s in specs.values()])
    for spec, train_log, test_log in zip(specs.values(), train_logs,
                                         test_logs):
        spec.update(train_log=train_log, test_log=test_log)
    return specs


@pytest.mark.parametrize('family', list(FAMILIES))
def test_train_then_test_reports_micro_and_macro_map(runs, family):
    spec = runs[family]
    # The val split was evaluated during training.
    assert 'val-split/mAP_micro' in spec['train_log']
    assert 'load model from: ' + spec['pretrained'] in spec['train_log']
    with open(osp.join(spec['work_dir'], 'mAP.json')) as f:
        metrics = json.load(f)
    micro, macro = metrics['test-split/mAP_micro'], metrics[
        'test-split/mAP_macro']
    assert 0 <= micro <= 100 and 0 <= macro <= 100
    assert 0 <= metrics['test-split/num_absent_classes'] < 19
    assert (f'test-split/mAP_micro: {micro:.2f}  '
            f'test-split/mAP_macro: {macro:.2f}') in spec['test_log']


@pytest.mark.parametrize('family', list(FAMILIES))
def test_encoders_frozen_or_tuned(runs, family):
    _, _, mapping, frozen = FAMILIES[family]
    spec = runs[family]
    pretrained = torch.load(
        spec['pretrained'], map_location='cpu',
        weights_only=False)['state_dict']
    trained = torch.load(
        osp.join(spec['work_dir'], 'epoch_2.pth'),
        map_location='cpu',
        weights_only=False)['state_dict']
    encoders = {k.split('.')[1] for k in trained if k.startswith('backbones.')}
    assert encoders == set(mapping)
    changed = []
    for m, src in mapping.items():
        keys = [k for k in pretrained if k.startswith(f'backbones.{src}.')]
        assert keys
        for key in keys:
            ours = trained['backbones.' + m + key[len('backbones.' + src):]]
            if not torch.equal(ours, pretrained[key]):
                changed.append(key)
    if frozen:  # weights and BN statistics exactly the pretrained ones
        assert changed == []
    else:
        assert any(k.endswith('conv1.weight') for k in changed)
        assert any(k.endswith('running_mean') for k in changed)


def test_configs_feed_the_pretraining_bands_and_scaling(tmp_path):
    """The real configs' data path: S2 in SSL4EO-S12's 13-band L1C order
    (zero B10 -> 0) and S1 in VV, VH order, each scaled to uint8 with the
    BigEarthNet statistics, x / 255 into the network as in pretraining."""
    assert BIGEARTHNET_S2_BANDS == SSL4EO_S12_BANDS['s2c']
    rows = fake_data.make_bigearthnet(
        str(tmp_path), num_train=1, num_val=1, num_test=1)
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/bigearthnet/late_fusion_rn50_linear.py'))
    pretrain = Config.fromfile(
        osp.join(ROOT, 'configs/decur/sar_optical_rn50.py'))
    for m, src in cfg.model.pretrained_modalities.items():
        assert cfg.data_preprocessor.modalities[m] == \
            pretrain.data_preprocessor.modalities[src]
    dataset = DATASETS.build(
        dict(cfg.test_dataloader.dataset, data_root=str(tmp_path)))
    assert dataset.split == 'test'
    assert dataset.metainfo['bands']['s1'] == SSL4EO_S12_BANDS['s1']
    assert dataset.metainfo['bands']['s2'] == SSL4EO_S12_BANDS['s2c']
    assert cfg.val_dataloader.dataset.split == 'val'
    packed = dataset[0]
    patch = 2  # train, val, test: the third patch written
    s2, s1 = packed['inputs']['s2'], packed['inputs']['s1']
    assert s2.shape == (13, 224, 224) and s1.shape == (2, 224, 224)
    assert s2.dtype == s1.dtype == torch.uint8

    def scaled(value, mean, std):
        unit = (value - (mean - 2 * std)) / (4 * std)
        return round(255 * min(max(unit, 0.), 1.))

    stats = cfg.s2_stats
    for i, band in enumerate(SSL4EO_S12_BANDS['s2c']):
        file_band = band if band in ('B8A', 'B10') else f'B{int(band[1:]):02d}'
        value = 0 if band == 'B10' else fake_data.bigearthnet_s2_value(
            patch, file_band)
        want = scaled(value, stats['mean'][i], stats['std'][i])
        assert (s2[i] == want).all(), band
    assert (s2[10] == 0).all()  # the missing B10 stays 0
    for i, value in enumerate(fake_data.bigearthnet_s1_values(patch)):
        want = scaled(value, cfg.s1_stats['mean'][i], cfg.s1_stats['std'][i])
        assert (s1[i] == want).all(), i  # VV first
    labels = packed['data_samples'].gt_label.tolist()
    assert labels == bigearthnet_19_labels(rows['test'][0][2])

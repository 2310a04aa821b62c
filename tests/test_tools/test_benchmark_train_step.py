# Copyright (c) mmdecur contributors. All rights reserved.
"""tools/analysis_tools/benchmark_train_step.py on the tiny demo, CPU.

No timings are asserted: the tool must run, report every phase, and its
plain reference loop must compute what the real step computes (the same
loss at step 1 from the same weights and batch), also when the real step
uses channels_last, a fused optimizer or the RDA backbone.
"""
import importlib.util
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmdecur.testing import DEMO_CONFIG

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
RDA_CONFIG = osp.join(ROOT, 'configs/decur/demo_synthetic_rda.py')
spec = importlib.util.spec_from_file_location(
    'benchmark_train_step',
    osp.join(ROOT, 'tools', 'analysis_tools', 'benchmark_train_step.py'))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

TINY = [
    'model.backbone.base_channels=4', 'model.backbone.stem_channels=4',
    'model.projector.hid_channels=32', 'model.projector.out_channels=32'
]
TINY_RDA = TINY + [
    'model.backbone.rda.layer3.head_channels=4',
    'model.backbone.rda.layer4.head_channels=4'
]


def run_tool(tmp_path, config, *args):
    out = tmp_path / 'bench.json'
    warmup = '1' if 'loader' in args else '0'
    bench.main([
        config, '--device', 'cpu', '--steps', '2', '--warmup', warmup,
        '--batch-size', '4', '--out',
        str(out), *args
    ])
    return json.loads(out.read_text())


@pytest.mark.parametrize('config,options,extra', [
    (DEMO_CONFIG, TINY, []),
    (DEMO_CONFIG, TINY, ['--channels-last', '--optimizer-impl', 'fused']),
    (RDA_CONFIG, TINY_RDA, ['--channels-last']),
    (DEMO_CONFIG, TINY + ['train_dataloader.dataset.num_samples=8'],
     ['--data', 'loader', '--workers', '0']),
])
def test_runs_and_reference_computes_the_same_loss(tmp_path, capsys, config,
                                                   options, extra):
    res = run_tool(tmp_path, config, '--cfg-options', *options, *extra)
    table = capsys.readouterr().out
    for row in ('samples/s', 'ms / step', 'peak memory', 'loss at step 1',
                *bench.PHASES):
        assert row in table
    assert res['batch_size'] == 4 and res['steps'] == 2
    # The demo's format: 2 views of image_size px of rgb + depth.
    assert res['modalities'] == {'rgb': 3, 'depth': 1}
    if res['data'] == 'synthetic':
        size = Config.fromfile(config).image_size
        assert res['num_views'] == 2 and res['input_size'] == [size, size]
    for loop in ('real', 'reference'):
        r = res[loop]
        assert set(r['phases_ms']) == set(bench.PHASES)
        assert all(v >= 0 for v in r['phases_ms'].values())
        assert r['phases_ms']['forward'] > 0 and r['phases_ms']['backward'] > 0
        assert r['ms_per_step'] > 0 and r['samples_per_s'] > 0
        assert r['peak_memory_mib'] > 0
        # One step trains: the loss moves.
        assert r['loss_last'] != r['loss_step1']
    # Like with like: same weights, same batch, same loss at step 1.
    assert res['loss_step1_rel_diff'] < 1e-5
    assert res['speedup'] == pytest.approx(res['reference']['ms_per_step'] /
                                           res['real']['ms_per_step'])
    assert res['reference']['optimizer_impl'] == 'default'
    if '--optimizer-impl' in extra:
        assert res['optimizer_impl'] == 'fused'
    assert res['channels_last'] == ('--channels-last' in extra)


def test_reference_is_the_plain_configuration():
    cfg = bench.load_config(
        RDA_CONFIG,
        channels_last=True,
        optimizer_impl='fused',
        cfg_options=dict(
            (o.split('=')[0], int(o.split('=')[1])) for o in TINY_RDA))
    assert cfg.model.backbone.channels_last is True
    assert cfg.optim_wrapper.optimizer.fused is True
    ref = bench.plain_config(cfg)
    assert 'channels_last' not in ref.model.backbone
    assert ref.model.batch_views is False
    assert 'fused' not in ref.optim_wrapper.optimizer
    assert 'constructor' not in ref.optim_wrapper
    # The real config is left as it was.
    assert cfg.model.backbone.channels_last is True


def test_lars_reference_is_mmpretrains():
    cfg = bench.load_config(
        osp.join(ROOT, 'configs/decur/sar_optical_rn50.py'))
    assert cfg.optim_wrapper.optimizer.type == 'LARS'
    ref = bench.plain_config(cfg)
    assert ref.optim_wrapper.optimizer.type == 'mmpretrain.LARS'


def test_synthetic_batch_matches_the_pipeline():
    torch.manual_seed(0)
    cfg = bench.load_config(
        osp.join(ROOT, 'configs/decur/sar_optical_rn50.py'),
        cfg_options={
            'model.backbone.depth': 18,
            'model.projector.hid_channels': 64,
            'model.projector.out_channels': 64
        })
    assert bench.infer_input_size(cfg) == (224, 224)
    assert bench.infer_num_views(cfg) == 2
    model = bench.build_model(cfg, torch.device('cpu'))
    batch = bench.synthetic_batch(model, cfg, 3, (16, 24), 2, seed=0)
    assert list(batch['inputs']) == ['s1', 's2c']
    for m, bands in (('s1', 2), ('s2c', 13)):
        views = batch['inputs'][m]
        assert len(views) == 2
        assert all(v.shape == (3, bands, 16, 24) for v in views)
        assert all(v.dtype == torch.uint8 for v in views)
    # What the data preprocessor and the model accept.
    data = model.data_preprocessor(batch, True)
    loss, _ = model.parse_losses(model(**data, mode='loss'))
    assert torch.isfinite(loss)


def test_data_loader_needs_a_warmup_step():
    with pytest.raises(ValueError, match='warmup'):
        bench.benchmark(DEMO_CONFIG, device='cpu', data='loader', warmup=0)


def test_channels_last_needs_a_backbone_that_has_it():
    with pytest.raises(SystemExit, match='MiT has no channels_last'):
        bench.load_config(
            osp.join(ROOT, 'configs/decur/rgbd_mitb2.py'), channels_last=True)


def test_cpu_autocast_runs(tmp_path):
    # One step (a later --steps wins): bf16 is slow on CPUs without AMX.
    res = run_tool(tmp_path, DEMO_CONFIG, '--amp', '--no-reference', '--steps',
                   '1', '--cfg-options', *TINY)
    assert res['amp'] == 'bfloat16' and 'reference' not in res
    assert res['steps'] == 1
    assert res['real']['samples_per_s'] > 0

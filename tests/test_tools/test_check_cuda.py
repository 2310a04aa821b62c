# Copyright (c) mmdecur contributors. All rights reserved.
"""tools/misc/check_cuda.py: its checks, run on the CPU."""
import importlib.util
import json
import os.path as osp
import time

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location(
    'check_cuda', osp.join(ROOT, 'tools', 'misc', 'check_cuda.py'))
check_cuda = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_cuda)


def test_loss_check_measures_fp32_and_autocast_against_float64():
    out = check_cuda.check_loss(torch.device('cpu'))
    assert set(out) == {'fp32', 'autocast_bf16', 'autocast_fp16'}
    for name, r in out.items():
        # The loss stays fp32 under autocast, so its value is as exact as
        # in fp32; gradients of bf16/fp16 leaves are rounded to them.
        assert r['loss_dtype'] == 'torch.float32', name
        assert r['loss_rel_err'] < 1e-5, name
    assert out['fp32']['grad_rel_err'] < 1e-5
    assert out['autocast_bf16']['grad_rel_err'] < 1e-2


def test_rel_err_is_relative():
    a = torch.tensor([1., 2., 2.])
    assert abs(check_cuda.rel_err(a * 1.01, a) - 0.01) < 1e-7
    assert check_cuda.rel_err(a, a) == 0


def test_quick_cpu_run_writes_json_and_markdown(tmp_path):
    """The whole script on the CPU (``--quick``): every section, and the
    demo config through benchmark_train_step.py in fp32, AMP and with its
    backbones compiled (eager backend)."""
    out = tmp_path / 'check.json'
    threads = torch.get_num_threads()
    report = check_cuda.main(['--device', 'cpu', '--quick', '--out', str(out)])
    assert torch.get_num_threads() == threads  # restored
    assert report['failed'] == []
    saved = json.loads(out.read_text())
    assert set(saved) >= {
        'env', 'loss', 'deformable', 'backbones', 'mit_amp', 'cuda_tests',
        'throughput'
    }
    assert saved['cuda_tests'] == {'skipped': 'no CUDA device'}
    assert all(r['finite'] for r in saved['backbones'].values())
    mit = saved['mit_amp']
    assert mit['fp32_rel_err'] < 1e-5
    assert mit['mmdecur']['heavy_not_bf16'] == {}
    assert mit['mmseg']['softmax_calls'] > 0
    assert mit['mmdecur']['softmax_calls'] == 0
    runs = saved['throughput']['configs/decur/demo_synthetic.py']
    assert set(runs) == {'fp32', 'amp', 'amp+compile'}
    for r in runs.values():
        assert r['samples_per_s'] > 0 and r['batch_size'] == 4
    assert 'compile_fallback' not in runs['amp+compile']
    # the same weights, batch and step: the same loss
    assert runs['amp']['loss_step1'] == pytest.approx(
        runs['amp+compile']['loss_step1'], rel=1e-5)
    table = (tmp_path / 'check.md').read_text()
    assert '| `demo_synthetic.py` | 4 |' in table
    assert 'MiT-B0 backbone forward + backward' in table


def test_benchmark_invocation_per_mode(monkeypatch):
    calls = []
    module = check_cuda._benchmark_module()
    monkeypatch.setattr(module, 'main', lambda argv: calls.append(argv))
    dev = torch.device('cpu')
    for mode in check_cuda.MODES:
        check_cuda.bench_train_step('configs/decur/rgbd_mitb2.py', dev, mode,
                                    5, 2)
    check_cuda.bench_train_step(
        'configs/fcn/fcn_rn50_geonrw.py',
        dev,
        'amp+compile',
        5,
        2,
        compile_backend='eager')
    fp32, amp, compiled, fcn = calls
    assert fp32[0].endswith('configs/decur/rgbd_mitb2.py')
    assert fp32[1:] == [
        '--device', 'cpu', '--steps', '5', '--warmup', '2', '--no-reference'
    ]
    assert amp[1:] == fp32[1:] + ['--amp']
    assert compiled[-3:] == [
        '--amp', '--cfg-options', 'model.compile_backbones=True'
    ]
    assert fcn[-1] == 'model.backbone.compile_encoders.backend=eager'
    # CMX has its own backbone, without a compile switch
    assert check_cuda.compile_switch('configs/cmx/cmx_mitb2_nyudv2.py') is None
    with pytest.raises(NotImplementedError):
        check_cuda.bench_train_step('configs/cmx/cmx_mitb2_nyudv2.py', dev,
                                    'amp+compile', 5, 2)
    with pytest.raises(ValueError, match='mode'):
        check_cuda.bench_train_step('x.py', dev, 'fp16', 5, 2)


def test_throughput_keeps_to_the_time_budget_and_reports_errors(monkeypatch):

    def fake(config, device, mode, *args):
        if 'broken' in config:
            raise RuntimeError('CUDA out of memory')
        if mode == 'amp+compile' and 'cmx' in config:
            raise NotImplementedError('no compile switch for this model')
        return dict(
            batch_size=32,
            real=dict(
                samples_per_s=dict(fp32=100., amp=160.)[mode]
                if mode != 'amp+compile' else 200.,
                ms_per_step=1.,
                peak_memory_mib=2048.,
                loss_step1=1.,
                phases_ms={}))

    monkeypatch.setattr(check_cuda, 'bench_train_step', fake)
    dev = torch.device('cpu')
    results = check_cuda.run_throughput(['a.py', 'broken.py', 'cmx.py'],
                                        ['a.py', 'cmx.py'], dev, 1, 1,
                                        time.time() + 100)
    assert results['a.py']['amp']['samples_per_s'] == 160.
    assert 'out of memory' in results['broken.py']['fp32']['error']
    assert 'switch' in results['cmx.py']['amp+compile']['skipped']
    late = check_cuda.run_throughput(['a.py'], [], dev, 1, 1, time.time())
    assert late['a.py']['fp32'] == {'skipped': 'time budget'}
    report = dict(
        env=dict(
            date='2026-01-01',
            device_name='GPU',
            torch='2',
            cuda='13',
            cudnn=9,
            mmcv='2',
            peak_memory='max allocated'),
        settings=dict(steps=1, warmup=1, compile='Inductor'),
        throughput=results)
    report['failed'] = check_cuda.failures(report)
    assert [f[0] for f in report['failed']
            ] == ['broken.py (fp32)', 'broken.py (amp)']
    table = check_cuda.markdown_table(report)
    assert '| `a.py` | 32 | 100 | 160 | 1.60x | 200 | 2.0 / 2.0 / 2.0 |' in (
        table)
    assert '| `broken.py` |  | error | error |  |  | error / error /  |' in (
        table)
    assert '| `cmx.py` | 32 | 100 | 160 | 1.60x | n/a | 2.0 / 2.0 / n/a |' in (
        table)

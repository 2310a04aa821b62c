# Copyright (c) mmdecur contributors. All rights reserved.
"""tools/misc/check_cuda.py: its checks, run on the CPU."""
import importlib.util
import os.path as osp

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

# Copyright (c) mmdecur contributors. All rights reserved.
"""The batch augmentations against the CPU transforms they replace.

Three kinds of truth: (1) given the same parameters, a batch op computes
what the CPU op computes (CPU ops driven through their own code with the
random draws patched); (2) the drawn parameters and the outputs on fixed
inputs have the CPU ops' statistics over a few thousand draws (tolerances
from the sample size); (3) seeds, value ranges and errors behave as
documented.
"""
import copy
import math
import os.path as osp
from unittest import mock

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from scipy import stats

from mmdecur.datasets.transforms import (ColorJitterND, GaussianBlurND,
                                         RandomFlipND, RandomGrayscaleND,
                                         RandomResizedCropND, SolarizeND)
from mmdecur.datasets.transforms.multiview import build_pipeline
from mmdecur.models.data_preprocessors import (
    BatchAugment, BatchAugmentPipeline, BatchColorJitter, BatchGaussianBlur,
    BatchRandomFlip, BatchRandomGrayscale, BatchRandomResizedCrop,
    BatchSolarize, MultiModalDataPreprocessor)
from mmdecur.models.data_preprocessors.batch_augment import (AugmentContext,
                                                             build_batch_op)
from mmdecur.registry import DATASETS

ROOT = osp.dirname(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
Z = 5.0  # two-sided p ~ 6e-7 per comparison: a failure is a real difference


def smooth_image(rng, h, w, bands, dtype=np.uint8):
    """A smooth random image plus noise over the whole value range."""
    coarse = rng.random((h // 4 + 2, w // 4 + 2, bands)).astype(np.float32)
    img = np.stack([
        cv2.resize(coarse[..., b], (w, h), interpolation=cv2.INTER_CUBIC)
        for b in range(bands)
    ], -1) + 0.1 * rng.random((h, w, bands)).astype(np.float32)
    img = (img - img.min()) / (img.max() - img.min())
    if dtype == np.uint8:
        return np.rint(img * 255).astype(np.uint8)
    return img.astype(np.float32)


def to_batch(imgs):
    """HWC arrays -> (B, C, H, W) float32 tensor."""
    return torch.from_numpy(
        np.stack(imgs).transpose(0, 3, 1, 2).astype(np.float32))


def results_of(img, value_range=(0., 255.)):
    return dict(imgs=dict(m=img), value_ranges=dict(m=value_range))


def ctx_for(dtype, value_range=None):
    uint8 = dtype == np.uint8
    return AugmentContext('m', value_range or ((0., 255.) if uint8 else
                                               (0., 1.)), uint8)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def assert_same_mean_and_var(a, b, what, bias=0.):
    """Means (up to a known systematic ``bias``) and variances agree within
    Z standard errors."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    # (plus float32 rounding, for statistics that barely vary)
    se_mean = math.sqrt(a.var() / a.size +
                        b.var() / b.size) + 1e-6 * (1 + abs(a.mean()))
    assert abs(a.mean() - b.mean()) < Z * se_mean + bias, (
        f'{what}: means {a.mean():.5g} vs {b.mean():.5g} (se {se_mean:.2g})')

    def se_var(x):  # standard error of the sample variance
        m4 = ((x - x.mean())**4).mean()
        return math.sqrt(max(m4 - x.var()**2, 0) / x.size)

    se = math.sqrt(se_var(a)**2 + se_var(b)**2) + 1e-6 * (1 + a.var())
    assert abs(a.var() - b.var()) < Z * se, (
        f'{what}: variances {a.var():.5g} vs {b.var():.5g} (se {se:.2g})')


def assert_same_distribution(a, b, what, bias=0.):
    """Same mean (up to ``bias``) and variance; without a bias also the
    same distribution (two-sample Kolmogorov-Smirnov)."""
    assert_same_mean_and_var(a, b, what, bias)
    if bias == 0:
        p = stats.ks_2samp(np.asarray(a), np.asarray(b)).pvalue
        assert p > 1e-4, f'{what}: Kolmogorov-Smirnov p = {p:.2g}'


def assert_same_rate(a, b, what):
    """Two Bernoulli samples have the same rate (binomial z-test)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    p = (a.sum() + b.sum()) / (a.size + b.size)
    se = math.sqrt(p * (1 - p) * (1 / a.size + 1 / b.size)) + 1e-12
    assert abs(a.mean() - b.mean()) < Z * se, (
        f'{what}: rates {a.mean():.4f} vs {b.mean():.4f}')


# --- (1) the deterministic part: same parameters, same output -------------


@pytest.mark.parametrize('bands', [3, 13])
def test_color_jitter_equals_cpu_bit_for_bit_on_uint8(bands):
    rng = np.random.default_rng(0)
    imgs = [smooth_image(rng, 9, 11, bands) for _ in range(5)]
    factors = [(1.4, 0.6), (0.6, 1.4), (1.0, 1.0), (1.37, 1.21), (0.8, 0.9)]
    cpu_op = ColorJitterND(brightness=0.4, contrast=0.4, prob=1.0)
    cpu = []
    for img, bc in zip(imgs, factors):
        with mock.patch.object(np.random, 'uniform', side_effect=bc):
            cpu.append(cpu_op.apply(img, results_of(img), 'm'))
    b, c = (torch.tensor(v, dtype=torch.float32) for v in zip(*factors))
    op = BatchColorJitter(brightness=0.4, contrast=0.4, prob=1.0)
    out = op.apply(
        to_batch(imgs),
        dict(apply=torch.ones(5, dtype=torch.bool), brightness=b, contrast=c),
        ctx_for(np.uint8))
    assert torch.equal(out, to_batch(cpu))


@pytest.mark.parametrize('brightness,contrast', [(0.4, 0.4), (0.4, 0),
                                                 (0, 0.4)])
def test_color_jitter_equals_cpu_on_float_data(brightness, contrast):
    rng = np.random.default_rng(1)
    imgs = [smooth_image(rng, 9, 11, 4, np.float32) for _ in range(3)]
    draws = [(1.3, 0.7), (0.7, 1.3), (1.1, 1.05)]
    cpu_op = ColorJitterND(brightness, contrast, prob=1.0)
    op = BatchColorJitter(brightness, contrast, prob=1.0)
    cpu, used = [], []
    for img, (bv, cv) in zip(imgs, draws):
        seq = [v for v, on in ((bv, brightness), (cv, contrast)) if on]
        with mock.patch.object(np.random, 'uniform', side_effect=seq):
            cpu.append(cpu_op.apply(img, results_of(img, (0., 1.)), 'm'))
        used.append((bv if brightness else 1., cv if contrast else 1.))
    b, c = (torch.tensor(v, dtype=torch.float32) for v in zip(*used))
    out = op.apply(
        to_batch(imgs),
        dict(apply=torch.ones(3, dtype=torch.bool), brightness=b, contrast=c),
        ctx_for(np.float32))
    torch.testing.assert_close(out, to_batch(cpu), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize('bands', [2, 3, 13])
def test_grayscale_equals_cpu(bands):
    rng = np.random.default_rng(2)
    op = BatchRandomGrayscale(prob=1.0)
    on = dict(apply=torch.ones(4, dtype=torch.bool))
    for dtype in (np.uint8, np.float32):
        imgs = [smooth_image(rng, 7, 8, bands, dtype) for _ in range(4)]
        cpu = [RandomGrayscaleND().apply(i, {}, 'm') for i in imgs]
        out = op.apply(to_batch(imgs), on, ctx_for(dtype))
        if dtype == np.uint8:  # incl. 2 bands: exact halves round to even
            assert torch.equal(out, to_batch(cpu))
        else:
            torch.testing.assert_close(out, to_batch(cpu))


@pytest.mark.parametrize('value_range,dtype', [((0., 255.), np.uint8),
                                               ((10., 200.), np.uint8),
                                               ((-1., 1.), np.float32)])
def test_solarize_equals_cpu_with_a_threshold_relative_to_the_range(
        value_range, dtype):
    rng = np.random.default_rng(3)
    imgs = [smooth_image(rng, 8, 8, 3, dtype) for _ in range(3)]
    if dtype == np.float32:
        imgs = [2 * i - 1 for i in imgs]
    for threshold in (0.0, 0.3, 0.5, 1.0):
        cpu = [
            SolarizeND(threshold,
                       prob=1.0).apply(i, results_of(i, value_range), 'm')
            for i in imgs
        ]
        out = BatchSolarize(
            threshold, prob=1.0).apply(
                to_batch(imgs), dict(apply=torch.ones(3, dtype=torch.bool)),
                ctx_for(dtype, value_range))
        assert torch.equal(out, to_batch(cpu))


def blur_on_cpu(imgs, sigmas, **kwargs):
    cpu_op = GaussianBlurND(prob=1.0, **kwargs)
    out = []
    for img, s in zip(imgs, sigmas):
        with mock.patch.object(np.random, 'uniform', return_value=s):
            out.append(cpu_op.apply(img, {}, 'm'))
    return to_batch(out)


@pytest.mark.parametrize('kernel_size,size', [(None, (20, 24)), (5, (20, 24)),
                                              (None, (5, 6))])
def test_gaussian_blur_equals_cpu_with_a_kernel_per_sample(kernel_size, size):
    rng = np.random.default_rng(4)
    sigmas = [0.1, 0.5, 1.0, 1.7, 2.0]
    op = BatchGaussianBlur(sigma=(0.1, 2.0), kernel_size=kernel_size)
    params = dict(
        apply=torch.ones(5, dtype=torch.bool),
        sigma=torch.tensor(sigmas, dtype=torch.float64))
    # float data: OpenCV's float kernel (size from 4 sigma), to float
    # rounding; 5x6 px is smaller than the widest kernel (repeated
    # reflections of BORDER_REFLECT_101).
    imgs = [smooth_image(rng, *size, 13, np.float32) for _ in sigmas]
    out = op.apply(to_batch(imgs), params, ctx_for(np.float32))
    torch.testing.assert_close(
        out,
        blur_on_cpu(imgs, sigmas, kernel_size=kernel_size),
        atol=1e-6,
        rtol=1e-6)
    # uint8: OpenCV's fixed-point kernel (size from 3 sigma) vs exact
    # float32 arithmetic: at most one grey level apart, rarely.
    imgs = [smooth_image(rng, *size, 13) for _ in sigmas]
    out = op.apply(to_batch(imgs), params, ctx_for(np.uint8))
    diff = (out - blur_on_cpu(imgs, sigmas, kernel_size=kernel_size)).abs()
    assert diff.max() <= 1 and diff.mean() < 0.1
    assert torch.equal(out, out.round())


def crop_on_cpu(imgs, boxes, size):
    cpu_op = RandomResizedCropND(size=size)
    out = []
    for img, box in zip(imgs, boxes):
        with mock.patch.object(cpu_op, 'get_params', return_value=box):
            out.append(cpu_op.transform(dict(imgs=dict(m=img)))['imgs']['m'])
    return to_batch(out)


def boxes_to_params(boxes):
    t = torch.tensor(boxes)
    return dict(top=t[:, 0], left=t[:, 1], height=t[:, 2], width=t[:, 3])


def test_resized_crop_equals_cpu_with_a_box_per_sample():
    rng = np.random.default_rng(5)
    # (top, left, height, width): whole image, upscaled small box, boxes
    # touching each border, a box of exactly the output size.
    boxes = [(0, 0, 20, 24), (2, 3, 5, 7), (1, 0, 19, 24), (8, 14, 12, 10),
             (4, 6, 16, 18)]
    op = BatchRandomResizedCrop(size=(16, 18))
    imgs = [smooth_image(rng, 20, 24, 13, np.float32) for _ in boxes]
    out = op.apply(to_batch(imgs), boxes_to_params(boxes), ctx_for(np.float32))
    torch.testing.assert_close(
        out, crop_on_cpu(imgs, boxes, (16, 18)), atol=1e-6, rtol=1e-6)
    # uint8: OpenCV's 11-bit fixed-point bilinear vs exact float32: one
    # grey level apart where the exact value is close to a half.
    imgs = [smooth_image(rng, 20, 24, 13) for _ in boxes]
    out = op.apply(to_batch(imgs), boxes_to_params(boxes), ctx_for(np.uint8))
    cpu = crop_on_cpu(imgs, boxes, (16, 18))
    diff = out - cpu
    assert diff.abs().max() <= 1 and diff.abs().mean() < 0.2
    assert torch.equal(out[4], cpu[4])  # same size: no resampling at all


@pytest.mark.parametrize('direction', ['horizontal', 'vertical', 'diagonal'])
def test_flip_equals_cpu(direction):
    rng = np.random.default_rng(6)
    imgs = [smooth_image(rng, 5, 7, 3) for _ in range(3)]
    flip = torch.tensor([True, False, True])
    out = BatchRandomFlip(direction=direction).apply(
        to_batch(imgs), dict(flip=flip), ctx_for(np.uint8))
    cpu_op = RandomFlipND(prob=1.0, direction=direction)
    cpu = [
        cpu_op.transform(dict(imgs=dict(m=i)))['imgs']['m'] if f else i
        for i, f in zip(imgs, flip)
    ]
    assert torch.equal(out, to_batch(cpu))


def test_gates_leave_unselected_samples_bit_identical():
    rng = np.random.default_rng(7)
    x = to_batch([smooth_image(rng, 8, 8, 3) for _ in range(4)])
    gate = torch.tensor([True, False, True, False])
    ctx = ctx_for(np.uint8)
    for op, extra in [(BatchColorJitter(),
                       dict(
                           brightness=torch.full((4, ), 1.3),
                           contrast=torch.full((4, ), 0.7))),
                      (BatchRandomGrayscale(), {}), (BatchSolarize(), {}),
                      (BatchGaussianBlur(),
                       dict(sigma=torch.full((4, ), 1.5, dtype=torch.float64)))
                      ]:
        out = op.apply(x, dict(apply=gate, **extra), ctx)
        assert torch.equal(out[~gate], x[~gate]), op
        assert not torch.equal(out[gate], x[gate]), op


def sequential(pipeline, x, params, ctx):
    """The ops one by one, in their configured order (flips unfused)."""
    x = x.float()
    for i, op in enumerate(pipeline.ops):
        if i in params:
            x = op.apply(x, params[i], ctx)
    return x


@pytest.mark.parametrize('dtype', [np.uint8, np.float32])
def test_fused_crop_and_flips_equal_the_ops_one_by_one(dtype):
    rng = np.random.default_rng(8)
    pipeline = BatchAugmentPipeline([
        dict(type='RandomFlipND', direction='vertical'),
        dict(type='RandomResizedCropND', size=(12, 10), scale=(0.2, 1.0)),
        dict(type='ColorJitterND'),
        dict(type='RandomFlipND', direction='horizontal'),
        dict(type='GaussianBlurND'),
        dict(type='SolarizeND'),
        dict(type='RandomFlipND', direction='diagonal'),
    ])
    imgs = [smooth_image(rng, 17, 19, 3, dtype) for _ in range(64)]
    x = to_batch(imgs)
    ctx = ctx_for(dtype)
    params = pipeline.sample(64, (17, 19), gen(1), x.device)
    fused = pipeline.apply(x, params, ctx)
    assert fused.shape == (64, 3, 12, 10)
    if dtype == np.uint8:  # bit for bit, rounding ties included
        assert torch.equal(fused, sequential(pipeline, x, params, ctx))
    else:  # the jitter's mean sums the flipped rows in another order
        torch.testing.assert_close(
            fused, sequential(pipeline, x, params, ctx), atol=1e-6, rtol=0)


def test_uint8_values_clip_instead_of_wrapping():
    # The official uint8 code wrapped: 200 * 1.4 gave 24.
    x = torch.full((2, 3, 4, 4), 200.)
    x[1] = 10.
    op = BatchColorJitter(brightness=(1.4, 1.4), contrast=0, prob=1.0)
    out = op.apply(x, op.sample(2, (4, 4), gen(), x.device), ctx_for(np.uint8))
    assert out[0].eq(255).all() and out[1].eq(14).all()
    cpu = ColorJitterND(brightness=(1.4, 1.4), contrast=0, prob=1.0)
    img = np.full((4, 4, 3), 200, np.uint8)
    assert (cpu.apply(img, results_of(img), 'm') == 255).all()
    # Through the data preprocessor (mean 0, std 1: the augmented levels).
    pre = MultiModalDataPreprocessor(
        dict(m=dict(mean=[0.] * 3, std=[1.] * 3)),
        batch_augments=dict(
            transforms=dict(m=[
                dict(
                    type='ColorJitterND',
                    brightness=(1.6, 1.6),
                    contrast=0,
                    prob=1.0)
            ]),
            seed=0))
    data = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    out = pre(dict(inputs=dict(m=[data])), training=True)['inputs']['m'][0]
    expected = (data.float() * float(np.float32(1.6))).round().clamp(0, 255)
    assert torch.equal(out, expected) and (expected == 255).float().mean() > .3


# --- (2) the random part: same distributions --------------------------------


def record_draws(fn, n, seed=0):
    """Run ``fn`` n times under a seeded numpy, recording its draws."""
    np.random.seed(seed)
    draws = []
    real_uniform, real_rand = np.random.uniform, np.random.rand

    def uniform(*args, **kwargs):
        v = real_uniform(*args, **kwargs)
        draws[-1].setdefault('uniform', []).append(float(v))
        return v

    def rand(*args):
        v = real_rand(*args)
        draws[-1].setdefault('rand', []).append(float(v))
        return v

    with mock.patch.object(np.random, 'uniform', uniform), \
            mock.patch.object(np.random, 'rand', rand):
        outs = []
        for _ in range(n):
            draws.append({})
            outs.append(fn())
    return outs, draws


@pytest.mark.parametrize('hw,scale', [((264, 264), (0.2, 1.0)),
                                      ((40, 100), (0.08, 1.0)),
                                      ((10, 200), (0.9, 1.0))])
def test_crop_boxes_have_the_cpu_distribution(hw, scale):
    n = 10000
    cpu_op = RandomResizedCropND(size=8, scale=scale)
    np.random.seed(0)
    cpu = np.array([cpu_op.get_params(*hw) for _ in range(n)])
    p = BatchRandomResizedCrop(
        size=8, scale=scale).sample(n, hw, gen(), torch.device('cpu'))
    batch = torch.stack([p[k] for k in ('top', 'left', 'height', 'width')],
                        1).numpy()
    for j, name in enumerate(('top', 'left', 'height', 'width')):
        assert_same_distribution(cpu[:, j], batch[:, j], f'{hw} {name}')
    # The central fallback (common for 10x200 at scale >= 0.9) as often.
    fb = BatchRandomResizedCrop(size=8, scale=scale).fallback(*hw)
    assert_same_rate((cpu == fb).all(1), (batch == fb).all(1),
                     f'{hw} fallback')
    assert (batch[:, 0] + batch[:, 2] <= hw[0]).all()
    assert (batch[:, 1] + batch[:, 3] <= hw[1]).all()


def test_photometric_parameters_have_the_cpu_distribution():
    n = 16000
    img = np.full((2, 2, 3), 100, np.uint8)
    dev = torch.device('cpu')
    # Jitter: the gate (rand < 0.8), then b and c only where it opened.
    _, draws = record_draws(
        lambda: ColorJitterND(0.4, 0.3).transform(results_of(img)), n)
    gate = np.array([d['rand'][0] < 0.8 for d in draws])
    bc = np.array([d['uniform'] for d in draws if 'uniform' in d])
    p = BatchColorJitter(0.4, 0.3).sample(n, (2, 2), gen(), dev)
    assert_same_rate(gate, p['apply'].numpy(), 'jitter gate')
    assert_same_distribution(bc[:, 0], p['brightness'].numpy(), 'brightness')
    assert_same_distribution(bc[:, 1], p['contrast'].numpy(), 'contrast')
    # Blur sigma and gate.
    _, draws = record_draws(
        lambda: GaussianBlurND((0.1, 2.0)).transform(results_of(img)), n)
    sigma = np.array([d['uniform'][0] for d in draws if 'uniform' in d])
    p = BatchGaussianBlur((0.1, 2.0)).sample(n, (2, 2), gen(1), dev)
    assert_same_rate([d['rand'][0] < 0.5 for d in draws], p['apply'].numpy(),
                     'blur gate')
    assert_same_distribution(sigma, p['sigma'].numpy(), 'sigma')
    # The plain gates.
    for cpu_op, op in [(SolarizeND(), BatchSolarize()),
                       (RandomGrayscaleND(), BatchRandomGrayscale()),
                       (RandomFlipND(prob=0.3), BatchRandomFlip(prob=0.3))]:
        _, draws = record_draws(lambda: cpu_op.transform(results_of(img)), n)
        drawn = op.sample(n, (2, 2), gen(2), dev)
        assert_same_rate([d['rand'][0] < cpu_op.prob for d in draws],
                         next(iter(drawn.values())).numpy(), repr(op))


def draw_statistics(views):
    """Per-draw summaries of (N, C, H, W) outputs: their means, spreads and
    where the mass is (left/right, top/bottom: crop position and flips)."""
    # Contiguous float64 copies: the same reduction order for both paths.
    views = torch.as_tensor(
        np.ascontiguousarray(views), dtype=torch.float64).contiguous()
    w, h = views.shape[-1], views.shape[-2]
    out = dict(
        mean=views.mean((1, 2, 3)),
        std=views.std((1, 2, 3)),
        band0=views[:, 0].mean((1, 2)),
        left_right=(views[..., :w // 2].mean(
            (1, 2, 3)) - views[..., w - w // 2:].mean((1, 2, 3))),
        top_bottom=(views[..., :h // 2, :].mean(
            (1, 2, 3)) - views[..., h - h // 2:, :].mean((1, 2, 3))),
        pixel=views[:, -1, h // 3, w // 4])
    # Float32 rounding apart is the same value (for the KS test's ties).
    return {k: torch.round(v * 1e6) / 1e6 for k, v in out.items()}


# OpenCV's uint8 bilinear resize truncates in its fixed-point SIMD path and
# comes out ~0.1 grey levels darker than the exact bilinear (measured:
# -0.095 +- 0.005 for these crops, -0.10 to -0.13 for others); the batch
# crop rounds the exact value. Levels (means, pixels) may differ by this
# much after a uint8 crop; spreads and differences of means do not.
CV2_UINT8_BILINEAR_BIAS = 0.15
LEVELS = ('mean', 'band0', 'pixel')


def assert_same_output_statistics(cpu, batch, what, level_bias=0.):
    cs, bs = draw_statistics(cpu), draw_statistics(batch)
    for key in cs:
        assert_same_distribution(cs[key].numpy(), bs[key].numpy(),
                                 f'{what}: {key}',
                                 level_bias if key in LEVELS else 0.)


CPU_VIEW = [
    dict(type='RandomResizedCropND', size=(14, 12), scale=(0.2, 1.0)),
    dict(type='ColorJitterND', brightness=0.4, contrast=0.4, prob=0.8),
    dict(type='RandomGrayscaleND', prob=0.2),
    dict(type='GaussianBlurND', sigma=(0.1, 2.0), prob=0.5),
    dict(type='SolarizeND', threshold=0.5, prob=0.2),
    dict(type='RandomFlipND', prob=0.5, direction='horizontal'),
    dict(type='RandomFlipND', prob=0.5, direction='vertical'),
]


@pytest.mark.parametrize('dtype', [np.uint8, np.float32])
@pytest.mark.parametrize(
    'ops', [[i] for i in range(len(CPU_VIEW))] + [list(range(len(CPU_VIEW)))],
    ids=[c['type'] for c in CPU_VIEW] + ['whole view'])
def test_outputs_on_a_fixed_image_have_the_cpu_statistics(ops, dtype):
    n = 2000
    img = smooth_image(np.random.default_rng(9), 18, 16, 4, dtype)
    value_range = (0., 255.) if dtype == np.uint8 else (0., 1.)
    cfgs = [CPU_VIEW[i] for i in ops]
    cpu_pipeline = build_pipeline(copy.deepcopy(cfgs))
    np.random.seed(0)
    cpu = np.stack([
        cpu_pipeline(results_of(img, value_range))['imgs']['m']
        for _ in range(n)
    ]).transpose(0, 3, 1, 2)
    pipeline = BatchAugmentPipeline(copy.deepcopy(cfgs))
    x = to_batch([img]).expand(n, -1, -1, -1)
    batch = pipeline(dict(m=x), dict(m=ctx_for(dtype)), gen(3))['m']
    assert batch.shape == cpu.shape
    cropped = dtype == np.uint8 and 0 in ops
    assert_same_output_statistics(
        cpu, batch, '+'.join(c['type'] for c in cfgs),
        CV2_UINT8_BILINEAR_BIAS * 1.4 if cropped else 0.)  # x jitter


def test_the_demo_preprocessor_with_batch_augments_equals_the_cpu_path():
    """configs/_base_/datasets/synthetic_gpu_aug.py (light pipeline + batch
    augments) against synthetic.py (CPU augments), both through the data
    preprocessor, on one fixed sample drawn 1000 times."""
    n, index = 1000, 3
    cpu_cfg = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/datasets/synthetic.py'))
    gpu_cfg = Config.fromfile(
        osp.join(ROOT, 'configs/_base_/datasets/synthetic_gpu_aug.py'))
    datasets = {}
    for name, cfg in (('cpu', cpu_cfg), ('gpu', gpu_cfg)):
        ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
        ds_cfg.num_samples = 8
        datasets[name] = DATASETS.build(ds_cfg)
    np.random.seed(0)
    samples = [datasets['cpu'][index] for _ in range(n)]
    cpu_inputs = {
        m: [torch.stack([s['inputs'][m][v] for s in samples]) for v in (0, 1)]
        for m in samples[0]['inputs']
    }
    plain = MultiModalDataPreprocessor(cpu_cfg.data_preprocessor.modalities)
    cpu = plain(dict(inputs=cpu_inputs), training=True)['inputs']
    light = datasets['gpu'][index]['inputs']
    assert all(v.dtype == torch.uint8 and v.shape[-1] == 32
               for vs in light.values() for v in vs)
    gpu_pre_cfg = dict(gpu_cfg.data_preprocessor)
    gpu_pre_cfg.pop('type')
    gpu_pre_cfg['batch_augments'] = dict(gpu_pre_cfg['batch_augments'], seed=0)
    pre = MultiModalDataPreprocessor(**gpu_pre_cfg)
    batch_inputs = {
        m: [v[None].expand(n, -1, -1, -1) for v in vs]
        for m, vs in light.items()
    }
    gpu = pre(dict(inputs=batch_inputs), training=True)['inputs']
    for m in cpu:
        for v in (0, 1):
            assert gpu[m][v].shape == cpu[m][v].shape
            # uint8 crops (see CV2_UINT8_BILINEAR_BIAS), jitter <= 1.3x,
            # normalised by std 64.
            assert_same_output_statistics(cpu[m][v], gpu[m][v],
                                          f'{m} view {v}',
                                          CV2_UINT8_BILINEAR_BIAS * 1.3 / 64)
    # Without training the batch augments are off: the light views, only
    # normalised.
    val = pre(dict(inputs=batch_inputs), training=False)['inputs']
    torch.testing.assert_close(
        val['rgb'][0],
        plain(dict(inputs=batch_inputs), training=False)['inputs']['rgb'][0])


# --- (3) seeds, sharing, errors ----------------------------------------------


def make_augment(seed=None, **kwargs):
    return BatchAugment(
        transforms=dict(
            a=[
                dict(type='RandomResizedCropND', size=6),
                dict(type='ColorJitterND'),
                dict(type='GaussianBlurND'),
                dict(type='RandomFlipND')
            ],
            b=[dict(type='RandomResizedCropND', size=6)]),
        seed=seed,
        **kwargs)


def batch_inputs(n=8):
    g = torch.Generator().manual_seed(0)
    return dict(
        a=[
            torch.randint(
                0, 256, (n, 3, 10, 12), generator=g, dtype=torch.uint8)
            for _ in range(2)
        ],
        b=[torch.rand(n, 1, 10, 12, generator=g) for _ in range(2)])


def test_same_seed_same_output_other_seed_other_output():
    x = batch_inputs()
    ranges = dict(b=(0., 1.))
    first = make_augment(seed=1)(x, ranges)
    again = make_augment(seed=1)(x, ranges)
    other = make_augment(seed=2)(x, ranges)
    for m in x:
        for v in (0, 1):
            assert torch.equal(first[m][v], again[m][v])
            assert not torch.equal(first[m][v], other[m][v])
    # Views and consecutive batches draw differently.
    assert not torch.equal(first['a'][0], first['a'][1])
    aug = make_augment(seed=1)
    aug(x, ranges)
    assert not torch.equal(aug(x, ranges)['a'][0], first['a'][0])


def test_the_seed_comes_from_mmengine_and_training_iterations_are_resumable():
    # MMEngine seeds torch with the run seed (set_random_seed, and again
    # with the checkpoint's seed on --resume); the runner's MessageHub says
    # which training iteration runs.
    hub = MessageHub.get_instance('test_batch_augment_resume')
    x = batch_inputs()
    ranges = dict(b=(0., 1.))
    torch_state = torch.get_rng_state()
    try:
        torch.manual_seed(7)
        hub.update_info('loop_stage', 'train')
        uninterrupted = make_augment()
        outs = []
        for it in range(3):
            hub.update_info('iter', it)
            outs.append(uninterrupted(x, ranges))
            torch.rand(5)  # the model consumes global randomness meanwhile
        # A run resumed at iteration 2: a fresh augmenter, no saved state.
        torch.manual_seed(7)
        resumed = make_augment()
        hub.update_info('iter', 2)
        again = resumed(x, ranges)
        assert torch.equal(again['a'][0], outs[2]['a'][0])
        assert not torch.equal(outs[1]['a'][0], outs[2]['a'][0])
        # A second batch in the same iteration draws anew.
        assert not torch.equal(resumed(x, ranges)['a'][0], again['a'][0])
        # Another run seed, other draws; an explicit seed wins over it.
        torch.manual_seed(8)
        assert not torch.equal(make_augment()(x, ranges)['a'][0],
                               again['a'][0])
        explicit = make_augment(seed=7)(x, ranges)
        torch.manual_seed(9)
        assert torch.equal(
            make_augment(seed=7)(x, ranges)['a'][0], explicit['a'][0])
    finally:
        hub.pop_info('loop_stage')
        hub.pop_info('iter')
        torch.set_rng_state(torch_state)


def test_the_generator_is_separate_from_torch_global_randomness():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    make_augment(seed=1)(batch_inputs(), dict(b=(0., 1.)))
    assert torch.equal(torch.rand(3), expected)


def test_shared_geometry_is_one_draw_for_all_modalities():
    # Co-registered modalities (the CPU `shared` pipeline): one crop and
    # flip per sample for all of them; photometric ops in `shared` still
    # draw per modality, as BasePhotometric does in a shared pipeline.
    geometry = [
        dict(type='RandomResizedCropND', size=5),
        dict(type='RandomFlipND')
    ]
    img = torch.rand(64, 1, 9, 9)
    inputs = dict(a=[img], b=[img.clone()])
    ranges = dict(a=(0., 1.), b=(0., 1.))
    same = BatchAugment(
        transforms=dict(a=[], b=[]), shared=geometry, seed=0)(inputs, ranges)
    assert same['a'][0].shape == (64, 1, 5, 5)
    assert torch.equal(same['a'][0], same['b'][0])
    out = BatchAugment(
        transforms=dict(a=[], b=[]),
        shared=geometry + [dict(type='SolarizeND', prob=0.5)],
        seed=0)(inputs, ranges)
    g = same['a'][0]  # the geometry is drawn first: the same boxes
    solarized = torch.where(g >= 0.5, 1 - g, g)
    a, b = out['a'][0], out['b'][0]
    for x in (a, b):
        as_g = (x == g).flatten(1).all(1)
        as_s = (x == solarized).flatten(1).all(1)
        assert (as_g | as_s).all()
    assert not torch.equal(a, b)  # independent gates per modality
    with pytest.raises(ValueError, match='co-registration required'):
        BatchAugment(
            transforms=dict(a=[], b=[]), shared=geometry)(
                dict(a=[img], b=[torch.rand(64, 1, 8, 9)]))


def test_per_view_pipelines_and_modality_restrictions():
    x = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    aug = BatchAugment(
        transforms=dict(
            a=[[dict(type='RandomFlipND', prob=1.0)],
               [dict(type='SolarizeND', prob=1.0, modalities='other')]]),
        seed=0)
    out = aug(dict(a=[x, x]))
    assert torch.equal(out['a'][0], x.flip(-1).float())
    assert torch.equal(out['a'][1], x.float())  # solarize is for 'other'
    with pytest.raises(
            ValueError, match='2 per-view pipelines but the '
            'data has 3 views'):
        aug(dict(a=[x, x, x]))


@pytest.mark.parametrize('transforms,match', [
    (dict(a=[dict(type='StatsScale', stats={})]), 'no batch version'),
    (dict(a=[
        dict(type='ColorJitterND'),
        dict(type='RandomResizedCropND', size=4)
    ]), 'only flips'),
    (dict(
        a=[dict(type='RandomResizedCropND', size=4, interpolation='bicubic')]),
     "only 'bilinear'"),
    (dict(a=[dict(type='ColorJitterND', saturation=0.4)]),
     "ColorJitterND.*saturation"),
    (dict(b=[]), r"missing \['a'\], unknown \['b'\]"),
])
def test_bad_configs_say_what_is_wrong(transforms, match):
    with pytest.raises((ValueError, TypeError), match=match):
        MultiModalDataPreprocessor(
            dict(a=dict(mean=[0.] * 3, std=[1.] * 3)),
            batch_augments=dict(transforms=transforms))


def test_float_data_needs_a_value_range_for_range_dependent_ops():
    cfg = dict(a=dict(mean=[0.], std=[1.]))
    aug = dict(transforms=dict(a=[dict(type='SolarizeND', prob=1.0)]))
    x = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match="BatchSolarize.*modality 'a'"):
        MultiModalDataPreprocessor(
            cfg, batch_augments=aug)(
                dict(inputs=dict(a=[x])), training=True)
    cfg['a']['value_range'] = (0., 1.)
    out = MultiModalDataPreprocessor(
        cfg, batch_augments=aug)(
            dict(inputs=dict(a=[x])), training=True)['inputs']['a'][0]
    torch.testing.assert_close(out, torch.where(x >= 0.5, 1 - x, x))


def test_cpu_type_names_and_batch_type_names_build_the_same_op():
    a = build_batch_op(dict(type='GaussianBlurND', sigma=(0.2, 1.0)))
    b = build_batch_op(dict(type='BatchGaussianBlur', sigma=(0.2, 1.0)))
    c = build_batch_op(dict(type='mmdecur.GaussianBlurND', sigma=(0.2, 1.0)))
    assert type(a) is type(b) is type(c) is BatchGaussianBlur
    assert a.sigma == b.sigma == c.sigma == (0.2, 1.0)


def test_non_blocking_copies_are_the_default_and_change_nothing():
    cfg = dict(a=dict(mean=[1., 2.], std=[3., 4.]))
    x = torch.randint(0, 256, (2, 2, 3, 3), dtype=torch.uint8)
    fast = MultiModalDataPreprocessor(cfg)
    assert fast._non_blocking
    slow = MultiModalDataPreprocessor(cfg, non_blocking=False)
    devices = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])
    for device in devices:
        src = x.pin_memory() if device == 'cuda' else x
        a = fast.to(device)(dict(inputs=dict(a=[src])))['inputs']['a'][0]
        b = slow.to(device)(dict(inputs=dict(a=[x])))['inputs']['a'][0]
        assert a.device.type == device
        assert torch.equal(a.cpu(), b.cpu())


def test_the_gpu_aug_configs_keep_the_cpu_view_pipelines():
    """Light CPU view + batch augments == the CPU config's view, op by op,
    and the decur variants agree with their dataset-level pattern."""
    pairs = [('synthetic.py', 'synthetic_gpu_aug.py', 0),
             ('ssl4eo_s12.py', 'ssl4eo_s12_gpu_aug.py', 1)]
    for cpu_file, gpu_file, step in pairs:
        base = osp.join(ROOT, 'configs/_base_/datasets')
        cpu = Config.fromfile(osp.join(base, cpu_file))
        gpu = Config.fromfile(osp.join(base, gpu_file))
        cpu_views = cpu.train_pipeline[step]['transforms']
        light = gpu.train_dataloader.dataset.pipeline[step]
        batch = gpu.data_preprocessor.batch_augments.transforms
        assert light.num_views == cpu.train_pipeline[step].num_views
        for m, view in cpu_views.items():
            assert list(light.transforms[m]) + list(batch[m]) == list(view)
    for variant, cpu_file, gpu_file in [
        ('demo_synthetic', 'synthetic.py', 'synthetic_gpu_aug.py'),
        ('sar_optical_rn50', 'ssl4eo_s12.py', 'ssl4eo_s12_gpu_aug.py')
    ]:
        decur = Config.fromfile(
            osp.join(ROOT, 'configs/decur', variant + '_gpu_aug.py'))
        ref = Config.fromfile(osp.join(ROOT, 'configs/decur', variant + '.py'))
        data = Config.fromfile(
            osp.join(ROOT, 'configs/_base_/datasets', gpu_file))
        assert decur.data_preprocessor == data.data_preprocessor
        assert decur.train_dataloader == data.train_dataloader
        assert decur.model == ref.model and decur.optim_wrapper == \
            ref.optim_wrapper


def train_demo_gpu_aug(work_dir, resume_from=None):
    """Losses per iteration of the tiny demo with batch augmentation and
    without RandomStateHook (the batch draws must not need it)."""
    from mmengine.runner import Runner

    from mmdecur.testing import LossRecorder, tiny_demo_options

    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/decur/demo_synthetic_gpu_aug.py'))
    cfg.merge_from_dict(tiny_demo_options(num_samples=32, max_epochs=2))
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    cfg.visualizer = dict(type='Visualizer', vis_backends=[])
    cfg.custom_hooks = []
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator'):
        cfg.pop(key, None)
    if resume_from:
        cfg.resume = True
        cfg.load_from = str(resume_from)
    runner = Runner.from_cfg(cfg)
    recorder = LossRecorder()
    runner.register_hook(recorder)
    runner.train()
    return recorder.losses


def test_resuming_with_batch_augments_equals_an_uninterrupted_run(tmp_path):
    seen = []
    real = BatchAugment.__call__

    def spy(self, inputs, value_ranges=None):
        out = real(self, inputs, value_ranges)
        seen.append((self._iter, {
            m: [tuple(v.shape) for v in vs]
            for m, vs in out.items()
        }))
        return out

    with mock.patch.object(BatchAugment, '__call__', spy):
        full = train_demo_gpu_aug(tmp_path / 'full')
    # Every training batch was augmented, seeded by the runner's iteration.
    views = dict(rgb=[(16, 3, 32, 32)] * 2, depth=[(16, 1, 32, 32)] * 2)
    assert seen == [(it, views) for it in range(4)]
    resumed = train_demo_gpu_aug(
        tmp_path / 'resumed', resume_from=tmp_path / 'full' / 'epoch_1.pth')
    assert sorted(resumed) == [2, 3] and sorted(full) == [0, 1, 2, 3]
    for it, loss in resumed.items():
        assert loss == full[it], (it, loss, full[it])


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('dtype', [np.uint8, np.float32])
def test_cuda_equals_cpu_given_the_same_parameters(dtype):
    pipeline = BatchAugmentPipeline(copy.deepcopy(CPU_VIEW))
    rng = np.random.default_rng(10)
    x = to_batch([smooth_image(rng, 18, 16, 13, dtype) for _ in range(32)])
    params = pipeline.sample(32, (18, 16), gen(4), torch.device('cpu'))
    cpu = pipeline.apply(x, params, ctx_for(dtype))
    on_cuda = {
        i: {
            k: v.cuda()
            for k, v in p.items()
        }
        for i, p in params.items()
    }
    cuda = pipeline.apply(x.cuda(), on_cuda, ctx_for(dtype)).cpu()
    if dtype == np.uint8:  # float64 exp may differ in the last bit
        diff = (cuda - cpu).abs()
        assert diff.max() <= 1 and (diff > 0).float().mean() < 1e-3
    else:
        torch.testing.assert_close(cuda, cpu, atol=1e-5, rtol=1e-5)
    # Drawing on the device works with the device's generator.
    aug = BatchAugment(transforms=dict(m=copy.deepcopy(CPU_VIEW)), seed=0)
    out = aug(dict(m=[x.cuda()]), dict(m=ctx_for(dtype).value_range))
    assert out['m'][0].is_cuda and out['m'][0].shape == cpu.shape

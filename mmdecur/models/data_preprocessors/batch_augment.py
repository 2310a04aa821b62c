# Copyright (c) mmdecur contributors. All rights reserved.
"""Pretraining augmentations of whole batches, on the model's device.

Each batch op is the counterpart of one N-band transform of
``mmdecur.datasets.transforms`` and takes that transform's own arguments, so
a config hands the CPU view pipeline's dicts over unchanged (the CPU type
names are translated, see ``CPU_EQUIVALENTS``):

=======================  ==========================
CPU transform            batch op
=======================  ==========================
RandomResizedCropND      BatchRandomResizedCrop
RandomFlipND             BatchRandomFlip
ColorJitterND            BatchColorJitter
RandomGrayscaleND        BatchRandomGrayscale
GaussianBlurND           BatchGaussianBlur
SolarizeND               BatchSolarize
=======================  ==========================

What "the same augmentation" means here:

- **Parameters.** Every sample of a batch draws its own parameters from the
  CPU op's distributions, with the CPU op's probabilities: the same uniform
  ranges (jitter factors, blur sigma, log-uniform aspect ratio), the same
  rounding and rejection rule of the crop box (10 attempts, then the central
  crop), the same ``rand() < prob`` gates.
- **Application.** Given the parameters, each op computes what the CPU op
  computes, in float32: uint8 data is rounded and clipped back to 0..255
  after every op (the CPU ops cast back to the input dtype; values clip,
  never wrap), jitter and solarize clip to the modality's value range and
  solarize's threshold is a fraction of that range. Pointwise ops (jitter,
  grayscale, solarize) give bit-identical uint8 results; the bilinear crop
  and the blur differ from OpenCV's fixed-point uint8 kernels by at most
  one grey level (and by float rounding on float data). The blur's
  differences average out; OpenCV's uint8 bilinear resize truncates in its
  fixed-point path and comes out ~0.1 grey levels darker on average than
  the exact bilinear that the batch crop rounds. ``sample`` and ``apply``
  are separate methods so all this can be tested.
- **Order.** Ops run in the configured order, with one exception that is
  exact: flips are folded into the crop's resampling, so a view's crop and
  all its flips are ONE resampling of the batch. This is exact because
  every photometric op here commutes with flips (pointwise ops, a global
  mean, a symmetric kernel with a symmetric border), and a flip before the
  crop equals a mirrored crop box followed by the flip. A photometric op
  before the crop (which would not commute) is refused.

Everything is vectorised over the batch: no Python loop over samples, and no
host-device synchronisation (selections are masks, so an op with
probability p computes on the whole batch and keeps the result where its
gate is open). Only elementwise arithmetic, gathers and reductions are used:
no convolution or matmul, so neither TF32 nor autocast (MMEngine runs the
data preprocessor inside the AMP context) changes a result.

Randomness comes from a ``torch.Generator`` of the data's device that is
re-seeded for every batch from ``(seed, rank, iteration, call)``, see
:class:`BatchAugment`.
"""
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.logging import MessageHub
from torch import Tensor

from mmdecur.registry import MODELS
from mmdecur.utils.augment_params import (central_crop_box, check_blur_args,
                                          check_crop_args,
                                          check_solarize_threshold,
                                          factor_range)

__all__ = [
    'BatchAugment', 'BatchAugmentPipeline', 'BatchOp',
    'BatchRandomResizedCrop', 'BatchRandomFlip', 'BatchColorJitter',
    'BatchRandomGrayscale', 'BatchGaussianBlur', 'BatchSolarize',
    'AugmentContext', 'CPU_EQUIVALENTS', 'build_batch_op'
]

Params = Dict[str, Tensor]
OpCfg = Union[dict, 'BatchOp']
PipelineSpec = Sequence[OpCfg]

CPU_EQUIVALENTS = {
    'RandomResizedCropND': 'BatchRandomResizedCrop',
    'RandomFlipND': 'BatchRandomFlip',
    'ColorJitterND': 'BatchColorJitter',
    'RandomGrayscaleND': 'BatchRandomGrayscale',
    'GaussianBlurND': 'BatchGaussianBlur',
    'SolarizeND': 'BatchSolarize',
}


class AugmentContext:
    """What the batch ops need to know about the modality they transform.

    Args:
        modality (str): Modality name (for error messages).
        value_range (tuple[float, float], optional): Valid (lo, hi) of the
            data, as ``results['value_ranges']`` on the CPU.
        uint8 (bool): The data came as uint8: round and clip to 0..255
            after every op, as the CPU ops cast back to uint8.
    """

    def __init__(self,
                 modality: str,
                 value_range: Optional[Tuple[float, float]] = None,
                 uint8: bool = False) -> None:
        if value_range is not None:
            lo, hi = float(value_range[0]), float(value_range[1])
            if not lo < hi:
                raise ValueError(f'Invalid value range {value_range!r} for '
                                 f'modality {modality!r}: need lo < hi.')
            value_range = (lo, hi)
        self.modality = modality
        self.value_range = value_range
        self.uint8 = bool(uint8)

    def range_for(self, op: str) -> Tuple[float, float]:
        """The value range, or an error naming the op and the modality."""
        if self.value_range is None:
            raise ValueError(
                f'{op}: no value range for modality {self.modality!r} '
                '(float data has no implicit range): set value_range=(lo, '
                "hi) for it in the data preprocessor's modalities, as "
                'LoadModalities/StatsScale set it on the CPU.')
        return self.value_range

    def finish(self, x: Tensor) -> Tensor:
        """Cast back as the CPU ops do: uint8 data is rounded and clipped
        (in place: ``x`` must be a fresh result)."""
        return x.round_().clamp_(0, 255) if self.uint8 else x


def _uniform(n: int, lo: float, hi: float, generator: torch.Generator,
             device: torch.device) -> Tensor:
    """``np.random.uniform(lo, hi)`` for ``n`` samples, in float64."""
    u = torch.rand(n, generator=generator, device=device, dtype=torch.float64)
    return lo + (hi - lo) * u


def _per_sample(v: Tensor) -> Tensor:
    return v.view(-1, 1, 1, 1)


class BatchOp:
    """Base of the batch ops: parameters per sample, applied to a batch.

    Args:
        prob (float): Probability of applying the op, drawn per sample.
            Defaults to 1.0.
        modalities (str | Sequence[str], optional): Modalities the op
            touches; others pass unchanged (as the CPU op skips them).
            None means all. Defaults to None.
    """
    #: Geometric ops move pixels (crop, flip); the others are photometric.
    geometric = False

    def __init__(self,
                 prob: float = 1.0,
                 modalities: Optional[Union[str, Sequence[str]]] = None):
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if isinstance(modalities, str):
            modalities = (modalities, )
        self.prob = float(prob)
        self.modalities = None if modalities is None else tuple(modalities)

    def applies_to(self, modality: str) -> bool:
        return self.modalities is None or modality in self.modalities

    def gate(self, n: int, generator: torch.Generator,
             device: torch.device) -> Tensor:
        """Per sample ``rand() < prob``, as the CPU ops decide."""
        u = torch.rand(
            n, generator=generator, device=device, dtype=torch.float64)
        return u < self.prob

    def sample(self, n: int, hw: Tuple[int, int], generator: torch.Generator,
               device: torch.device) -> Params:
        """Draw the parameters of ``n`` samples of size ``hw``.

        Args:
            n (int): Batch size.
            hw (tuple[int, int]): Input (height, width).
            generator (torch.Generator): Source of randomness (on
                ``device``).
            device (torch.device): Where the parameters live.

        Returns:
            dict[str, Tensor]: One entry per parameter, first dim ``n``.
        """
        raise NotImplementedError

    def apply(self, x: Tensor, params: Params, ctx: AugmentContext) -> Tensor:
        """Apply given parameters to a float batch (B, C, H, W).

        Args:
            x (Tensor): Float32 batch (uint8 data already as floats).
            params (dict[str, Tensor]): From :meth:`sample`.
            ctx (AugmentContext): Value range and dtype of the modality.

        Returns:
            Tensor: The transformed float32 batch.
        """
        raise NotImplementedError

    def _repr_args(self) -> str:
        return f'prob={self.prob}, modalities={self.modalities}'

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self._repr_args()})'


@MODELS.register_module()
class BatchRandomResizedCrop(BatchOp):
    """:class:`RandomResizedCropND` on a batch, one box per sample.

    Box: up to ``max_attempts`` draws of an area fraction ``U(scale)`` and a
    log-uniform aspect ratio, ``w = round(sqrt(area * r))``,
    ``h = round(sqrt(area / r))``, the first that fits wins, its top-left
    corner uniform over the valid positions; if none fits, the central crop
    clamped to ``ratio``. Resampling: OpenCV's bilinear ``resize`` of the
    box (pixel centres, ``src = (dst + 0.5) * crop / size - 0.5`` clamped to
    the box), for the whole batch at once (:func:`resized_crop`).

    Args:
        size (int | Sequence[int]): Output (height, width).
        scale (Sequence[float]): Area fraction range. Defaults to
            (0.08, 1.0).
        ratio (Sequence[float]): Aspect ratio (w/h) range. Defaults to
            (3/4, 4/3).
        interpolation (str): Only 'bilinear' runs here. Defaults to
            'bilinear'.
        max_attempts (int): Draws before the central crop. Defaults to 10.
    """
    geometric = True

    def __init__(self,
                 size: Union[int, Sequence[int]],
                 scale: Sequence[float] = (0.08, 1.0),
                 ratio: Sequence[float] = (3. / 4., 4. / 3.),
                 interpolation: str = 'bilinear',
                 max_attempts: int = 10) -> None:
        super().__init__()
        if isinstance(size, int):
            size = (size, size)
        if len(size) != 2:
            raise ValueError(f'size must be an int or (height, width), got '
                             f'{size!r}')
        self.size = (int(size[0]), int(size[1]))
        check_crop_args(scale, ratio)
        if interpolation != 'bilinear':
            raise ValueError(
                f'BatchRandomResizedCrop: interpolation {interpolation!r} '
                "does not run on the accelerator (only 'bilinear'); keep "
                'this crop in the CPU pipeline')
        if max_attempts < 1:
            raise ValueError(f'max_attempts must be >= 1, got {max_attempts}')
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))
        self.interpolation = interpolation
        self.max_attempts = int(max_attempts)

    def fallback(self, h: int, w: int) -> Tuple[int, int, int, int]:
        """The central crop used when no attempt fits (as the CPU op)."""
        return central_crop_box(h, w, self.ratio)

    def sample(self, n, hw, generator, device) -> Params:
        """Boxes: ``top``, ``left``, ``height``, ``width`` (int64, (n,))."""
        h, w = hw
        f64 = dict(device=device, dtype=torch.float64)
        attempts = self.max_attempts
        u = torch.rand((n, attempts, 2), generator=generator, **f64)
        area = h * w * (
            self.scale[0] + (self.scale[1] - self.scale[0]) * u[..., 0])
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        aspect = torch.exp(log_lo + (log_hi - log_lo) * u[..., 1])
        # torch.round and Python's round both round half to even.
        crop_w = torch.round(torch.sqrt(area * aspect))
        crop_h = torch.round(torch.sqrt(area / aspect))
        fits = (crop_w > 0) & (crop_w <= w) & (crop_h > 0) & (crop_h <= h)
        index = torch.arange(attempts, device=device).expand(n, attempts)
        first = torch.where(fits, index, attempts).amin(1)
        found = first < attempts
        pick = first.clamp(max=attempts - 1)[:, None]
        crop_h = crop_h.gather(1, pick)[:, 0]
        crop_w = crop_w.gather(1, pick)[:, 0]
        # np.random.randint(0, k) for the accepted box: floor(U * k).
        corner = torch.rand((n, 2), generator=generator, **f64)
        top = torch.minimum(
            torch.floor(corner[:, 0] * (h - crop_h + 1)), h - crop_h)
        left = torch.minimum(
            torch.floor(corner[:, 1] * (w - crop_w + 1)), w - crop_w)
        fb = self.fallback(h, w)
        out = {}
        for key, val, fb_val in zip(('top', 'left', 'height', 'width'),
                                    (top, left, crop_h, crop_w), fb):
            out[key] = torch.where(found, val, torch.full_like(val,
                                                               fb_val)).long()
        return out

    def apply(self, x, params, ctx) -> Tensor:
        return ctx.finish(resized_crop(x, params, self.size))

    def _repr_args(self) -> str:
        return (f'size={self.size}, scale={self.scale}, ratio={self.ratio}, '
                f'max_attempts={self.max_attempts}')


def _source_taps(start: Tensor, length: Tensor, out: int,
                 flip: Optional[Tensor],
                 size: int) -> Tuple[Tensor, Tensor, Tensor]:
    """The two source pixels and the weight of the second, per output
    pixel, of OpenCV's bilinear resize of ``[start, start + length)`` to
    ``out`` pixels (``src = (dst + 0.5) * length / out - 0.5``, clamped to
    the box), optionally in reverse order (a flip of the output).

    Coordinates are computed in float64 and snapped to multiples of 2^-24,
    so the weight and its complement are exact in float32 and a mirrored
    box gives mirrored weights bit for bit: flipping before or after the
    resampling gives identical results.

    Returns:
        tuple[Tensor, Tensor, Tensor]: (B, out) first and second source
        index (int64) and the second one's weight (float32).
    """
    dst = torch.arange(out, device=start.device, dtype=torch.float64)
    length = length.to(torch.float64)[:, None]
    src = (dst + 0.5) * (length / out) - 0.5
    src = torch.minimum(src.clamp(min=0), length - 1) + start[:, None]
    if flip is not None:
        src = torch.where(flip[:, None], src.flip(1), src)
    src = torch.round(src * 2.**24) / 2.**24
    first = torch.floor(src)
    weight = (src - first).float()
    first = first.long()
    return first, (first + 1).clamp(max=size - 1), weight


def resized_crop(x: Tensor,
                 box: Params,
                 size: Tuple[int, int],
                 flip_h: Optional[Tensor] = None,
                 flip_v: Optional[Tensor] = None) -> Tensor:
    """Crop one box per sample, resize bilinearly and optionally flip, for
    the whole batch at once (two gathers and a blend per axis).

    A separable bilinear of its own rather than ``grid_sample``: its
    weights are exact (see :func:`_source_taps`), so folding flips into the
    resampling is exact, and float32 results match OpenCV's float resize
    to rounding.

    Args:
        x (Tensor): Float batch (B, C, H, W).
        box (dict[str, Tensor]): ``top``, ``left``, ``height``, ``width``
            per sample.
        size (tuple[int, int]): Output (height, width).
        flip_h (Tensor, optional): (B,) bool, flip the output horizontally.
        flip_v (Tensor, optional): (B,) bool, flip the output vertically.

    Returns:
        Tensor: (B, C, *size) float batch.
    """
    n, c, h, w = x.shape
    out_h, out_w = size
    first, second, weight = _source_taps(box['top'], box['height'], out_h,
                                         flip_v, h)
    shape = (n, c, out_h, w)

    def rows(index):
        return x.gather(2, index.view(n, 1, out_h, 1).expand(shape))

    weight = weight.view(n, 1, out_h, 1)
    # a * (1 - f) + b * f: symmetric in (a, f) <-> (b, 1 - f), so mirrored
    # taps give the same float sums.
    x = rows(first) * (1 - weight) + rows(second) * weight
    first, second, weight = _source_taps(box['left'], box['width'], out_w,
                                         flip_h, w)
    shape = (n, c, out_h, out_w)

    def cols(index):
        return x.gather(3, index.view(n, 1, 1, out_w).expand(shape))

    weight = weight.view(n, 1, 1, out_w)
    return cols(first) * (1 - weight) + cols(second) * weight


@MODELS.register_module()
class BatchRandomFlip(BatchOp):
    """:class:`RandomFlipND` on a batch, one draw per sample.

    Args:
        prob (float): Flip probability. Defaults to 0.5.
        direction (str): 'horizontal', 'vertical' or 'diagonal' (both).
            Defaults to 'horizontal'.
    """
    geometric = True
    _DIMS = {'horizontal': (-1, ), 'vertical': (-2, ), 'diagonal': (-2, -1)}

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal'):
        super().__init__(prob=prob)
        if direction not in self._DIMS:
            raise ValueError(f'direction must be one of {list(self._DIMS)}, '
                             f'got {direction!r}')
        self.direction = direction

    @property
    def flips_h(self) -> bool:
        return -1 in self._DIMS[self.direction]

    @property
    def flips_v(self) -> bool:
        return -2 in self._DIMS[self.direction]

    def sample(self, n, hw, generator, device) -> Params:
        """``flip``: (n,) bool."""
        return dict(flip=self.gate(n, generator, device))

    def apply(self, x, params, ctx) -> Tensor:
        return torch.where(
            _per_sample(params['flip']), x.flip(self._DIMS[self.direction]), x)

    def _repr_args(self) -> str:
        return f'prob={self.prob}, direction={self.direction!r}'


@MODELS.register_module()
class BatchColorJitter(BatchOp):
    """:class:`ColorJitterND` on a batch: brightness, then contrast.

    ``x * b``, then ``x * c + mean * (1 - c)`` with ``mean`` the mean over
    all pixels and bands of the brightness-scaled image (from the input's
    float64 mean, as the CPU op), then clipped to the value range; ``b`` and
    ``c`` uniform per sample. (The CPU op has no saturation or hue.)

    Args:
        brightness (float | Sequence[float]): B or a (lo, hi) range.
            Defaults to 0.4.
        contrast (float | Sequence[float]): C or a (lo, hi) range.
            Defaults to 0.4.
        modalities (str | Sequence[str], optional): Defaults to None.
        prob (float): Defaults to 0.8.
    """

    def __init__(self,
                 brightness: Union[float, Sequence[float]] = 0.4,
                 contrast: Union[float, Sequence[float]] = 0.4,
                 modalities: Optional[Union[str, Sequence[str]]] = None,
                 prob: float = 0.8) -> None:
        super().__init__(prob=prob, modalities=modalities)
        self.brightness = factor_range(brightness, 'brightness')
        self.contrast = factor_range(contrast, 'contrast')

    def sample(self, n, hw, generator, device) -> Params:
        """``apply`` (bool), ``brightness`` and ``contrast`` (float32; 1
        where disabled)."""
        params = dict(apply=self.gate(n, generator, device))
        for key in ('brightness', 'contrast'):
            rng = getattr(self, key)
            params[key] = (
                _uniform(n, *rng, generator, device).float()
                if rng is not None else torch.ones(n, device=device))
        return params

    def apply(self, x, params, ctx) -> Tensor:
        lo, hi = ctx.range_for(type(self).__name__)
        b = _per_sample(params['brightness'])
        c = _per_sample(params['contrast'])
        y = x * b if self.brightness is not None else x.clone()
        if self.contrast is not None:
            # Rows summed in float32 (exact for integer data), the rest in
            # float64: the CPU op's float64 mean without a float64 copy.
            total = x.sum(dim=3).double().sum(dim=(1, 2))
            mean = total / x[0].numel() * params['brightness'].double()
            y.mul_(c).add_(_per_sample(mean.float()) * (1 - c))
        y = ctx.finish(y.clamp_(lo, hi))
        return torch.where(_per_sample(params['apply']), y, x)

    def _repr_args(self) -> str:
        return (f'brightness={self.brightness}, contrast={self.contrast}, ' +
                super()._repr_args())


@MODELS.register_module()
class BatchRandomGrayscale(BatchOp):
    """:class:`RandomGrayscaleND` on a batch: every band becomes the band
    mean (summed in float64, rounded once for uint8 data).

    Args:
        modalities (str | Sequence[str], optional): Defaults to None.
        prob (float): Defaults to 0.2.
    """

    def __init__(self,
                 modalities: Optional[Union[str, Sequence[str]]] = None,
                 prob: float = 0.2) -> None:
        super().__init__(prob=prob, modalities=modalities)

    def sample(self, n, hw, generator, device) -> Params:
        """``apply``: (n,) bool."""
        return dict(apply=self.gate(n, generator, device))

    def apply(self, x, params, ctx) -> Tensor:
        # float32 sums of integer data are exact, and a band mean k / C is
        # never within float32 rounding of a half unless it is one, so uint8
        # results equal the CPU op's float64 ones.
        gray = ctx.finish(x.sum(1, keepdim=True) / x.shape[1]).expand_as(x)
        return torch.where(_per_sample(params['apply']), gray, x)


def _reflect101(index: Tensor, n: int) -> Tensor:
    """OpenCV's BORDER_REFLECT_101 of any index (repeated reflections)."""
    if n == 1:
        return torch.zeros_like(index)
    period = 2 * (n - 1)
    index = index.remainder(period)
    return torch.where(index >= n, period - index, index)


@MODELS.register_module()
class BatchGaussianBlur(BatchOp):
    """:class:`GaussianBlurND` on a batch, a sigma per sample.

    OpenCV's kernel: size ``round(sigma * k * 2 + 1) | 1`` with k = 3 for
    uint8 and 4 for other data (unless ``kernel_size``), weights
    ``exp(-t^2 / (2 sigma^2))`` normalised, separable, with
    BORDER_REFLECT_101. Every sample's kernel is zero-padded to the widest
    one of the sigma range, so the whole batch is one pass per axis.

    The passes are sums of shifted, weighted copies in float32 rather than a
    grouped convolution: cuDNN convolutions on recent GPUs default to TF32,
    whose 10-bit mantissa would move blurred values by up to ~0.1 grey
    levels; elementwise arithmetic is IEEE float32 on every device.

    Args:
        sigma (Sequence[float]): Sigma range. Defaults to (0.1, 2.0).
        kernel_size (int, optional): Odd fixed size; None derives it from
            sigma as OpenCV does. Defaults to None.
        modalities (str | Sequence[str], optional): Defaults to None.
        prob (float): Defaults to 0.5.
    """

    def __init__(self,
                 sigma: Sequence[float] = (0.1, 2.0),
                 kernel_size: Optional[int] = None,
                 modalities: Optional[Union[str, Sequence[str]]] = None,
                 prob: float = 0.5) -> None:
        super().__init__(prob=prob, modalities=modalities)
        check_blur_args(sigma, kernel_size)
        self.sigma = (float(sigma[0]), float(sigma[1]))
        self.kernel_size = kernel_size

    def sample(self, n, hw, generator, device) -> Params:
        """``apply`` (bool) and ``sigma`` (float64)."""
        return dict(
            apply=self.gate(n, generator, device),
            sigma=_uniform(n, *self.sigma, generator, device))

    def _size_factor(self, ctx: AugmentContext) -> int:
        return 3 if ctx.uint8 else 4

    def radius(self, ctx: AugmentContext) -> int:
        """The widest kernel radius over the sigma range."""
        if self.kernel_size is not None:
            return self.kernel_size // 2
        return (int(round(self.sigma[1] * self._size_factor(ctx) * 2 + 1))
                | 1) // 2

    def kernels(self, sigma: Tensor, ctx: AugmentContext) -> Tensor:
        """Per-sample 1-D kernels (B, 2R + 1), float32, zero-padded."""
        radius = self.radius(ctx)
        taps = torch.arange(
            -radius, radius + 1, device=sigma.device, dtype=torch.float64)
        if self.kernel_size is not None:
            own = torch.full_like(sigma, float(radius))
        else:
            size = torch.round(sigma * self._size_factor(ctx) * 2 + 1)
            own = torch.floor((size.long() | 1).double() / 2)
        weights = torch.exp(-0.5 * taps**2 / sigma[:, None]**2)
        weights = torch.where(taps.abs() <= own[:, None], weights, 0.)
        return (weights / weights.sum(1, keepdim=True)).float()

    def blur(self, x: Tensor, kernels: Tensor) -> Tensor:
        """Separable blur of (B, C, H, W) with per-sample kernels."""
        radius = kernels.shape[1] // 2
        out = x
        for dim in (3, 2):  # rows first, as OpenCV's separable filter
            n = out.shape[dim]
            index = _reflect101(
                torch.arange(-radius, n + radius, device=x.device), n)
            padded = out.index_select(dim, index)
            w = kernels.view(kernels.shape[0], 1, 1, 1, -1)
            acc = padded.narrow(dim, radius, n) * w[..., radius]
            pair = torch.empty_like(acc)
            for d in range(1, radius + 1):
                # Symmetric taps: one multiply for both sides.
                torch.add(
                    padded.narrow(dim, radius - d, n),
                    padded.narrow(dim, radius + d, n),
                    out=pair)
                acc.addcmul_(pair, w[..., radius + d])
            out = acc
        return out

    def apply(self, x, params, ctx) -> Tensor:
        y = ctx.finish(self.blur(x, self.kernels(params['sigma'], ctx)))
        return torch.where(_per_sample(params['apply']), y, x)

    def _repr_args(self) -> str:
        return (f'sigma={self.sigma}, kernel_size={self.kernel_size}, ' +
                super()._repr_args())


@MODELS.register_module()
class BatchSolarize(BatchOp):
    """:class:`SolarizeND` on a batch: with (lo, hi) the value range,
    values ``>= lo + threshold * (hi - lo)`` become ``hi + lo - x``.

    Args:
        threshold (float): Fraction of the value range. Defaults to 0.5.
        modalities (str | Sequence[str], optional): Defaults to None.
        prob (float): Defaults to 0.2.
    """

    def __init__(self,
                 threshold: float = 0.5,
                 modalities: Optional[Union[str, Sequence[str]]] = None,
                 prob: float = 0.2) -> None:
        super().__init__(prob=prob, modalities=modalities)
        self.threshold = check_solarize_threshold(threshold)

    def sample(self, n, hw, generator, device) -> Params:
        """``apply``: (n,) bool."""
        return dict(apply=self.gate(n, generator, device))

    def apply(self, x, params, ctx) -> Tensor:
        lo, hi = ctx.range_for(type(self).__name__)
        t = float(np.float32(lo + self.threshold * (hi - lo)))
        # lerp with 0/1 weights is an exact select (a + 0 * d, b - d * 0),
        # and several times faster than a full-size where on the CPU.
        y = torch.lerp(x, float(np.float32(hi + lo)) - x, (x >= t).float())
        y = ctx.finish(y.clamp_(lo, hi))
        return torch.where(_per_sample(params['apply']), y, x)

    def _repr_args(self) -> str:
        return f'threshold={self.threshold}, ' + super()._repr_args()


def build_batch_op(cfg: OpCfg, where: str = 'batch_augments') -> BatchOp:
    """Build a batch op from its config or from the CPU transform's config.

    Args:
        cfg (dict | BatchOp): ``dict(type=..., **args)``, where ``type`` is
            a batch op or a CPU transform of ``CPU_EQUIVALENTS``
            (optionally scoped, ``'mmdecur.ColorJitterND'``), or an op.
        where (str): Where the config sits, for error messages.

    Returns:
        BatchOp: The op.
    """
    if isinstance(cfg, BatchOp):
        return cfg
    if not isinstance(cfg, Mapping) or 'type' not in cfg:
        raise TypeError(f'{where}: expected a transform config with a '
                        f'"type", got {cfg!r}')
    args = dict(cfg)
    name = str(args.pop('type'))
    short = name.split('.')[-1]
    short = CPU_EQUIVALENTS.get(short, short)
    op_cls = MODELS.get(short)
    if not (isinstance(op_cls, type) and issubclass(op_cls, BatchOp)):
        raise ValueError(
            f'{where}: {name} has no batch version on the accelerator '
            f'(those are {sorted(CPU_EQUIVALENTS)}); keep it in the CPU '
            'pipeline, before the views are packed')
    try:
        return op_cls(**args)
    except TypeError as e:
        raise TypeError(f'{where}: {name}: {e}') from None


class BatchAugmentPipeline:
    """The batch counterpart of one CPU view pipeline.

    The geometric part (at most one crop, any number of flips, only flips
    before the crop) becomes one resampling; the photometric ops follow in
    their configured order.

    Args:
        ops (Sequence[dict | BatchOp]): Op configs (batch or CPU types).
        where (str): Where the pipeline sits, for error messages.
    """

    def __init__(self, ops: PipelineSpec, where: str = 'pipeline') -> None:
        self.ops: List[BatchOp] = [
            build_batch_op(op, f'{where}[{i}]') for i, op in enumerate(ops)
        ]
        crops = [
            i for i, op in enumerate(self.ops)
            if isinstance(op, BatchRandomResizedCrop)
        ]
        if len(crops) > 1:
            raise ValueError(f'{where}: more than one RandomResizedCrop; '
                             'the batch version fuses one crop per view')
        self.crop_index = crops[0] if crops else None
        before = self.ops[:self.crop_index or 0]
        if any(not isinstance(op, BatchRandomFlip) for op in before):
            raise ValueError(
                f'{where}: only flips may come before RandomResizedCrop on '
                'the accelerator (other ops do not commute with the crop); '
                'put the crop first, as the pretraining configs do')

    @property
    def geometric(self) -> bool:
        return any(op.geometric for op in self.ops)

    def sample(self,
               n: int,
               hw: Tuple[int, int],
               generator: torch.Generator,
               device: torch.device,
               modality: Optional[str] = None,
               geometric: bool = True,
               photometric: bool = True) -> Dict[int, Params]:
        """Draw the parameters of every op (by index).

        Args:
            n (int): Batch size.
            hw (tuple[int, int]): Input (height, width).
            generator (torch.Generator): Randomness on ``device``.
            device (torch.device): Device of the parameters.
            modality (str, optional): Skip photometric ops restricted to
                other modalities.
            geometric (bool): Draw the geometric ops. Defaults to True.
            photometric (bool): Draw the photometric ops. Defaults to True.

        Returns:
            dict[int, dict[str, Tensor]]: Op index -> its parameters.
        """
        params = {}
        for i, op in enumerate(self.ops):
            wanted_photometric = photometric and (modality is None
                                                  or op.applies_to(modality))
            if geometric if op.geometric else wanted_photometric:
                params[i] = op.sample(n, hw, generator, device)
        return params

    def apply(self, x: Tensor, params: Dict[int, Params],
              ctx: AugmentContext) -> Tensor:
        """Apply drawn parameters to one modality's batch.

        Args:
            x (Tensor): (B, C, H, W) batch of any dtype.
            params (dict[int, dict[str, Tensor]]): From :meth:`sample`.
            ctx (AugmentContext): The modality's value range and dtype.

        Returns:
            Tensor: The float32 augmented batch.
        """
        x = x.to(torch.float32)
        n = x.shape[0]
        no = torch.zeros(n, dtype=torch.bool, device=x.device)
        flip_pre = [no, no]  # horizontal, vertical flips before the crop
        flip_all = [no, no]
        for i, op in enumerate(self.ops):
            if isinstance(op, BatchRandomFlip):
                drawn = params[i]['flip']
                for axis, flips in enumerate((op.flips_h, op.flips_v)):
                    if flips:
                        flip_all[axis] = flip_all[axis] ^ drawn
                        if self.crop_index is not None and i < self.crop_index:
                            flip_pre[axis] = flip_pre[axis] ^ drawn
        if self.crop_index is not None:
            box = dict(params[self.crop_index])
            _, _, h, w = x.shape
            # crop(flip(x)) == flip(crop(x, mirrored box)).
            box['left'] = torch.where(flip_pre[0],
                                      w - box['left'] - box['width'],
                                      box['left'])
            box['top'] = torch.where(flip_pre[1],
                                     h - box['top'] - box['height'],
                                     box['top'])
            crop = self.ops[self.crop_index]
            x = ctx.finish(
                resized_crop(x, box, crop.size, flip_all[0], flip_all[1]))
        elif any(isinstance(op, BatchRandomFlip) for op in self.ops):
            x = torch.where(_per_sample(flip_all[0]), x.flip(-1), x)
            x = torch.where(_per_sample(flip_all[1]), x.flip(-2), x)
        for i, op in enumerate(self.ops):
            if not op.geometric and i in params:
                x = op.apply(x, params[i], ctx)
        return x

    def __call__(self, xs: Mapping[str, Tensor], ctxs: Mapping[str,
                                                               AugmentContext],
                 generator: torch.Generator) -> Dict[str, Tensor]:
        """Augment one view of one or more modalities.

        Geometric parameters are drawn once and shared by every modality in
        ``xs`` (co-registered, like a CPU ``shared`` pipeline); photometric
        ones are drawn per modality, as the CPU ops draw per modality.

        Args:
            xs (dict[str, Tensor]): Modality -> (B, C, H, W) batch.
            ctxs (dict[str, AugmentContext]): Modality -> context.
            generator (torch.Generator): Randomness on the data's device.

        Returns:
            dict[str, Tensor]: Modality -> augmented float32 batch.
        """
        if not self.ops:
            return dict(xs)
        first = next(iter(xs.values()))
        n, hw, device = first.shape[0], tuple(first.shape[-2:]), first.device
        if self.geometric:
            sizes = {
                m: tuple(x.shape[:1]) + tuple(x.shape[-2:])
                for m, x in xs.items()
            }
            if len(set(sizes.values())) > 1:
                raise ValueError(
                    'co-registration required: a shared geometric batch '
                    f'augmentation got batches of different sizes {sizes} '
                    '(batch, height, width)')
        shared = self.sample(n, hw, generator, device, photometric=False)
        out = {}
        for m, x in xs.items():
            params = dict(shared)
            params.update(
                self.sample(
                    n, hw, generator, device, modality=m, geometric=False))
            out[m] = self.apply(x, params, ctxs[m])
        return out

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.ops})'


def _is_per_view(spec) -> bool:
    # As MultiModalMultiView: a list of pipelines (lists) is one per view.
    return (isinstance(spec, (list, tuple)) and len(spec) > 0
            and all(isinstance(p, (list, tuple)) for p in spec))


class BatchAugment:
    """The pretraining augmentations of every modality and view, on a batch.

    The counterpart of :class:`MultiModalMultiView`'s ``transforms`` and
    ``shared``: for each view, the ``shared`` pipeline (if any) runs on all
    modalities with one geometric draw per sample, then each modality's own
    pipeline runs with its own draws.

    **Randomness.** A ``torch.Generator`` on the data's device, re-seeded for
    every batch with ``SeedSequence([seed, rank, iteration, call])``:

    - ``seed``: the ``seed`` argument, else ``torch.initial_seed()``, which
      in a runner is MMEngine's run seed (``randomness.seed``, or the one it
      drew, and after ``--resume`` the checkpoint's: MMEngine re-seeds
      torch with it, and ``RandomStateHook``'s restored states keep it). The
      same seed gives the same augmentations; another seed other ones.
    - ``rank``: each DDP process augments differently.
    - ``iteration``: during a training loop, MMEngine's iteration counter;
      ``call`` counts the batches within one iteration. The draws of an
      iteration therefore depend only on (seed, rank, iteration): a run
      resumed at iteration i augments exactly as the uninterrupted one did
      at i, with nothing to save in the checkpoint (and independently of
      ``RandomStateHook``). Outside a training loop, ``call`` counts all
      calls.

    The generator is separate from torch's global ones: switching batch
    augmentation on does not shift dropout, initialisation or any other
    random stream.

    Args:
        transforms (dict): Modality -> pipeline (list of op configs, CPU or
            batch types) used for every view, or a list of per-view
            pipelines. Every modality of the data preprocessor must have an
            entry (an empty list: no augmentation).
        shared (list, optional): A pipeline run on all modalities first (or
            a list of per-view ones). Defaults to None.
        seed (int, optional): Base seed; see above. Defaults to None.
        modalities (Sequence[str], optional): The data preprocessor's
            modalities, to check ``transforms`` against. Defaults to None.
    """

    def __init__(self,
                 transforms: Mapping[str, Union[PipelineSpec,
                                                Sequence[PipelineSpec]]],
                 shared: Optional[Union[PipelineSpec,
                                        Sequence[PipelineSpec]]] = None,
                 seed: Optional[int] = None,
                 modalities: Optional[Sequence[str]] = None) -> None:
        if not isinstance(transforms, Mapping) or not transforms:
            raise TypeError('batch_augments.transforms must be a non-empty '
                            'dict of modality -> pipeline, got '
                            f'{type(transforms).__name__}')
        if modalities is not None:
            missing = [m for m in modalities if m not in transforms]
            unknown = [m for m in transforms if m not in modalities]
            if missing or unknown:
                raise ValueError(
                    'batch_augments.transforms must list every modality of '
                    f'the data preprocessor {list(modalities)} (an empty '
                    f'list for none): missing {missing}, unknown {unknown}')
        self.pipelines = {
            m: self._build(spec, f'batch_augments.transforms[{m!r}]')
            for m, spec in transforms.items()
        }
        self.shared = None if not shared else self._build(
            shared, 'batch_augments.shared')
        if seed is not None and not isinstance(seed, int):
            raise TypeError(f'batch_augments.seed must be an int, got '
                            f'{seed!r}')
        self.seed = seed
        self._generator: Optional[torch.Generator] = None
        self._calls = 0
        self._iter: Optional[int] = None

    @staticmethod
    def _build(spec, where: str):
        """One pipeline for all views, or a tuple of per-view ones."""
        if _is_per_view(spec):
            return tuple(
                BatchAugmentPipeline(p, f'{where}[view {v}]')
                for v, p in enumerate(spec))
        return BatchAugmentPipeline(spec or [], where)

    @staticmethod
    def _for_view(pipelines, v: int, num_views: int, where: str):
        if isinstance(pipelines, BatchAugmentPipeline):
            return pipelines
        if len(pipelines) != num_views:
            raise ValueError(f'{where} lists {len(pipelines)} per-view '
                             f'pipelines but the data has {num_views} views')
        return pipelines[v]

    def next_seed(self) -> int:
        """The seed of the next batch (advances the call counter)."""
        hub = MessageHub.get_current_instance()
        base = torch.initial_seed() if self.seed is None else self.seed
        it = hub.get_info('iter')
        if hub.get_info('loop_stage') == 'train' and it is not None:
            if it != self._iter:
                self._iter, self._calls = int(it), 0
            key = [1, int(it), self._calls]
        else:
            self._iter = None
            key = [0, 0, self._calls]
        self._calls += 1
        words = np.random.SeedSequence([int(base) %
                                        2**64, get_rank()] +
                                       key).generate_state(2)
        return (int(words[0]) << 31) | (int(words[1]) >> 1)

    def generator(self, device: torch.device) -> torch.Generator:
        """The device generator, seeded for the next batch."""
        device = torch.device(device)
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device)
        self._generator.manual_seed(self.next_seed())
        return self._generator

    def __call__(
        self,
        inputs: Mapping[str, Union[Tensor, List[Tensor]]],
        value_ranges: Optional[Mapping[str, Optional[tuple]]] = None
    ) -> Dict[str, Union[Tensor, List[Tensor]]]:
        """Augment a batch.

        Args:
            inputs (dict): Modality -> list of views, each a (B, C, H, W)
                tensor (uint8 or float), or one tensor (a single view).
            value_ranges (dict, optional): Modality -> (lo, hi) for the
                range-dependent ops; uint8 data defaults to (0, 255).

        Returns:
            dict: The same structure with float32 augmented views.
        """
        value_ranges = value_ranges or {}
        views = {
            m: [x] if isinstance(x, Tensor) else list(x)
            for m, x in inputs.items()
        }
        if not views:
            return {}
        unknown = [m for m in views if m not in self.pipelines]
        if unknown:
            raise KeyError(f'batch_augments has no pipeline for the '
                           f'modalities {unknown} of the data')
        ctxs = {}
        for m, vs in views.items():
            uint8 = vs[0].dtype == torch.uint8
            vr = value_ranges.get(m)
            ctxs[m] = AugmentContext(
                m, vr if vr is not None else (0., 255.) if uint8 else None,
                uint8)
        counts = {m: len(vs) for m, vs in views.items()}
        num_views = max(counts.values())
        if self.shared is not None and len(set(counts.values())) > 1:
            raise ValueError('batch_augments.shared needs the same number '
                             f'of views in every modality, got {counts}')
        generator = self.generator(next(iter(views.values()))[0].device)
        out = {m: [] for m in views}
        for v in range(num_views):
            current = {m: vs[v] for m, vs in views.items() if v < len(vs)}
            if self.shared is not None:
                current = self._for_view(self.shared, v, num_views,
                                         'batch_augments.shared')(current,
                                                                  ctxs,
                                                                  generator)
            for m, x in current.items():
                pipeline = self._for_view(self.pipelines[m], v, counts[m],
                                          f'batch_augments.transforms[{m!r}]')
                out[m].append(pipeline({m: x}, ctxs, generator)[m])
        return {
            m: out[m][0] if isinstance(inputs[m], Tensor) else out[m]
            for m in views
        }

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(transforms={self.pipelines}, '
                f'shared={self.shared}, seed={self.seed})')

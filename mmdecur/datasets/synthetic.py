# Copyright (c) mmdecur contributors. All rights reserved.
"""File-free multimodal datasets with known common and unique factors.

:class:`SyntheticMultiModalDataset` renders objects (2 or 3 modalities, the
README demo); :class:`SyntheticFactorDataset` renders any number of
modalities from a configurable number of common and private factors, so that
the true common fraction is known by construction.
"""
import math
from typing import Dict, List, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset

from mmdecur.registry import DATASETS
from .transforms.multiview import build_pipeline

__all__ = ['SyntheticMultiModalDataset', 'SyntheticFactorDataset']

SHAPES = ('disk', 'square', 'triangle', 'cross')
# Well separated in hue and saturated, so brightness/contrast jitter and blur
# never move one colour onto another.
HUES = ('red', 'green', 'blue', 'yellow')
HUE_RGB = np.array(
    [[220, 40, 40], [40, 200, 40], [40, 80, 230], [230, 210, 40]],
    dtype=np.float32)
# Stripe cycles per image height, an octave apart: a random resized crop
# with scale >= 0.5 and ratio in [3/4, 4/3] zooms by at most ~1.63x, less
# than the factor 2 between neighbours, so the class stays identifiable.
TEXTURE_CYCLES = (1.5, 3.0, 6.0, 12.0)

FACTOR_NAMES = ('shape', 'size', 'pos_x', 'pos_y', 'hue', 'background',
                'texture', 'phase')
# The third modality's private factor (vertical stripes, varying along x) and
# its nuisance; drawn from their own random stream, so two-modality samples
# are the same with or without a third modality.
THIRD_FACTOR_NAMES = ('grating', 'grating_phase')
GRATING_CYCLES = TEXTURE_CYCLES
SPLITS = ('train', 'val', 'test')


class _SyntheticBase(BaseDataset):
    """What the synthetic datasets share: deterministic per-sample random
    streams, no files, ``imgs`` rendered on access.

    Subclasses implement :meth:`sample_factors` and :meth:`render`.
    """

    def __init__(self, num_samples: int, image_size: int,
                 modalities: Sequence[str], seed: int, split: str,
                 noise_std: float, metainfo: dict, pipeline: Sequence,
                 **kwargs) -> None:
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        if image_size < 8:
            raise ValueError(f'image_size must be >= 8, got {image_size}')
        self.num_samples = int(num_samples)
        self.image_size = int(image_size)
        self.modalities = tuple(modalities)
        self.seed = int(seed)
        self.split = split
        self.noise_std = float(noise_std)
        # Pixel centres in [0, 1]: row and column coordinate grids.
        coords = (np.arange(self.image_size, dtype=np.float32) +
                  0.5) / self.image_size
        self._ys = coords[:, None]
        self._xs = coords[None, :]
        metainfo = dict(metainfo, modalities=self.modalities)
        metainfo.update(kwargs.pop('metainfo', None) or {})
        super().__init__(
            metainfo=metainfo,
            pipeline=build_pipeline(pipeline).transforms,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """One entry per sample; the images are rendered on access.

        Returns:
            list[dict]: ``dict(index=i)`` for every sample.
        """
        return [dict(index=i) for i in range(self.num_samples)]

    def _rng(self, index: int, stream: int = 0) -> np.random.Generator:
        return np.random.default_rng(
            [self.seed, SPLITS.index(self.split), index, stream])

    def _noise(self, index: int, stream: int, shape: Tuple[int,
                                                           ...]) -> np.ndarray:
        if self.noise_std == 0:
            return np.zeros(shape, np.float32)
        return self._rng(index, stream).standard_normal(
            shape, dtype=np.float32) * np.float32(self.noise_std)

    @staticmethod
    def _to_uint8(x: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)

    def sample_factors(self, index: int) -> Dict[str, float]:
        raise NotImplementedError

    def render(self, factors: Dict[str, float],
               index: int) -> Dict[str, np.ndarray]:
        raise NotImplementedError

    def get_data_info(self, idx: int) -> dict:
        """Render sample ``idx``.

        Args:
            idx (int): Position in this (possibly subsetted) dataset.

        Returns:
            dict: The data info described in the class docstring.
        """
        info = super().get_data_info(idx)
        index: int = info.pop('index')
        factors = self.sample_factors(index)
        imgs = self.render(factors, index)
        hw = (self.image_size, self.image_size)
        info.update(
            imgs=imgs,
            img_paths={m: None
                       for m in imgs},
            value_ranges={m: (0., 255.)
                          for m in imgs},
            ori_shape={m: hw
                       for m in imgs},
            factors=factors,
            gt_factors=np.array(
                [factors[n] for n in self._metainfo['factor_names']],
                dtype=np.float32))
        return info


@DATASETS.register_module()
class SyntheticMultiModalDataset(_SyntheticBase):
    """Rendered images of two or three modalities with known latent factors.

    Each sample is rendered on the fly from latent factors drawn with
    ``np.random.default_rng([seed, split_id, index])``, so the same index
    gives the same arrays in any process and needs no files:

    - shared (visible in both modalities): ``shape`` (4 classes: disk,
      square, triangle, cross), ``size`` (half-extent as a fraction of the
      image side, U[0.15, 0.3]), ``pos_x``/``pos_y`` (centre, U[0.3, 0.7]);
    - private to the first modality (``'rgb'``, 3-band uint8): ``hue`` (4
      object colours: red, green, blue, yellow), with the nuisance
      ``background`` (grey level of the background, U[0.1, 0.4] of 255);
    - private to the second modality (``'depth'``, 1-band uint8, or
      ``depth_channels`` identical bands): ``texture`` (4 horizontal stripe
      frequencies of 1.5, 3, 6 and 12 cycles per image height, over the
      whole image), with the nuisance ``phase`` of the stripes. The object
      is a raised plateau in this modality.

    - private to the optional third modality (e.g. ``'thermal'``, 1-band
      uint8): ``grating`` (4 frequencies of vertical stripes, varying along
      x: 1.5, 3, 6 and 12 cycles per image width, over the whole image),
      with the nuisance ``grating_phase``; the object is a dark plateau.
      Horizontal flips mirror the stripes but keep their frequency.

    Each modality also gets independent Gaussian pixel noise from its own
    random stream. All factors are independent; the private ones survive
    the demo augmentations (random resized crop with scale >= 0.5, flips,
    mild brightness/contrast, blur on the first modality), so a DeCUR model
    should put shape/size/position in its common dims, hue in the first
    modality's unique dims and texture in the second's.

    Data info: ``imgs``, ``img_paths`` (None per modality), ``value_ranges``
    ((0, 255) per modality), ``ori_shape``, ``sample_idx``, ``factors``
    (dict name -> value: categorical factors as ints, the others as floats)
    and ``gt_factors`` (float32 vector in ``metainfo['factor_names']``
    order), which :class:`PackMultiModalInputs` stores as the data field
    ``data_sample.gt_factors``, so a batch's factors are
    ``torch.stack([ds.gt_factors for ds in data_samples])``.

    ``metainfo`` holds ``factor_names``, ``shared_factors``,
    ``private_factors`` (modality -> probe targets), ``nuisance_factors``,
    ``num_classes`` (categorical factor -> class count) and the class names.

    Args:
        num_samples (int): Dataset length. Defaults to 2048.
        image_size (int): Side of the square images. Defaults to 32.
        modalities (Sequence[str]): Names of the colour modality, the
            texture modality and optionally the grating modality. Defaults
            to ('rgb', 'depth').
        seed (int): Base seed. Defaults to 0.
        split (str): 'train', 'val' or 'test'; each draws different samples.
            Defaults to 'train'.
        depth_channels (int): Bands of the second modality (copies).
            Defaults to 1.
        noise_std (float): Std of the pixel noise, in grey levels. Defaults
            to 4.0.
        pipeline (Sequence[dict | callable]): Transforms; they start from
            ``imgs`` (no loading step). Defaults to ().
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments
            (``lazy_init``, ``indices``, ``serialize_data``, ``test_mode``,
            ``metainfo``).
    """

    METAINFO = dict(
        factor_names=FACTOR_NAMES,
        shared_factors=('shape', 'size', 'pos_x', 'pos_y'),
        nuisance_factors=('background', 'phase'),
        num_classes=dict(shape=len(SHAPES), hue=len(HUES), texture=4),
        shape_names=SHAPES,
        hue_names=HUES,
        texture_cycles=TEXTURE_CYCLES)

    def __init__(self,
                 num_samples: int = 2048,
                 image_size: int = 32,
                 modalities: Sequence[str] = ('rgb', 'depth'),
                 seed: int = 0,
                 split: str = 'train',
                 depth_channels: int = 1,
                 noise_std: float = 4.0,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if len(modalities) not in (2, 3) or len(
                set(modalities)) != len(modalities):
            raise ValueError(
                'SyntheticMultiModalDataset renders two or three distinct '
                'modalities (colour, texture, grating), got '
                f'{modalities!r}; SyntheticFactorDataset takes any number')
        self.depth_channels = int(depth_channels)
        private = {modalities[0]: ('hue', ), modalities[1]: ('texture', )}
        factor_names = FACTOR_NAMES
        num_classes = dict(self.METAINFO['num_classes'])
        nuisance = self.METAINFO['nuisance_factors']
        if len(modalities) == 3:
            private[modalities[2]] = ('grating', )
            factor_names = FACTOR_NAMES + THIRD_FACTOR_NAMES
            num_classes['grating'] = len(GRATING_CYCLES)
            nuisance = nuisance + ('grating_phase', )
        super().__init__(
            num_samples, image_size, modalities, seed, split, noise_std,
            dict(
                private_factors=private,
                factor_names=factor_names,
                num_classes=num_classes,
                nuisance_factors=nuisance), pipeline, **kwargs)

    def sample_factors(self, index: int) -> Dict[str, float]:
        """Draw the latent factors of a sample.

        Args:
            index (int): Sample index (in the full, unsubsetted dataset).

        Returns:
            dict: Factor name -> value (ints for categorical factors).
        """
        rng = self._rng(index)
        u = rng.random(8)
        factors = dict(
            shape=int(u[0] * len(SHAPES)),
            size=float(0.15 + 0.15 * u[1]),
            pos_x=float(0.3 + 0.4 * u[2]),
            pos_y=float(0.3 + 0.4 * u[3]),
            hue=int(u[4] * len(HUES)),
            background=float(0.1 + 0.3 * u[5]),
            texture=int(u[6] * len(TEXTURE_CYCLES)),
            phase=float(2 * math.pi * u[7]))
        if len(self.modalities) == 3:
            u = self._rng(index, 3).random(2)
            factors.update(
                grating=int(u[0] * len(GRATING_CYCLES)),
                grating_phase=float(2 * math.pi * u[1]))
        return factors

    def object_mask(self, factors: Dict[str, float]) -> np.ndarray:
        """The object's silhouette (the shared content).

        Args:
            factors (dict): Latent factors.

        Returns:
            np.ndarray: Boolean H×W mask.
        """
        dx = self._xs - np.float32(factors['pos_x'])
        dy = self._ys - np.float32(factors['pos_y'])
        r = np.float32(factors['size'])
        shape = SHAPES[factors['shape']]
        if shape == 'disk':
            return dx * dx + dy * dy <= r * r
        if shape == 'square':
            # 0.85 r: the square's area is close to the disk's.
            return (np.abs(dx) <= 0.85 * r) & (np.abs(dy) <= 0.85 * r)
        if shape == 'triangle':
            # Apex up at dy = -r, base at dy = r / 2 (equilateral).
            return (dy >= -r) & (dy <= 0.5 * r) & (
                np.abs(dx) <= (dy + r) / np.float32(math.sqrt(3)))
        arm = r / 3
        vertical = (np.abs(dx) <= arm) & (np.abs(dy) <= r)
        horizontal = (np.abs(dy) <= arm) & (np.abs(dx) <= r)
        return vertical | horizontal

    def render(self, factors: Dict[str, float],
               index: int) -> Dict[str, np.ndarray]:
        """Render both modalities from the factors.

        The pixel noise depends only on ``index`` and the modality, so two
        renders that differ in one modality's private factor leave the
        other modality's image unchanged.

        Args:
            factors (dict): Latent factors (see :meth:`sample_factors`).
            index (int): Sample index, seeding the pixel noise.

        Returns:
            dict: Modality name -> HWC uint8 image.
        """
        size = self.image_size
        mask = self.object_mask(factors)[..., None]
        first, second = self.modalities[:2]

        bg = np.float32(255 * factors['background'])
        rgb = np.where(mask, HUE_RGB[factors['hue']], bg)
        rgb += self._noise(index, 1, (size, size, 3))

        cycles = TEXTURE_CYCLES[factors['texture']]
        stripes = np.sin(
            np.float32(2 * math.pi * cycles) * self._ys +
            np.float32(factors['phase']))
        depth = (60 + 120 * mask + (35 * stripes)[..., None]).astype(
            np.float32)
        depth = depth + self._noise(index, 2, (size, size, 1))
        depth = np.repeat(depth, self.depth_channels, axis=2)
        imgs = {first: self._to_uint8(rgb), second: self._to_uint8(depth)}
        if len(self.modalities) == 3:
            cycles = GRATING_CYCLES[factors['grating']]
            stripes = np.sin(
                np.float32(2 * math.pi * cycles) * self._xs +
                np.float32(factors['grating_phase']))
            third = (170 - 110 * mask + (35 * stripes)[..., None]).astype(
                np.float32)
            third = third + self._noise(index, 4, (size, size, 1))
            imgs[self.modalities[2]] = self._to_uint8(third)
        return imgs

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_samples={self.num_samples}, '
                f'image_size={self.image_size}, '
                f'modalities={self.modalities}, seed={self.seed}, '
                f"split='{self.split}', "
                f'depth_channels={self.depth_channels})')


#: Stripe frequencies (cycles per image side) of the factor carriers, an
#: octave apart: a crop zooming by < 2x never moves one onto the next.
CARRIER_CYCLES = (2.0, 4.0, 8.0)
#: Orientation of the carrier stripes: varying along y (horizontal stripes)
#: or along x (vertical stripes, whose frequency a horizontal flip keeps).
CARRIER_AXES = ('y', 'x')


@DATASETS.register_module()
class SyntheticFactorDataset(_SyntheticBase):
    """Modalities rendered from a configurable number of common and private
    factors, so the true common fraction is known by construction.

    Every factor is categorical with ``levels`` equally likely values and is
    rendered as the amplitude of one *carrier*: a sinusoidal grating of one
    band, one orientation (``CARRIER_AXES``) and one frequency
    (``CARRIER_CYCLES``), with a fixed (or, with ``random_phase``, a
    per-sample) phase. Amplitudes survive random resized crops (zoom < 2x)
    and flips. Each modality places its factors on its own random carriers
    (fixed by ``seed`` and the modality's position), so a common factor
    looks different in every modality, like one scene seen by different
    sensors:

    - ``num_common_factors`` factors ``common_<i>`` are drawn once per
      sample and rendered into every modality;
    - ``num_private_factors`` factors ``<m>_private_<j>`` per modality ``m``
      are drawn for that modality alone.

    What fraction of a modality is common, by construction
    (``metainfo['true_common_fraction']``, modality -> float): a
    correlation-based embedding can only hold functions of the factors, and
    the centred functions of a modality's factors form a space of dimension
    ``Lc^dc * Lp^dp - 1`` (``dc``, ``dp`` common and private factors with
    ``Lc``, ``Lp`` levels), of which the functions of the common factors
    alone, ``Lc^dc - 1`` dimensions, are all that another modality can
    share; interactions of common and private factors are unique. The true
    common fraction is their ratio. ``common_information_fraction`` is the
    entropy ratio ``dc log Lc / (dc log Lc + dp log Lp)`` for reference.
    ``metainfo`` also lists
    ``factor_names``, ``shared_factors``, ``private_factors``,
    ``num_classes`` and ``carriers`` (modality -> factor -> (band, axis,
    cycles)), which the decoupling report's linear probes use. Data info
    is that of :class:`SyntheticMultiModalDataset`.

    Args:
        num_samples (int): Dataset length. Defaults to 2048.
        image_size (int): Side of the square images. Defaults to 32.
        modalities (Sequence[str]): Two or more names.
            Defaults to ('a', 'b').
        num_common_factors (int): Factors shared by all modalities.
            Defaults to 4.
        num_private_factors (int | dict): Factors of each modality alone,
            one count or one per modality. Defaults to 4.
        num_bands (int | dict): Bands per modality. Each band carries at
            most ``len(CARRIER_AXES) * len(CARRIER_CYCLES)`` factors.
            Defaults to 3.
        levels (int | dict): Values of every factor, or
            ``dict(common=Lc, private=Lp)``. Defaults to 4.
        amplitude (float): Grating amplitude of the highest level, in grey
            levels (level ``l`` of ``L``: ``amplitude * (l + 1) / L``).
            Defaults to 16.
        random_phase (bool): Draw each carrier's phase per sample. Phases
            are private nuisance information that two views of one image
            share (a crop shifts them by its offset); False fixes them per
            carrier, so that a modality holds no information beyond its
            factors and the common fraction is what the counts say.
            Defaults to False.
        seed (int): Base seed (samples and carrier layout).
            Defaults to 0.
        split (str): 'train', 'val' or 'test'. Defaults to 'train'.
        noise_std (float): Std of the pixel noise, in grey levels (noise a
            crop shifts is information two views share). Defaults to 0.
        pipeline (Sequence[dict | callable]): Transforms. Defaults to ().
        **kwargs: Other :class:`mmengine.dataset.BaseDataset` arguments.
    """

    def __init__(self,
                 num_samples: int = 2048,
                 image_size: int = 32,
                 modalities: Sequence[str] = ('a', 'b'),
                 num_common_factors: int = 4,
                 num_private_factors: Union[int, Dict[str, int]] = 4,
                 num_bands: Union[int, Dict[str, int]] = 3,
                 levels: Union[int, Dict[str, int]] = 4,
                 amplitude: float = 16.,
                 random_phase: bool = False,
                 seed: int = 0,
                 split: str = 'train',
                 noise_std: float = 0.,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        modalities = tuple(modalities)
        if len(modalities) < 2 or len(set(modalities)) != len(modalities):
            raise ValueError('SyntheticFactorDataset needs two or more '
                             f'distinct modalities, got {modalities!r}')
        private = self._per_modality(num_private_factors, modalities,
                                     'num_private_factors')
        bands = self._per_modality(num_bands, modalities, 'num_bands')
        if num_common_factors < 0 or min(private.values()) < 0:
            raise ValueError('factor counts must be >= 0')
        if not isinstance(levels, dict):
            levels = dict(common=levels, private=levels)
        if set(levels) != {'common', 'private'} or min(levels.values()) < 2:
            raise ValueError('levels must be an int >= 2 or dict(common=, '
                             f'private=) of ints >= 2, got {levels}')
        self.num_common_factors = int(num_common_factors)
        self.num_private_factors = private
        self.num_bands = bands
        self.levels = {k: int(v) for k, v in levels.items()}
        self.amplitude = float(amplitude)
        self.random_phase = bool(random_phase)

        common_names = tuple(f'common_{i}'
                             for i in range(self.num_common_factors))
        private_names = {
            m: tuple(f'{m}_private_{j}' for j in range(private[m]))
            for m in modalities
        }
        layout = np.random.default_rng([int(seed), 0x5EED])
        carriers = {}
        for m in modalities:
            slots = [(b, axis, cycles) for b in range(bands[m])
                     for axis in CARRIER_AXES for cycles in CARRIER_CYCLES]
            names = common_names + private_names[m]
            if len(names) > len(slots):
                raise ValueError(
                    f'modality {m!r}: {len(names)} factors do not fit its '
                    f'{len(slots)} carriers ({bands[m]} bands x '
                    f'{len(CARRIER_AXES) * len(CARRIER_CYCLES)}); add bands')
            chosen = layout.permutation(len(slots))[:len(names)]
            carriers[m] = {n: slots[i] for n, i in zip(names, chosen)}
        factor_names = common_names + sum(private_names.values(), ())
        self.carriers = carriers
        super().__init__(
            num_samples, image_size, modalities, seed, split, noise_std,
            dict(
                factor_names=factor_names,
                shared_factors=common_names,
                private_factors=private_names,
                nuisance_factors=(),
                num_classes=self._num_classes(common_names, private_names),
                carriers=carriers,
                true_common_fraction={
                    m: self._signal_fraction(private[m])
                    for m in modalities
                },
                common_information_fraction={
                    m: self._information_fraction(private[m])
                    for m in modalities
                }), pipeline, **kwargs)

    def _num_classes(self, common_names, private_names) -> Dict[str, int]:
        out = {n: self.levels['common'] for n in common_names}
        for names in private_names.values():
            out.update({n: self.levels['private'] for n in names})
        return out

    def _signal_fraction(self, num_private: int) -> float:
        """Dimension of the functions of the common factors over that of
        all functions of a modality's factors (centred)."""
        common = self.levels['common']**self.num_common_factors
        total = common * self.levels['private']**num_private
        return (common - 1) / max(total - 1, 1)

    def _information_fraction(self, num_private: int) -> float:
        """Entropy of the common factors over that of all factors."""
        common = self.num_common_factors * math.log(self.levels['common'])
        total = common + num_private * math.log(self.levels['private'])
        return common / total if total else 0.

    @staticmethod
    def _per_modality(value, modalities, name) -> Dict[str, int]:
        if isinstance(value, dict):
            missing = [m for m in modalities if m not in value]
            if missing:
                raise KeyError(f'{name} has no entry for modality(ies) '
                               f'{missing}')
            return {m: int(value[m]) for m in modalities}
        return {m: int(value) for m in modalities}

    def sample_factors(self, index: int) -> Dict[str, int]:
        """Draw every factor's level of a sample.

        Args:
            index (int): Sample index (in the full, unsubsetted dataset).

        Returns:
            dict: Factor name -> level in ``[0, levels)``.
        """
        classes = self._metainfo['num_classes']
        names = self._metainfo['factor_names']
        u = self._rng(index).random(len(names))
        return {n: int(x * classes[n]) for n, x in zip(names, u)}

    def render(self, factors: Dict[str, int],
               index: int) -> Dict[str, np.ndarray]:
        """Render every modality: mid-grey plus one grating per factor.

        Args:
            factors (dict): Factor levels (see :meth:`sample_factors`).
            index (int): Sample index, seeding phases and pixel noise.

        Returns:
            dict: Modality name -> HWC uint8 image.
        """
        size = self.image_size
        imgs = {}
        for k, m in enumerate(self.modalities):
            carriers = self.carriers[m]
            phases = self._phases(index, k).random(len(carriers))
            img = np.full((size, size, self.num_bands[m]), 127.5, np.float32)
            for (name, (band, axis,
                        cycles)), phase in zip(carriers.items(), phases):
                coord = self._ys if axis == 'y' else self._xs
                levels = self._metainfo['num_classes'][name]
                amp = self.amplitude * (factors[name] + 1) / levels
                img[..., band] += np.float32(amp) * np.sin(
                    np.float32(2 * math.pi * cycles) * coord +
                    np.float32(2 * math.pi * phase))
            img += self._noise(index, 2 + 2 * k, img.shape)
            imgs[m] = self._to_uint8(img)
        return imgs

    def _phases(self, index: int, k: int) -> np.random.Generator:
        if self.random_phase:
            return self._rng(index, 1 + 2 * k)
        # Fixed phases are part of the carrier layout, the same in every
        # split (else validation images would be drawn from another
        # distribution than training ones): the train split's draw at an
        # index no sample reaches.
        return np.random.default_rng(
            [self.seed, SPLITS.index('train'), 2**40, 1 + 2 * k])

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_samples={self.num_samples}, '
                f'image_size={self.image_size}, '
                f'modalities={self.modalities}, '
                f'num_common_factors={self.num_common_factors}, '
                f'num_private_factors={self.num_private_factors}, '
                f"seed={self.seed}, split='{self.split}')")

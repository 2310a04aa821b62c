# Copyright (c) mmdecur contributors. All rights reserved.
"""A file-free two-modality dataset with known common and unique factors."""
import math
from typing import Dict, List, Sequence, Tuple

import numpy as np
from mmengine.dataset import BaseDataset

from mmdecur.registry import DATASETS
from .transforms.multiview import build_pipeline

__all__ = ['SyntheticMultiModalDataset']

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
SPLITS = ('train', 'val', 'test')


@DATASETS.register_module()
class SyntheticMultiModalDataset(BaseDataset):
    """Rendered images of two modalities with known latent factors.

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
        modalities (Sequence[str]): Names of the colour modality and the
            texture modality. Defaults to ('rgb', 'depth').
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
        if len(modalities) != 2 or len(set(modalities)) != 2:
            raise ValueError(
                'SyntheticMultiModalDataset renders two distinct modalities '
                f'(a colour one and a texture one), got {modalities!r}')
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        if image_size < 8:
            raise ValueError(f'image_size must be >= 8, got {image_size}')
        self.num_samples = int(num_samples)
        self.image_size = int(image_size)
        self.modalities = tuple(modalities)
        self.seed = int(seed)
        self.split = split
        self.depth_channels = int(depth_channels)
        self.noise_std = float(noise_std)
        # Pixel centres in [0, 1]: row and column coordinate grids.
        coords = (np.arange(self.image_size, dtype=np.float32) +
                  0.5) / self.image_size
        self._ys = coords[:, None]
        self._xs = coords[None, :]

        metainfo = dict(
            private_factors={
                self.modalities[0]: ('hue', ),
                self.modalities[1]: ('texture', )
            },
            modalities=self.modalities)
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

    def sample_factors(self, index: int) -> Dict[str, float]:
        """Draw the latent factors of a sample.

        Args:
            index (int): Sample index (in the full, unsubsetted dataset).

        Returns:
            dict: Factor name -> value (ints for categorical factors).
        """
        rng = self._rng(index)
        u = rng.random(8)
        return dict(
            shape=int(u[0] * len(SHAPES)),
            size=float(0.15 + 0.15 * u[1]),
            pos_x=float(0.3 + 0.4 * u[2]),
            pos_y=float(0.3 + 0.4 * u[3]),
            hue=int(u[4] * len(HUES)),
            background=float(0.1 + 0.3 * u[5]),
            texture=int(u[6] * len(TEXTURE_CYCLES)),
            phase=float(2 * math.pi * u[7]))

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
        first, second = self.modalities

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
        return {first: self._to_uint8(rgb), second: self._to_uint8(depth)}

    def _noise(self, index: int, stream: int, shape: Tuple[int,
                                                           ...]) -> np.ndarray:
        if self.noise_std == 0:
            return np.zeros(shape, np.float32)
        return self._rng(index, stream).standard_normal(
            shape, dtype=np.float32) * np.float32(self.noise_std)

    @staticmethod
    def _to_uint8(x: np.ndarray) -> np.ndarray:
        return np.clip(np.rint(x), 0, 255).astype(np.uint8)

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
            gt_factors=np.array([factors[n] for n in FACTOR_NAMES],
                                dtype=np.float32))
        return info

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_samples={self.num_samples}, '
                f'image_size={self.image_size}, '
                f'modalities={self.modalities}, seed={self.seed}, '
                f"split='{self.split}', "
                f'depth_channels={self.depth_channels})')

# Copyright (c) mmdecur contributors. All rights reserved.
"""Multi-season loading: one acquisition season per view and modality.

SSL4EO-S12 holds four seasons per location and modality. DeCUR draws one
random season for every image it makes, i.e. independently per view and per
modality. :class:`LoadSeasons` draws the seasons and reads only those, from
the raw band files (via :func:`read_bands`) or from the LMDB written by
``tools/dataset_converters/ssl4eo_s12_to_lmdb.py``.
"""
import io
import os
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from numpy.lib import format as npy_format

from mmdecur.registry import TRANSFORMS
from ..errors import FileContentError, MissingFileError, UnreadableFileError
from .intensity import OUT_RANGES
from .loading import _INTERPOLATIONS, read_bands

__all__ = [
    'LoadSeasons', 'open_lmdb', 'close_lmdb', 'encode_array', 'decode_array',
    'season_grid_size'
]

_SEASON_MODES = ('random', 'same', 'first')
_NPY_HEADER_MAX = 65536 + 16  # largest .npy header (format 2.0) and magic

# One read-only environment per (process, path): LMDB handles must not be
# used across fork, so a DataLoader worker opens its own on first use.
_LMDB_ENVS: Dict[Tuple[int, str], object] = {}


def close_lmdb(path: Optional[str] = None) -> None:
    """Close this process's cached LMDB environments (all, or ``path``'s).

    Also runs before every ``os.fork``: py-lmdb refuses to open, in a child,
    an environment its parent had open (``already open in this process``),
    so the parent's handles are closed (and reopened lazily when next used)
    and workers start without any.
    """
    real = None if path is None else os.path.realpath(path)
    closed = set()
    for key in list(_LMDB_ENVS):
        if real is None or os.path.realpath(key[1]) == real:
            env = _LMDB_ENVS.pop(key)
            if key[0] == os.getpid() and id(env) not in closed:
                closed.add(id(env))
                env.close()


if hasattr(os, 'register_at_fork'):
    os.register_at_fork(before=close_lmdb)


def open_lmdb(path: str):
    """Open an LMDB read-only, once per process (cached).

    Args:
        path (str): The LMDB folder (or file).

    Returns:
        lmdb.Environment: Opened with ``readonly=True, lock=False`` and
        readahead ON: values are multi-MB seasons, and without readahead
        every 4 KiB page of a value not in the page cache is a separate
        disk read (measured: 10x slower cold reads than with readahead,
        5x slower than the raw GeoTIFFs).
    """
    pid = os.getpid()
    env = _LMDB_ENVS.get((pid, path))
    if env is not None:
        return env
    # py-lmdb allows one handle per file and process: another spelling of
    # the same path must find the same handle.
    real = os.path.realpath(path)
    env = _LMDB_ENVS.get((pid, real))
    if env is None:
        import lmdb  # only LMDB users need the package
        if not os.path.exists(path):
            raise MissingFileError(f'LMDB not found: {path}', path)
        try:
            env = lmdb.open(
                path,
                subdir=os.path.isdir(path),
                readonly=True,
                lock=False,
                readahead=True,
                meminit=False,
                max_readers=512)
        except lmdb.Error as e:
            raise UnreadableFileError(f'Cannot open LMDB {path}: {e}',
                                      path) from e
        _LMDB_ENVS[(pid, real)] = env
    _LMDB_ENVS[(pid, path)] = env
    return env


def encode_array(arr: np.ndarray) -> bytes:
    """Serialise an array with its dtype and shape (``.npy`` bytes)."""
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
    return buf.getvalue()


def decode_array(buf, where: str = 'value') -> np.ndarray:
    """Inverse of :func:`encode_array`: a writable array owning its data.

    Parses the ``.npy`` header and copies the data once from ``buf`` (which
    may be a memoryview into the LMDB map); ``np.load`` on a file object
    reads in small chunks and is ~10x slower for multi-MB arrays.

    Args:
        buf (bytes-like): ``.npy`` bytes.
        where (str): What ``buf`` is, for the error message.

    Returns:
        np.ndarray: The array.
    """
    view = memoryview(buf)
    try:
        head = io.BytesIO(view[:_NPY_HEADER_MAX])
        version = npy_format.read_magic(head)
        if version == (1, 0):
            shape, fortran, dtype = npy_format.read_array_header_1_0(head)
        else:
            shape, fortran, dtype = npy_format.read_array_header_2_0(head)
        if dtype.hasobject:
            raise ValueError('object arrays are not allowed')
        count = int(np.prod(shape))
        arr = np.frombuffer(view, dtype, count=count, offset=head.tell())
    except (ValueError, OSError, EOFError) as e:
        raise UnreadableFileError(f'Cannot decode array {where}: {e}',
                                  where) from e
    if fortran:
        return arr.reshape(shape[::-1]).T.copy()
    return arr.reshape(shape).copy()


def season_grid_size(
    band_sizes: Optional[Sequence[Optional[Sequence[int]]]]
) -> Optional[Tuple[int, int]]:
    """The common grid of a season's bands: the finest (largest) band size.

    Args:
        band_sizes (Sequence, optional): Expected (H, W) per band; None
            entries (all-zero bands) are ignored.

    Returns:
        tuple | None: (H, W), or None if no size is known.
    """
    sizes = [tuple(s) for s in (band_sizes or []) if s is not None]
    return max(sizes, key=lambda s: s[0] * s[1]) if sizes else None


@TRANSFORMS.register_module()
class LoadSeasons(BaseTransform):
    """Draw a season per view (and modality) and read only the drawn ones.

    **Required Keys:** ``seasons`` (dict modality -> list of season dicts,
    sorted by date). A raw season has ``band_paths`` (one file per band,
    output band order; None = all-zero band) and ``band_sizes`` (expected
    (H, W) per band; bands are resampled to the largest); an LMDB season has
    ``lmdb_key``, with ``lmdb_path`` in the results. Both have ``date`` and
    ``folder``.

    **Added Keys:**

    - ``imgs`` (dict modality -> list of ``num_views`` HWC arrays, or one
      array if ``num_views == 1``), consumed by
      :class:`MultiModalMultiView` (view ``v`` starts from ``imgs[m][v]``);
    - ``value_ranges`` (dict modality -> (lo, hi) or None): integer data
      gets its dtype's limits (S2 uint16: (0, 65535)), float data (S1 dB)
      None, data scaled at conversion (``prescaled`` in the results) the
      scaler's output range, unless set in ``value_ranges``;
    - ``img_paths`` (dict modality -> the drawn season folder or LMDB key,
      a list per view like ``imgs``), for error messages;
    - ``season_indices`` (dict modality -> list of drawn indices per view);
    - ``ori_shape`` (dict modality -> (H, W)).

    Season modes:

    - ``'random'``: every view of every modality draws its own season
      (DeCUR: "one random season is selected for each image and
      modality"), so the two views of a modality, and the two modalities of
      a view, usually come from different dates;
    - ``'same'``: each view draws one season index shared by all
      modalities (season ``k`` of S1 is paired with season ``k`` of S2 L1C
      and of S2 L2A); the modalities must have the same number of seasons
      (else a :class:`FileContentError` naming the location);
    - ``'first'``: always season 0 of every modality, for deterministic
      evaluation.

    Every policy is defined for any number of modalities; draws are made
    view by view, in the order of ``modalities``.

    Draws use numpy's global RNG (seeded per worker by MMEngine). A season
    drawn by several views is read once.

    Args:
        modalities (Sequence[str]): Modalities to load. Defaults to
            ``('s1', 's2c')``.
        num_views (int): Number of views. Defaults to 2.
        season (str): ``'random'``, ``'same'`` or ``'first'``. Defaults to
            'random'.
        value_ranges (dict, optional): Modality -> (lo, hi) overriding the
            default value range. Defaults to None.
        interpolation (str): Resampling of coarser bands onto the grid
            (raw data only; the LMDB holds resampled arrays). Defaults to
            'bilinear'.
        backend_args (dict, optional): MMEngine file backend arguments for
            raw files. Defaults to None.
    """

    def __init__(self,
                 modalities: Union[str, Sequence[str]] = ('s1', 's2c'),
                 num_views: int = 2,
                 season: str = 'random',
                 value_ranges: Optional[Dict[str, Sequence[float]]] = None,
                 interpolation: str = 'bilinear',
                 backend_args: Optional[dict] = None) -> None:
        if isinstance(modalities, str):
            modalities = (modalities, )
        if not modalities:
            raise ValueError('LoadSeasons needs at least one modality')
        if not isinstance(num_views, int) or num_views < 1:
            raise ValueError(f'num_views must be a positive int, got '
                             f'{num_views!r}')
        if season not in _SEASON_MODES:
            raise ValueError(f'season must be one of {list(_SEASON_MODES)}, '
                             f'got {season!r}')
        if interpolation not in _INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of '
                             f'{list(_INTERPOLATIONS)}, got '
                             f'{interpolation!r}')
        self.modalities = tuple(modalities)
        self.num_views = num_views
        self.season = season
        self.value_ranges = {
            m: (float(vr[0]), float(vr[1]))
            for m, vr in (value_ranges or {}).items()
        }
        self.interpolation = interpolation
        self.backend_args = backend_args

    def _seasons(self, results: dict, modality: str) -> List[dict]:
        seasons = (results.get('seasons') or {}).get(modality)
        if not seasons:
            raise KeyError(f'LoadSeasons: no seasons of modality '
                           f'{modality!r} in the data info (it has '
                           f'{sorted(results.get("seasons") or {})})')
        return seasons

    def draw(self, results: dict) -> Dict[str, List[int]]:
        """Draw the season index of every view and modality.

        Args:
            results (dict): Result dict with ``seasons``.

        Returns:
            dict: Modality -> list of ``num_views`` season indices.
        """
        counts = {m: len(self._seasons(results, m)) for m in self.modalities}
        drawn: Dict[str, List[int]] = {m: [] for m in self.modalities}
        for _ in range(self.num_views):
            if self.season == 'first':
                ks = {m: 0 for m in self.modalities}
            elif self.season == 'same':
                if len(set(counts.values())) > 1:
                    seasons = results['seasons'][self.modalities[0]]
                    where = seasons[0].get('folder') if seasons else None
                    raise FileContentError(
                        f'LoadSeasons(season=\'same\'): location '
                        f'{results.get("patch_id")} has season counts '
                        f'{counts}; one shared season index needs the same '
                        'count in every modality', where, 'seasons')
                k = int(np.random.randint(counts[self.modalities[0]]))
                ks = {m: k for m in self.modalities}
            else:
                ks = {
                    m: int(np.random.randint(counts[m]))
                    for m in self.modalities
                }
            for m in self.modalities:
                drawn[m].append(ks[m])
        return drawn

    def read(self, results: dict, modality: str, index: int) -> np.ndarray:
        """Read one season of one modality.

        Args:
            results (dict): Data info with ``seasons`` (and ``lmdb_path``
                for LMDB seasons).
            modality (str): Modality name.
            index (int): Season index (in date order).

        Returns:
            np.ndarray: HWC array in the season's band order.

        Raises:
            DataFileError: A missing/unreadable file or LMDB value, or a band
                of the wrong size; the message names it.
        """
        season = self._seasons(results, modality)[index]
        if 'lmdb_key' in season:
            return self._read_lmdb(results['lmdb_path'], season['lmdb_key'])
        sizes = season.get('band_sizes')
        return read_bands(season['band_paths'], season_grid_size(sizes), sizes,
                          _INTERPOLATIONS[self.interpolation], modality,
                          self.backend_args)

    @staticmethod
    def _read_lmdb(path: str, key: str) -> np.ndarray:
        env = open_lmdb(path)
        # buffers=True: a view into the map, copied once by decode_array
        # before the transaction ends.
        with env.begin(write=False, buffers=True) as txn:
            buf = txn.get(key.encode())
            if buf is None:
                where = f'{path}::{key}'
                raise MissingFileError(f'LMDB {path} has no key {key!r}',
                                       where)
            arr = decode_array(buf, f'{key!r} in LMDB {path}')
        if arr.ndim != 3:
            raise FileContentError(
                f'LMDB {path}: value {key!r} has shape {arr.shape}, expected '
                'an HWC array', f'{path}::{key}', 'bands')
        return arr

    def _path(self, results: dict, modality: str, index: int) -> str:
        season = self._seasons(results, modality)[index]
        return season.get('lmdb_key') or season.get('folder')

    def transform(self, results: dict) -> dict:
        """Draw seasons and read them.

        Args:
            results (dict): Data info with ``seasons``.

        Returns:
            dict: The results with ``imgs``, ``value_ranges``,
            ``img_paths``, ``season_indices`` and ``ori_shape``.
        """
        drawn = self.draw(results)
        imgs = dict(results.get('imgs') or {})
        ranges = dict(results.get('value_ranges') or {})
        paths = dict(results.get('img_paths') or {})
        ori_shape = dict(results.get('ori_shape') or {})
        for m, ks in drawn.items():
            cache: Dict[int, np.ndarray] = {}
            for k in ks:
                if k not in cache:
                    cache[k] = self.read(results, m, k)
            views = [cache[k] for k in ks]
            view_paths = [self._path(results, m, k) for k in ks]
            first = views[0]
            vr = self.value_ranges.get(m)
            done = (results.get('prescaled') or {}).get(m)
            if vr is None and done is not None:
                vr = OUT_RANGES[done['out_dtype']]
            if vr is None and np.issubdtype(first.dtype, np.integer):
                info = np.iinfo(first.dtype)
                vr = (float(info.min), float(info.max))
            single = self.num_views == 1
            imgs[m] = views[0] if single else views
            paths[m] = view_paths[0] if single else view_paths
            ranges[m] = vr
            ori_shape[m] = first.shape[:2]
        results.update(
            imgs=imgs,
            value_ranges=ranges,
            img_paths=paths,
            season_indices=drawn,
            ori_shape=ori_shape)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(modalities={self.modalities}, '
                f'num_views={self.num_views}, season={self.season!r}, '
                f'interpolation={self.interpolation!r})')

# Copyright (c) mmdecur contributors. All rights reserved.
"""Per-band statistics of a dataset, and the stats file that carries them.

``tools/misc/compute_band_stats.py`` streams over a dataset with
:class:`RunningBandStats` and writes a stats file; :class:`StatsScale`
takes a modality's statistics from such a file (``stats=dict(s2a=PATH)``)
as well as inline. Format (JSON)::

    {"format": "mmdecur-band-stats", "version": 1,
     "modalities": {"<modality>": {"bands": [...], "mean": [...],
                                   "std": [...], "count": [...],
                                   "min": [...], "max": [...],
                                   "nodata": null,
                                   "source": {...}}}}
    # source: what was read (config, dataset, data root, samples, images)

``std`` is the population standard deviation over the valid pixels (finite
and not ``nodata``) of every image read; ``count`` the number of those
pixels per band.
"""
import copy
import json
import multiprocessing
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .errors import DataFileError, DataProblem

__all__ = [
    'RunningBandStats', 'StatisticsError', 'STATS_FORMAT', 'STATS_VERSION',
    'load_band_stats', 'save_band_stats', 'stats_file_references',
    'sample_images', 'compute_dataset_band_stats', 'compute_hint'
]

STATS_FORMAT = 'mmdecur-band-stats'
STATS_VERSION = 1


def compute_hint(modality: str, out: Optional[str] = None) -> str:
    """How to get the statistics a modality lacks (for error messages)."""
    if out is not None:
        return ('compute them with `python tools/misc/compute_band_stats.py '
                f'CONFIG --modalities {modality} --out {out}` (CONFIG: the '
                'config naming this file writes it without arguments)')
    return ('compute them with `python tools/misc/compute_band_stats.py '
            f'CONFIG --modalities {modality} --out FILE` and give the '
            f"StatsScale stats['{modality}'] = FILE (or dict(mean=[...], "
            'std=[...]))')


class StatisticsError(ValueError):
    """A modality's statistics are missing or do not fit its data.

    Args:
        message (str): What is wrong; it names the modality (and the file).
        modality (str): The modality.
        path (str, optional): The stats file, if any.
    """

    def __init__(self,
                 message: str,
                 modality: str,
                 path: Optional[str] = None) -> None:
        super().__init__(message)
        self.modality = modality
        self.path = path


class RunningBandStats:
    """Streaming per-band count, mean, variance, min and max.

    Each image's bands are reduced exactly in float64 (mean first, then the
    sum of squared deviations from it) and merged into the running values
    with the pairwise update of Chan, Golub and LeVeque, so no sum of
    squares of raw values is ever formed: the variance stays accurate for
    data whose mean is large compared with its spread (e.g. uint16 digital
    numbers over billions of pixels). Partial statistics (e.g. from worker
    processes) merge the same way.

    Args:
        num_bands (int): Number of bands.
        nodata (float, optional): A value that marks invalid pixels (besides
            NaN and ±inf, which never count). Defaults to None.
    """

    def __init__(self, num_bands: int, nodata: Optional[float] = None):
        self.num_bands = int(num_bands)
        self.nodata = None if nodata is None else float(nodata)
        self.count = np.zeros(self.num_bands, np.int64)
        self.mean = np.zeros(self.num_bands, np.float64)
        self.m2 = np.zeros(self.num_bands, np.float64)
        self.min = np.full(self.num_bands, np.inf)
        self.max = np.full(self.num_bands, -np.inf)
        self.num_images = 0

    def update(self, img: np.ndarray) -> None:
        """Add one HWC (or HW, one band) image.

        Args:
            img (np.ndarray): The image, ``num_bands`` channels last.
        """
        x = np.asarray(img)
        if x.ndim == 2:
            x = x[..., None]
        if x.shape[-1] != self.num_bands:
            raise ValueError(f'image has {x.shape[-1]} bands, expected '
                             f'{self.num_bands}')
        x = x.reshape(-1, self.num_bands).astype(np.float64)
        valid = np.isfinite(x)
        if self.nodata is not None:
            valid &= x != self.nodata
        n = valid.sum(0)
        xs = np.where(valid, x, 0.0)
        mean = xs.sum(0) / np.maximum(n, 1)
        dev = np.where(valid, x - mean, 0.0)
        m2 = np.einsum('ij,ij->j', dev, dev)
        lo = np.where(valid, x, np.inf).min(0)
        hi = np.where(valid, x, -np.inf).max(0)
        self._merge(n, mean, m2, lo, hi)
        self.num_images += 1

    def merge(self, other: 'RunningBandStats') -> None:
        """Add another accumulator's statistics (same bands)."""
        if other.num_bands != self.num_bands:
            raise ValueError(f'cannot merge statistics of {other.num_bands} '
                             f'bands into {self.num_bands}')
        self._merge(other.count, other.mean, other.m2, other.min, other.max)
        self.num_images += other.num_images

    def _merge(self, n, mean, m2, lo, hi) -> None:
        total = self.count + n
        safe = np.maximum(total, 1)
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / safe)
        self.m2 = self.m2 + m2 + delta**2 * (self.count * (n / safe))
        self.count = total
        self.min = np.minimum(self.min, lo)
        self.max = np.maximum(self.max, hi)

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation per band."""
        return np.sqrt(self.m2 / np.maximum(self.count, 1))

    def as_dict(self, bands: Optional[Sequence[str]] = None) -> dict:
        """The statistics as stored in a stats file.

        Args:
            bands (Sequence[str], optional): Band names. Defaults to
                ``band0, band1, ...``.

        Returns:
            dict: ``bands``, ``mean``, ``std``, ``count``, ``min``, ``max``
            (None for a band without valid pixels) and ``nodata``.
        """
        names = (
            list(bands) if bands is not None else
            [f'band{i}' for i in range(self.num_bands)])
        if len(names) != self.num_bands:
            raise ValueError(f'{len(names)} band names for {self.num_bands} '
                             'bands')
        empty = self.count == 0
        return dict(
            bands=[str(b) for b in names],
            mean=self.mean.tolist(),
            std=self.std.tolist(),
            count=self.count.tolist(),
            min=[None if e else float(v) for e, v in zip(empty, self.min)],
            max=[None if e else float(v) for e, v in zip(empty, self.max)],
            nodata=self.nodata)


def save_band_stats(path: str, stats: Dict[str, dict]) -> List[str]:
    """Write (or update) a stats file, atomically.

    Modalities already in an existing stats file at ``path`` and not in
    ``stats`` are kept, so one file can collect several modalities.

    Args:
        path (str): Output JSON file.
        stats (dict): Modality -> :meth:`RunningBandStats.as_dict` (plus
            ``source``).

    Returns:
        list[str]: The modalities the file holds.
    """
    entries = {}
    if osp.isfile(path):
        try:
            with open(path) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = None
        if not isinstance(old, dict) or old.get('format') != STATS_FORMAT:
            raise StatisticsError(
                f'{path} exists and is not a stats file; not overwriting it',
                next(iter(stats), ''), path)
        entries.update(old.get('modalities') or {})
    entries.update(stats)
    data = dict(format=STATS_FORMAT, version=STATS_VERSION, modalities=entries)
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'w') as f:
        f.write(_dumps(data) + '\n')
    os.replace(tmp, path)
    return list(entries)


def _dumps(data: dict) -> str:
    """JSON with one line per statistic (a list per band stays on one)."""
    mods = []
    for m, entry in data['modalities'].items():
        fields = ',\n'.join(f'      {json.dumps(k)}: {json.dumps(v)}'
                            for k, v in entry.items())
        mods.append(f'    {json.dumps(m)}: {{\n{fields}\n    }}')
    head = ',\n'.join(f'  {json.dumps(k)}: {json.dumps(v)}'
                      for k, v in data.items() if k != 'modalities')
    return (f'{{\n{head},\n  "modalities": {{\n' + ',\n'.join(mods) +
            '\n  }\n}')


def load_band_stats(path: str, modality: str) -> dict:
    """A modality's statistics from a stats file.

    Args:
        path (str): The stats file.
        modality (str): The modality to take.

    Returns:
        dict: ``mean``, ``std`` (lists) and ``bands`` (names or None).

    Raises:
        StatisticsError: The file is missing or malformed, has no entry for
            ``modality``, or its lists disagree in length; the message names
            the file and the modality.
    """
    if not osp.isfile(path):
        raise StatisticsError(
            f'statistics file of modality {modality!r} not found: {path}; ' +
            compute_hint(modality, path), modality, path)
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise StatisticsError(
            f'statistics file {path} (modality {modality!r}) is not '
            f'readable JSON: {e}', modality, path) from e
    if not isinstance(data, dict) or data.get('format') != STATS_FORMAT:
        raise StatisticsError(
            f'{path} (statistics of modality {modality!r}) is not a stats '
            f'file of tools/misc/compute_band_stats.py (format '
            f'{data.get("format") if isinstance(data, dict) else None!r})',
            modality, path)
    entries = data.get('modalities') or {}
    if modality not in entries:
        raise StatisticsError(
            f'statistics file {path} has no modality {modality!r} (it has '
            f'{sorted(entries)}); ' + compute_hint(modality), modality, path)
    entry = entries[modality]
    mean, std = entry.get('mean'), entry.get('std')
    bands = entry.get('bands')
    lengths = {len(v) for v in (mean, std, bands) if isinstance(v, list)}
    if not isinstance(mean, list) or not isinstance(std, list) or \
            len(lengths) != 1:
        raise StatisticsError(
            f'statistics file {path}: modality {modality!r} needs lists '
            'mean, std (and bands) of one length, got lengths '
            f'mean={_len(mean)}, std={_len(std)}, bands={_len(bands)}',
            modality, path)
    return dict(mean=mean, std=std, bands=bands)


def _len(value) -> Optional[int]:
    return len(value) if isinstance(value, list) else None


def stats_file_references(node) -> Dict[str, List[str]]:
    """Modality -> stats files named by the StatsScale configs in ``node``.

    Args:
        node: A (nested) config: pipeline list, dataset dict...

    Returns:
        dict: For every modality whose statistics some ``StatsScale`` takes
        from a file, the distinct file paths, in order of appearance.
    """
    found: Dict[str, List[str]] = {}

    def walk(item) -> None:
        if isinstance(item, dict):
            if str(item.get('type', '')).split('.')[-1] == 'StatsScale':
                for m, value in (item.get('stats') or {}).items():
                    if isinstance(value, str) and value not in found.get(
                            m, []):
                        found.setdefault(m, []).append(value)
            for value in item.values():
                walk(value)
        elif isinstance(item, (list, tuple)):
            for value in item:
                walk(value)

    walk(node)
    return found


def sample_images(dataset, idx: int,
                  modalities: Sequence[str]) -> Dict[str, List[np.ndarray]]:
    """Every image of one sample, as the dataset's readers return it.

    SSL4EO-S12 locations give every season (``dataset.read_seasons``);
    other datasets run their loading steps once.

    Args:
        dataset: An mmdecur file dataset.
        idx (int): Sample index.
        modalities (Sequence[str]): Modalities to read.

    Returns:
        dict: Modality -> list of HWC arrays.
    """
    info = dataset.get_data_info(idx)
    if hasattr(dataset, 'read_seasons'):
        return dataset.read_seasons(info, modalities)
    results = copy.deepcopy(info)
    for t in dataset.loading_transforms():
        results = t(results)
    imgs = results.get('imgs') or {}
    out = {}
    for m in modalities:
        if m not in imgs:
            raise KeyError(f'sample {idx} has no modality {m!r} (it has '
                           f'{sorted(imgs)})')
        img = imgs[m]
        out[m] = list(img) if isinstance(img, (list, tuple)) else [img]
    return out


# The dataset of the worker processes (inherited through fork).
_DATASET = None


def _chunk_stats(
    args: Tuple[Sequence[int], Sequence[str], Dict[str, Optional[float]]]
) -> Tuple[Dict[str, RunningBandStats], List[DataProblem], int]:
    indices, modalities, nodata = args
    stats: Dict[str, RunningBandStats] = {}
    problems, read = [], 0
    for idx in indices:
        try:
            imgs = sample_images(_DATASET, idx, modalities)
        except DataFileError as e:
            problems.append(e.as_problem())
            continue
        read += 1
        for m, arrays in imgs.items():
            for img in arrays:
                if m not in stats:
                    bands = img.shape[-1] if img.ndim == 3 else 1
                    stats[m] = RunningBandStats(bands, nodata.get(m))
                stats[m].update(img)
    return stats, problems, read


def compute_dataset_band_stats(
    dataset,
    modalities: Sequence[str],
    indices: Optional[Sequence[int]] = None,
    nodata: Optional[Dict[str, float]] = None,
    num_workers: int = 0,
    chunk_size: int = 8,
    progress: bool = True
) -> Tuple[Dict[str, RunningBandStats], List[DataProblem], int]:
    """Per-band statistics of every image of some samples of a dataset.

    Args:
        dataset: An mmdecur file dataset (its pipeline only needs the
            loading steps).
        modalities (Sequence[str]): Modalities to summarise.
        indices (Sequence[int], optional): Samples; all if None.
        nodata (dict, optional): Modality -> value excluded as invalid.
        num_workers (int): Reader processes (fork); 0 reads here.
        chunk_size (int): Samples per task. Defaults to 8.
        progress (bool): Show a progress bar. Defaults to True.

    Returns:
        tuple: ``(stats, problems, num_read)``: modality ->
        :class:`RunningBandStats`, the problems of the samples that could
        not be read (skipped), and how many samples were read.
    """
    global _DATASET
    from mmengine.utils import ProgressBar
    indices = list(range(len(dataset)) if indices is None else indices)
    nodata = dict(nodata or {})
    step = max(1, int(chunk_size))
    tasks = [(indices[i:i + step], tuple(modalities), nodata)
             for i in range(0, len(indices), step)]
    total: Dict[str, RunningBandStats] = {}
    problems: List[DataProblem] = []
    num_read = 0
    bar = ProgressBar(len(indices)) if progress and indices else None
    _DATASET = dataset
    pool = None
    try:
        forks = 'fork' in multiprocessing.get_all_start_methods()
        if num_workers > 0 and forks:
            pool = multiprocessing.get_context('fork').Pool(num_workers)
            results = pool.imap(_chunk_stats, tasks)
        else:
            results = map(_chunk_stats, tasks)
        for task, (stats, probs, read) in zip(tasks, results):
            for m, s in stats.items():
                if m in total:
                    total[m].merge(s)
                else:
                    total[m] = s
            problems += probs
            num_read += read
            if bar is not None:
                bar.update(len(task[0]))
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        _DATASET = None
        if bar is not None:
            print()
    return total, problems, num_read

# Copyright (c) mmdecur contributors. All rights reserved.
"""SSL4EO-S12: Sentinel-1/2 seasons of 251k locations, raw or as LMDB.

Released layout::

    <root>/s1/<patch id>/<S1 product id>/{VV,VH}.tif       float32 dB, 264 px
    <root>/s2c/<patch id>/<S2 season>/B1.tif ... B12.tif   uint16 L1C, 13 bands
    <root>/s2a/<patch id>/<S2 season>/B1.tif ... B12.tif   uint16 L2A, no B10

Patch ids are 7-digit (some releases 6-digit) folder names with gaps; each
location has 4 seasons per modality, possibly with extra files such as
``metadata.json``. S2 bands come at 10/20/60 m (264/132/44 px) and are
resampled onto the 264 px grid when read.
"""
import json
import os
import os.path as osp
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmcv.transforms import Compose

from mmdecur.registry import DATASETS
from .band_stats import StatisticsError, compute_hint
from .base import MultiModalDataset
from .errors import DataFileError, DataProblem, MissingFileError
from .transforms.intensity import StatsScale
from .transforms.multiview import MultiModalMultiView, build_pipeline
from .transforms.seasons import LoadSeasons, open_lmdb

__all__ = [
    'SSL4EOS12Dataset', 'SSL4EOS12LMDBDataset', 'SSL4EO_S12_BANDS',
    'SSL4EO_S12_BAND_SIZES', 'parse_season_date', 'read_patch_ids',
    'LMDB_FORMAT', 'LMDB_INFO_KEY', 'LMDB_INDEX_KEY', 'lmdb_meta_key',
    'lmdb_season_key'
]

S1_BANDS = ('VV', 'VH')
S2C_BANDS = ('B1', 'B2', 'B3', 'B4', 'B5', 'B6', 'B7', 'B8', 'B8A', 'B9',
             'B10', 'B11', 'B12')
#: Output band order per modality; files are ``<band>.tif``.
SSL4EO_S12_BANDS: Dict[str, Tuple[str, ...]] = dict(
    s1=S1_BANDS, s2c=S2C_BANDS, s2a=tuple(b for b in S2C_BANDS if b != 'B10'))

_S2_GSD = dict(
    B1=60,
    B2=10,
    B3=10,
    B4=10,
    B5=20,
    B6=20,
    B7=20,
    B8=10,
    B8A=20,
    B9=60,
    B10=60,
    B11=20,
    B12=20)
_GSD_PX = {10: 264, 20: 132, 60: 44}  # a patch is 2.64 km wide
#: Expected (H, W) of every band file, in output band order.
SSL4EO_S12_BAND_SIZES: Dict[str, Tuple[Tuple[int, int], ...]] = {
    m: tuple((_GSD_PX[_S2_GSD.get(b, 10)], ) * 2 for b in bands)
    for m, bands in SSL4EO_S12_BANDS.items()
}

# LMDB written by tools/dataset_converters/ssl4eo_s12_to_lmdb.py (format
# documented there).
LMDB_FORMAT = 'mmdecur-ssl4eo-s12-lmdb'
LMDB_INFO_KEY = '__info__'
LMDB_INDEX_KEY = '__index__'


def lmdb_meta_key(patch_id: str) -> str:
    """Key of a location's metadata (written last: marks it complete)."""
    return f'meta/{patch_id}'


def lmdb_season_key(modality: str, patch_id: str, index: int) -> str:
    """Key of one season's ``.npy`` array."""
    return f'{modality}/{patch_id}/{index}'


# Both S1 product ids and S2 season folders hold the acquisition start as
# the first <YYYYMMDD>T<HHMMSS>.
_DATE_RE = re.compile(r'(\d{8}T\d{6})')


def parse_season_date(folder: str) -> Optional[str]:
    """Acquisition datetime of a season folder name.

    Args:
        folder (str): E.g. ``'S1B_IW_GRDH_1SDV_20200403T054245_...'`` or
            ``'20200403T101021_20200403T101557_T32TNR'``.

    Returns:
        str | None: ``'YYYY-MM-DDTHH:MM:SS'``, or None if the name holds no
        valid date.
    """
    match = _DATE_RE.search(folder)
    if match is None:
        return None
    d = match.group(1)
    try:  # faster than strptime, which shows in per-sample profiles
        dt = datetime(
            int(d[:4]), int(d[4:6]), int(d[6:8]), int(d[9:11]), int(d[11:13]),
            int(d[13:15]))
    except ValueError:
        return None
    return dt.isoformat()


def read_patch_ids(patch_ids: Union[str, Sequence[Union[int, str]]],
                   data_root: str = '') -> List[int]:
    """Patch ids from a list or a text file (one id per line).

    In a file, blank lines and ``#`` comments are skipped, and only the first
    comma-separated field counts (so a csv whose first column is the id
    works). Ids compare as numbers: ``42``, ``'000042'`` and ``'0000042'``
    are the same location.

    Args:
        patch_ids (str | Sequence): A file path (relative paths are tried as
            given, then under ``data_root``) or a list of ids.
        data_root (str): Dataset root.

    Returns:
        list[int]: Ids in listed order, duplicates removed.
    """
    if isinstance(patch_ids, str):
        path = patch_ids
        if not osp.isfile(path) and not osp.isabs(path):
            path = osp.join(data_root, path)
        if not osp.isfile(path):
            raise MissingFileError(f'patch id file not found: {patch_ids}',
                                   patch_ids)
        items = []
        with open(path) as f:
            for i, line in enumerate(f, 1):
                field = line.split('#')[0].split(',')[0].strip()
                if not field:
                    continue
                if not field.isdigit():
                    raise ValueError(f'{path}:{i}: {field!r} is not a patch '
                                     'id')
                items.append(int(field))
    else:
        items = []
        for pid in patch_ids:
            if not str(pid).strip().isdigit():
                raise ValueError(f'{pid!r} is not a patch id')
            items.append(int(pid))
    return list(dict.fromkeys(items))


class _SSL4EOS12Base(MultiModalDataset):
    """Shared parts of the raw and LMDB SSL4EO-S12 datasets.

    The stored data list is compact (251k locations): per location
    ``patch_id``, ``patch_dirs`` (modality -> patch folder name) and
    ``season_folders`` (modality -> season folder names in date order).
    :meth:`get_data_info` expands it into the documented data info.

    ``metainfo`` holds ``modalities`` (the configured names, in order) and
    ``bands`` (modality -> band names in data order). The pipeline is
    checked before anything is listed (:meth:`check_pipeline`).
    """

    def __init__(self,
                 data_root: str,
                 modalities: Union[str, Sequence[str]] = ('s1', 's2c'),
                 patch_ids: Optional[Union[str, Sequence]] = None,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if isinstance(modalities, str):
            modalities = (modalities, )
        if not modalities:
            raise ValueError(f'{type(self).__name__} needs at least one '
                             'modality')
        self.modalities = tuple(modalities)
        if len(set(self.modalities)) != len(self.modalities):
            raise ValueError(f'{type(self).__name__}: modalities must be '
                             f'distinct, got {self.modalities}')
        self.patch_ids = patch_ids
        # patch id -> its problems, for reports (e.g. the LMDB converter).
        self.bad_locations: Dict[str, List[DataProblem]] = {}
        # Fail on a misconfigured pipeline before listing 251k locations.
        pipeline = build_pipeline(pipeline).transforms
        self.check_pipeline(pipeline)
        metainfo = dict(
            modalities=self.modalities,
            bands={m: SSL4EO_S12_BANDS[m]
                   for m in self.modalities})
        metainfo.update(kwargs.pop('metainfo', None) or {})
        super().__init__(
            data_root=data_root,
            metainfo=metainfo,
            pipeline=pipeline,
            **kwargs)

    def check_pipeline(self, transforms: Sequence) -> None:
        """Refuse a pipeline that does not fit the configured modalities.

        Checked: every :class:`LoadSeasons` loads configured modalities;
        a :class:`MultiModalMultiView` after it has a pipeline for exactly
        the loaded ones; a :class:`StatsScale` in the view pipeline of a
        modality has statistics for it; if the pipeline scales at all,
        every loaded modality is scaled (raw S2 digital numbers or S1 dB
        would otherwise reach the network unscaled); every StatsScale's
        statistics have the modality's band count (and names, where the
        stats file names them).

        Args:
            transforms (Sequence): Built transforms.

        Raises:
            ValueError: A modality mismatch, naming the modalities.
            StatisticsError: Missing or ill-fitting statistics, naming the
                modality (and the stats file).
        """
        loaded = None

        def scalers(items, modality):
            for t in items:
                if isinstance(t, StatsScale):
                    yield t, modality
                elif isinstance(t, MultiModalMultiView):
                    for p in t.shared or ():
                        yield from scalers(p.transforms, None)
                    for m, views in t.pipelines.items():
                        for p in views:
                            yield from scalers(p.transforms, m)
                elif isinstance(t, Compose):
                    yield from scalers(t.transforms, modality)

        for t in transforms:
            if isinstance(t, LoadSeasons):
                extra = [m for m in t.modalities if m not in self.modalities]
                if extra:
                    raise ValueError(
                        f'{type(self).__name__}: LoadSeasons loads '
                        f'modalities {extra} that the dataset does not list '
                        f'(dataset modalities: {list(self.modalities)})')
                loaded = t.modalities
            elif isinstance(t, MultiModalMultiView) and loaded is not None:
                if set(t.pipelines) != set(loaded):
                    raise ValueError(
                        f'{type(self).__name__}: MultiModalMultiView has '
                        f'view pipelines for {list(t.pipelines)}, but '
                        f'LoadSeasons loads {list(loaded)}')
        found = list(scalers(transforms, None))
        for scaler, modality in found:
            if modality is not None and modality not in scaler.stats:
                raise StatisticsError(
                    f'{type(self).__name__}: the {modality!r} view pipeline '
                    'has a StatsScale without statistics for modality '
                    f'{modality!r} (it has {list(scaler.stats)}); ' +
                    compute_hint(modality), modality)
        covered = {
            m
            for scaler, modality in found
            for m in scaler.stats if modality in (None, m)
        }
        unscaled = [m for m in (loaded or ()) if m not in covered]
        if found and unscaled:
            raise StatisticsError(
                f'{type(self).__name__}: no StatsScale of the pipeline has '
                f'statistics for modality {unscaled[0]!r} (loaded by '
                'LoadSeasons, so it would reach the network unscaled); ' +
                compute_hint(unscaled[0]), unscaled[0])
        for scaler, modality in found:
            names = self.modalities if modality is None else (modality, )
            for m in names:
                if m in scaler.stats and m in SSL4EO_S12_BANDS:
                    bands = SSL4EO_S12_BANDS[m]
                    scaler.check_bands(m, len(bands), bands)

    def read_seasons(self,
                     info: dict,
                     modalities: Optional[Sequence[str]] = None
                     ) -> Dict[str, List[np.ndarray]]:
        """Every season of a location, as the pipeline's reader reads it.

        Args:
            info (dict): Data info of the location.
            modalities (Sequence[str], optional): Defaults to all
                configured ones.

        Returns:
            dict: Modality -> HWC arrays in date order.
        """
        read = self._reader().read
        return {
            m: [read(info, m, k) for k in range(len(info['seasons'][m]))]
            for m in (modalities or self.modalities)
        }

    def get_patch_id(self, idx: int) -> str:
        """The patch id of a location, without expanding its seasons."""
        return super().get_data_info(idx)['patch_id']

    def _wanted_ids(self) -> Optional[List[int]]:
        if self.patch_ids is None:
            return None
        return read_patch_ids(self.patch_ids, self.data_root)

    def _season(self, modality: str, patch_id: str, patch_dir: str, index: int,
                folder: str) -> dict:
        raise NotImplementedError

    def expand_info(self, info: dict) -> dict:
        """The data info of a location from its compact record.

        Returns:
            dict: ``patch_id``, ``sample_idx`` and ``seasons`` (modality ->
            list of season dicts in date order, each with ``date``
            ('YYYY-MM-DDTHH:MM:SS') and ``folder``, plus ``band_paths`` and
            ``band_sizes`` (raw) or ``lmdb_key`` (LMDB)).
        """
        pid = info['patch_id']
        dirs = info.pop('patch_dirs')
        folders = info.pop('season_folders')
        info['seasons'] = {
            m: [
                self._season(m, pid, dirs[m], k, f)
                for k, f in enumerate(folders[m])
            ]
            for m in self.modalities
        }
        return info

    def _reader(self) -> LoadSeasons:
        for t in self.pipeline.transforms:
            if isinstance(t, LoadSeasons):
                return t
        return LoadSeasons(self.modalities, num_views=1)

    def check_info(self, info: dict) -> List[DataProblem]:
        """Problems of a location: reads every season of every modality.

        Args:
            info (dict): Data info of the location.

        Returns:
            list[DataProblem]: One per unreadable season.
        """
        reader = self._reader()
        problems = []
        for m in self.modalities:
            for k in range(len(info['seasons'][m])):
                try:
                    reader.read(info, m, k)
                except DataFileError as e:
                    problems.append(e.as_problem())
        return problems


@DATASETS.register_module()
class SSL4EOS12Dataset(_SSL4EOS12Base):
    """SSL4EO-S12 locations in the released folder layout.

    Building the data list only lists folders (never reads an image): the
    modality roots once, then per location the patch folder and its season
    folders (in ``list_threads`` threads, as this is I/O-bound on network
    file systems). Seasons are sorted by the acquisition date parsed from
    the folder name (S1A and S1B product ids interleave, so name order is
    not date order); season ``k`` of one modality is paired with season
    ``k`` of the others. Any number of the modalities works, e.g. S1 GRD +
    S2 L1C + S2 L2A (``configs/_base_/datasets/ssl4eo_s12_3mod.py``): every
    location needs every configured modality.

    Bad locations (per the :class:`MultiModalDataset` policy: an error
    naming the files, or with ``skip_bad_samples`` dropped with a warning):
    a modality folder missing for a location (missing partner), a season
    lacking band files, a season folder whose name holds no date, or a
    season count other than ``num_seasons``. Band sizes and readability are
    checked when read (``verify()`` reads all seasons).

    Data info (see :meth:`get_data_info`): ``patch_id`` (folder name) and
    ``seasons`` = {modality: [dict(date, folder, band_paths, band_sizes),
    ...]} with ``band_paths`` in output band order: S1 VV, VH; S2 L1C B1,
    B2, B3, B4, B5, B6, B7, B8, B8A, B9, B10, B11, B12; S2 L2A the same
    without B10. The pipeline starts with :class:`LoadSeasons`.

    Args:
        data_root (str): Dataset root (holding ``s1/``, ``s2c/``...).
        modalities (Sequence[str]): Any of 's1', 's2c', 's2a', in the
            order the model sees them (``metainfo['modalities']``).
            Defaults to ``('s1', 's2c')``.
        patch_ids (str | Sequence, optional): Restrict to these locations: a
            list of ids or a text file, see :func:`read_patch_ids`. Defaults
            to None (every location found).
        num_seasons (int, optional): Seasons every location must have per
            modality; None accepts any count as long as the modalities
            agree. Defaults to 4.
        list_threads (int): Threads listing folders. Defaults to 8.
        pipeline (Sequence[dict | callable]): Transforms. Defaults to ().
        **kwargs: :class:`MultiModalDataset` arguments (e.g.
            ``skip_bad_samples``).
    """

    def __init__(self,
                 data_root: str,
                 modalities: Union[str, Sequence[str]] = ('s1', 's2c'),
                 patch_ids: Optional[Union[str, Sequence]] = None,
                 num_seasons: Optional[int] = 4,
                 list_threads: int = 8,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        mods = (modalities, ) if isinstance(modalities, str) else modalities
        unknown = [m for m in mods if m not in SSL4EO_S12_BANDS]
        if unknown:
            raise ValueError(f'Unknown SSL4EO-S12 modality(ies) {unknown}; '
                             f'known: {list(SSL4EO_S12_BANDS)}')
        self.num_seasons = num_seasons
        self.list_threads = max(1, int(list_threads))
        super().__init__(
            data_root=data_root,
            modalities=modalities,
            patch_ids=patch_ids,
            pipeline=pipeline,
            **kwargs)

    def _season(self, modality: str, patch_id: str, patch_dir: str, index: int,
                folder: str) -> dict:
        path = osp.join(self.data_root, modality, patch_dir, folder)
        return dict(
            date=parse_season_date(folder),
            folder=path,
            band_paths=[
                osp.join(path, f'{b}.tif') for b in SSL4EO_S12_BANDS[modality]
            ],
            band_sizes=list(SSL4EO_S12_BAND_SIZES[modality]))

    def _list_modality(self, modality: str, patch_dir: str,
                       pid: str) -> Tuple[Optional[Tuple[str, ...]], list]:
        """Season folders of one location and modality, in date order."""
        folder = osp.join(self.data_root, modality, patch_dir)
        problems = []
        try:
            with os.scandir(folder) as it:
                entries = [(e.name, e.is_dir()) for e in it]
        except OSError as e:
            return None, [
                DataProblem(folder, 'unreadable',
                            f'{folder}: cannot list location {pid}: {e}')
            ]
        seasons = []
        for name, is_dir in entries:
            if not is_dir or name.startswith('.'):
                continue  # metadata files, hidden folders
            date = parse_season_date(name)
            if date is None:
                path = osp.join(folder, name)
                problems.append(
                    DataProblem(
                        path, 'season', f'{path}: {modality} season folder '
                        f'of location {pid} has no <YYYYMMDD>T<HHMMSS> date '
                        'in its name'))
                continue
            seasons.append((date, name))
        seasons.sort()
        if not seasons and not problems:
            problems.append(
                DataProblem(
                    folder, 'missing',
                    f'{folder}: no {modality} season folder in location '
                    f'{pid}'))
        if (self.num_seasons is not None and seasons
                and len(seasons) != self.num_seasons):
            problems.append(
                DataProblem(
                    folder, 'seasons', f'{folder}: location {pid} has '
                    f'{len(seasons)} {modality} seasons, expected '
                    f'{self.num_seasons}'))
        for _, name in seasons:
            path = osp.join(folder, name)
            try:
                files = set(os.listdir(path))
            except OSError as e:
                problems.append(
                    DataProblem(path, 'unreadable',
                                f'{path}: cannot list season folder: {e}'))
                continue
            for band in SSL4EO_S12_BANDS[modality]:
                if f'{band}.tif' not in files:
                    file = osp.join(path, f'{band}.tif')
                    problems.append(
                        DataProblem(
                            file, 'missing', f'{file}: band {band} of '
                            f'{modality} location {pid} is missing'))
        return tuple(name for _, name in seasons), problems

    def _list_location(self, pid: int,
                       dirs: Dict[str, Optional[str]]) -> Tuple[dict, list]:
        names = [d for d in dirs.values() if d is not None]
        patch_id = names[0] if names else f'{pid:07d}'
        problems, folders = [], {}
        for m, d in dirs.items():
            if d is None:
                path = osp.join(self.data_root, m, patch_id)
                have = [k for k, v in dirs.items() if v is not None]
                what = (f'missing partner (location has {have})'
                        if have else 'location not found in any modality')
                problems.append(
                    DataProblem(
                        path, 'missing',
                        f'{path}: no {m} folder for location {pid}: '
                        f'{what}'))
                continue
            seasons, probs = self._list_modality(m, d, patch_id)
            problems += probs
            if seasons is not None:
                folders[m] = seasons
        counts = {m: len(s) for m, s in folders.items()}
        if (not problems and self.num_seasons is None
                and len(set(counts.values())) > 1):
            path = osp.join(self.data_root, self.modalities[0], patch_id)
            problems.append(
                DataProblem(
                    path, 'seasons', f'location {patch_id}: season counts '
                    f'differ between modalities {counts}, so seasons cannot '
                    'be paired'))
        info = dict(
            patch_id=patch_id,
            patch_dirs={
                m: d
                for m, d in dirs.items() if d is not None
            },
            season_folders=folders)
        return info, problems

    def load_data_list(self) -> List[dict]:
        """List the locations and their season folders.

        Returns:
            list[dict]: Compact records, one per location in id order (see
            :meth:`get_data_info` for the expanded data info).
        """
        found: Dict[str, Dict[int, str]] = {}
        for m in self.modalities:
            root = osp.join(self.data_root, m)
            if not osp.isdir(root):
                raise MissingFileError(
                    f'SSL4EO-S12 {m} folder not found: {root} (expected '
                    f'{self.data_root}/{m}/<patch id>/<season>/*.tif)', root)
            found[m] = {int(n): n for n in os.listdir(root) if n.isdigit()}
        wanted = self._wanted_ids()
        if wanted is None:
            wanted = sorted(set().union(*(f.keys() for f in found.values())))

        def chunk(ids: List[int]) -> List[Tuple[dict, list]]:
            return [
                self._list_location(
                    pid, {m: found[m].get(pid)
                          for m in self.modalities}) for pid in ids
            ]

        size = 256
        chunks = [wanted[i:i + size] for i in range(0, len(wanted), size)]
        if self.list_threads > 1 and len(chunks) > 1:
            with ThreadPoolExecutor(self.list_threads) as pool:
                listed = [r for rs in pool.map(chunk, chunks) for r in rs]
        else:
            listed = [r for c in chunks for r in chunk(c)]
        data_list, problems, bad = [], [], []
        for i, (info, probs) in enumerate(listed):
            if probs:
                bad.append(i)
                problems += probs
                self.bad_locations[info['patch_id']] = probs
            data_list.append(info)
        return self.checked(data_list, problems, bad)


@DATASETS.register_module()
class SSL4EOS12LMDBDataset(_SSL4EOS12Base):
    """SSL4EO-S12 locations from the LMDB of ``ssl4eo_s12_to_lmdb.py``.

    The LMDB holds, per location and modality, every season as the array
    the raw dataset reads (resampled, output band order), so
    :class:`LoadSeasons` returns bit-identical data with one ``get`` per
    drawn season. The LMDB is opened lazily, read-only, once per worker
    process.

    Data info: as :class:`SSL4EOS12Dataset`, but each season has
    ``lmdb_key`` (and ``folder`` = ``<modality>/<patch>/<season folder>`` as
    in the raw data) instead of band paths, and the info has
    ``lmdb_path``. An LMDB converted with ``--prescale`` holds the seasons
    already scaled (uint8 with DeCUR's statistics: ~2.3x smaller, and the
    per-view scaling is skipped); its info also has ``prescaled``
    (modality -> the scaler's spec), which the pipeline's
    :class:`StatsScale` checks against its own and then skips, so the same
    config serves raw, raw-value LMDB and pre-scaled LMDB data with
    identical samples.

    Args:
        data_root (str): The ``.lmdb`` folder.
        modalities (Sequence[str]): Modalities to use; the LMDB must hold
            them. Defaults to ``('s1', 's2c')``.
        patch_ids (str | Sequence, optional): Restrict to these locations,
            see :func:`read_patch_ids`. Defaults to None (all).
        pipeline (Sequence[dict | callable]): Transforms. Defaults to ().
        **kwargs: :class:`MultiModalDataset` arguments.
    """

    #: Modality -> the spec of the scaler applied at conversion (set from
    #: the LMDB's ``__info__`` when the data list is loaded).
    prescaled: Dict[str, dict] = {}

    def _season(self, modality: str, patch_id: str, patch_dir: str, index: int,
                folder: str) -> dict:
        return dict(
            date=parse_season_date(folder),
            folder=f'{modality}/{patch_dir}/{folder}',
            lmdb_key=lmdb_season_key(modality, patch_id, index))

    def expand_info(self, info: dict) -> dict:
        info = super().expand_info(info)
        info['lmdb_path'] = self.data_root
        if self.prescaled:
            info['prescaled'] = self.prescaled
        return info

    def load_data_list(self) -> List[dict]:
        """Read the location index and each location's metadata.

        Returns:
            list[dict]: Compact records in index order.
        """
        path = self.data_root
        # The process's cached handle (py-lmdb allows one per process); it is
        # closed before DataLoader workers fork, and they open their own.
        env = open_lmdb(path)
        with env.begin(write=False) as txn:
            return self._load(txn, path)

    def _load(self, txn, path: str) -> List[dict]:
        raw_info = txn.get(LMDB_INFO_KEY.encode())
        raw_index = txn.get(LMDB_INDEX_KEY.encode())
        if raw_info is None or raw_index is None:
            raise MissingFileError(
                f'{path} has no {LMDB_INDEX_KEY!r} key: its conversion did '
                'not finish. Rerun tools/dataset_converters/'
                'ssl4eo_s12_to_lmdb.py with the same arguments to complete '
                'it (converted locations are kept).', path)
        meta = json.loads(raw_info)
        if meta.get('format') != LMDB_FORMAT:
            raise MissingFileError(
                f'{path} is not an SSL4EO-S12 LMDB of mmdecur (format '
                f'{meta.get("format")!r})', path)
        missing = [m for m in self.modalities if m not in meta['modalities']]
        if missing:
            raise ValueError(f'{path} holds modalities '
                             f'{list(meta["modalities"])}, not {missing}')
        for m in self.modalities:
            stored = meta['modalities'][m].get('bands')
            if stored != list(SSL4EO_S12_BANDS[m]):
                raise ValueError(
                    f'{path}: modality {m!r} was stored with bands {stored}, '
                    f'expected {list(SSL4EO_S12_BANDS[m])}')
        self.prescaled = {
            m: spec
            for m, spec in (meta.get('prescaled') or {}).items()
            if m in self.modalities
        }
        ids = json.loads(raw_index)
        wanted = self._wanted_ids()
        problems, bad, data_list = [], [], []
        if wanted is not None:
            by_int = {int(p): p for p in ids}
            for pid in wanted:
                if pid not in by_int:
                    where = f'{path}::{lmdb_meta_key(f"{pid:07d}")}'
                    problem = DataProblem(
                        where, 'missing', f'location {pid} (listed in '
                        f'patch_ids) is not in {path}')
                    problems.append(problem)
                    self.bad_locations[f'{pid:07d}'] = [problem]
            ids = [by_int[pid] for pid in wanted if pid in by_int]
        for pid in ids:
            raw = txn.get(lmdb_meta_key(pid).encode())
            if raw is None:
                where = f'{path}::{lmdb_meta_key(pid)}'
                problem = DataProblem(
                    where, 'missing', f'{path}: location {pid} is in the '
                    'index but has no metadata')
                problems.append(problem)
                bad.append(len(data_list))
                self.bad_locations[pid] = [problem]
                data_list.append(
                    dict(patch_id=pid, patch_dirs={}, season_folders={}))
                continue
            loc = json.loads(raw)
            data_list.append(
                dict(
                    patch_id=pid,
                    patch_dirs={
                        m: loc['patch_dirs'][m]
                        for m in self.modalities
                    },
                    season_folders={
                        m: tuple(loc['season_folders'][m])
                        for m in self.modalities
                    }))
        return self.checked(data_list, problems, bad)

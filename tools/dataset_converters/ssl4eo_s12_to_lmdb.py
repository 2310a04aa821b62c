# Copyright (c) mmdecur contributors. All rights reserved.
"""Convert SSL4EO-S12 from its released folder layout to one LMDB.

Reading ~15 GeoTIFFs per season dominates the raw pipeline; the LMDB holds
each season as the array the raw dataset reads, so training does one
``get`` per drawn season (``SSL4EOS12LMDBDataset``). Raw data is read with
the dataset's own reader (``SSL4EOS12Dataset`` + ``LoadSeasons.read``), so
both datasets return bit-identical arrays.

LMDB format (keys are UTF-8 strings):

- ``__info__``: JSON ``{"format": "mmdecur-ssl4eo-s12-lmdb", "version": 1,
  "modalities": {m: {"bands": [...]}}, "interpolation": "bilinear"}``
  (plus ``"prescaled"`` with ``--prescale``), written first; a resumed run
  must use the same modalities and scaling.
- ``<modality>/<patch id>/<k>``: season ``k`` (date order) as ``.npy`` bytes
  (``np.save``: dtype and shape self-described): an H×W×C array on the
  264×264 grid in output band order (S1 float32 VV, VH; S2 uint16 B1..B12;
  the scaler's dtype, uint8, where pre-scaled).
- ``meta/<patch id>``: JSON ``{"patch_id", "patch_dirs": {m: folder},
  "season_folders": {m: [season folder names in date order]}, "dates": {m:
  [...]}}``. A location's season keys and its meta key are written in one
  transaction, the meta key last: a location is complete iff it has a meta
  key, and an interrupted run never leaves half a location.
- ``__index__``: JSON list of the patch ids with a meta key, in id order,
  (re)written at the end of every run; the dataset refuses an LMDB without
  it (an unfinished conversion).

With ``--prescale CONFIG`` the seasons are stored already scaled by the
``StatsScale`` of CONFIG's training pipeline (DeCUR: uint8 with the
SSL4EO-S12 statistics), and ``__info__`` gets ``"prescaled": {m: spec}``.
Scaling the full season once at conversion is exactly what every view's
``StatsScale`` would do first, so the pipeline (which then skips it, after
checking the spec) yields identical samples; the LMDB is ~2.3x smaller
(s1+s2c ~4.2 MB per location, 1.05 TB) and the per-view scaling of the 13
bands is gone from training. Keep the default (raw values) to experiment
with other normalisations.

Patch ids are the raw folder names (7 or 6 digits). Re-running the same
command skips complete locations, so an interrupted conversion resumes.
Bad locations (missing partner or band file, wrong band size, unreadable
file) are skipped with a warning and counted, or stop the run with
``--strict``. Full SSL4EO-S12 s1+s2c takes ~9.5 MB per location (2.4 TB;
with s2a ~16.2 MB, 4.1 TB; pre-scaled 4.2 MB and 7.5 MB per location):
``--map-size`` must exceed that (it only reserves address space on Linux;
use ``--map-size 5T`` for raw s1+s2c+s2a).

Example::

    python tools/dataset_converters/ssl4eo_s12_to_lmdb.py \\
        data/ssl4eo-s12 data/ssl4eo-s12/s1_s2c.lmdb --num-workers 16
    # pre-scaled uint8, for configs/decur/sar_optical_*.py
    python tools/dataset_converters/ssl4eo_s12_to_lmdb.py \\
        data/ssl4eo-s12 data/ssl4eo-s12/s1_s2c_uint8.lmdb --num-workers 16 \\
        --prescale configs/_base_/datasets/ssl4eo_s12.py
    # three modalities (S1, S2 L1C, S2 L2A), each with its own statistics
    # (the modalities default to the --prescale config's)
    python tools/dataset_converters/ssl4eo_s12_to_lmdb.py \\
        data/ssl4eo-s12 data/ssl4eo-s12/ssl4eo_s12_s1_s2c_s2a_uint8.lmdb \\
        --num-workers 16 --prescale configs/decur/sar_optical3_rn50.py
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import json
import multiprocessing
import os
import sys
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.config import DictAction
from mmengine.utils import ProgressBar

from mmdecur.datasets.errors import (DataFileError, DataProblem,
                                     FileContentError, MissingFileError,
                                     UnreadableFileError)
from mmdecur.datasets.ssl4eo_s12 import (LMDB_FORMAT, LMDB_INDEX_KEY,
                                         LMDB_INFO_KEY, SSL4EO_S12_BANDS,
                                         SSL4EOS12Dataset, lmdb_meta_key,
                                         lmdb_season_key)
from mmdecur.datasets.transforms import StatsScale
from mmdecur.datasets.transforms.seasons import (LoadSeasons, close_lmdb,
                                                 encode_array)

FORMAT_VERSION = 1
_ERRORS = dict(missing=MissingFileError, unreadable=UnreadableFileError)

_READER: Optional[LoadSeasons] = None
_SCALER: Optional[StatsScale] = None


def _init_worker(modalities: Sequence[str],
                 interpolation: str,
                 prescale: Optional[dict] = None) -> None:
    global _READER, _SCALER
    _READER = LoadSeasons(modalities, num_views=1, interpolation=interpolation)
    _SCALER = None if prescale is None else build_scaler(prescale)


def build_scaler(prescale: dict) -> StatsScale:
    """The StatsScale of a transform config (its ``type`` is checked)."""
    args = dict(prescale)
    kind = str(args.pop('type', 'StatsScale')).split('.')[-1]
    if kind != 'StatsScale':
        raise ValueError(f'--prescale needs a StatsScale, got {kind!r}')
    return StatsScale(**args)


def _find_transforms(node, type_name: str) -> List[dict]:
    """Every transform dict of type ``type_name`` nested in ``node``."""
    found = []
    if isinstance(node, dict):
        if str(node.get('type', '')).split('.')[-1] == type_name:
            found.append(dict(node))
        for value in node.values():
            found += _find_transforms(value, type_name)
    elif isinstance(node, (list, tuple)):
        for value in node:
            found += _find_transforms(value, type_name)
    return found


def _load_config(config: str, cfg_options: Optional[dict] = None):
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def modalities_from_config(config: str,
                           dataloader: str = 'train_dataloader',
                           cfg_options: Optional[dict] = None) -> tuple:
    """The modalities of a config's dataset, in order."""
    cfg = _load_config(config, cfg_options)
    mods = cfg.get(dataloader, {}).get('dataset', {}).get('modalities')
    if not mods:
        raise ValueError(f'{config}: {dataloader}.dataset names no '
                         'modalities; give --modalities')
    return (mods, ) if isinstance(mods, str) else tuple(mods)


def prescale_from_config(config: str,
                         dataloader: str = 'train_dataloader',
                         cfg_options: Optional[dict] = None) -> dict:
    """The one ``StatsScale`` of a config's dataset pipeline.

    Args:
        config (str): Config file path.
        dataloader (str): Dataloader whose pipeline is searched. Defaults to
            'train_dataloader'.
        cfg_options (dict, optional): Overrides of the config (e.g. the
            path of a stats file). Defaults to None.

    Returns:
        dict: The StatsScale transform config.

    Raises:
        ValueError: No StatsScale, or several that differ.
    """
    cfg = _load_config(config, cfg_options)
    pipeline = cfg.get(dataloader, {}).get('dataset', {}).get('pipeline')
    found = _find_transforms(pipeline, 'StatsScale')
    if not found:
        raise ValueError(f'--prescale: {config} has no StatsScale in '
                         f'{dataloader}.dataset.pipeline')
    if any(f != found[0] for f in found[1:]):
        raise ValueError(f'--prescale: {config} has differing StatsScale '
                         f'transforms {found}; the LMDB can hold one scaling')
    return found[0]


def _read_location(
    info: dict
) -> Tuple[str, Optional[Dict[str, bytes]], Optional[dict], List[DataProblem]]:
    """Read every season of one location.

    Returns:
        tuple: ``(patch_id, {key: npy bytes}, meta, problems)``; on any
        problem the values and meta are None.
    """
    pid = info['patch_id']
    values, problems = {}, []
    for m, seasons in info['seasons'].items():
        for k in range(len(seasons)):
            try:
                arr = _READER.read(info, m, k)
            except DataFileError as e:
                problems.append(e.as_problem())
                continue
            if _SCALER is not None and m in _SCALER.stats:
                arr = _SCALER.apply(m, arr, seasons[k]['folder'])
            values[lmdb_season_key(m, pid, k)] = encode_array(arr)
    if problems:
        return pid, None, None, problems
    meta = dict(
        patch_id=pid,
        patch_dirs={
            m: os.path.basename(os.path.dirname(s[0]['folder']))
            for m, s in info['seasons'].items()
        },
        season_folders={
            m: [os.path.basename(x['folder']) for x in s]
            for m, s in info['seasons'].items()
        },
        dates={
            m: [x['date'] for x in s]
            for m, s in info['seasons'].items()
        })
    return pid, values, meta, []


def parse_size(text: str) -> int:
    """'1T', '512G', '64M', '4096' -> bytes."""
    units = dict(K=1 << 10, M=1 << 20, G=1 << 30, T=1 << 40)
    text = str(text).strip().upper().rstrip('B')
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def _check_info(txn,
                modalities: Sequence[str],
                interpolation: str,
                out: str,
                prescale: Optional[dict] = None) -> None:
    info = dict(
        format=LMDB_FORMAT,
        version=FORMAT_VERSION,
        modalities={
            m: dict(bands=list(SSL4EO_S12_BANDS[m]))
            for m in modalities
        },
        interpolation=interpolation)
    if prescale is not None:
        scaler = build_scaler(prescale)
        covered = [m for m in modalities if m in scaler.stats]
        if not covered:
            raise ValueError(f'--prescale: the StatsScale {prescale} scales '
                             f'none of the modalities {list(modalities)}')
        for m in covered:  # before any location is read
            scaler.check_bands(m, len(SSL4EO_S12_BANDS[m]),
                               SSL4EO_S12_BANDS[m])
        info['prescaled'] = {m: scaler.spec(m) for m in covered}
    raw = txn.get(LMDB_INFO_KEY.encode())
    if raw is None:
        txn.put(LMDB_INFO_KEY.encode(), json.dumps(info).encode())
        return
    old = json.loads(raw)
    if old != info:
        raise ValueError(
            f'{out} was written with {old}, this run asks for {info}; use '
            'the same arguments to resume, or a new output path')


def write_index(env) -> List[str]:
    """(Re)write ``__index__`` from the complete locations' meta keys."""
    prefix = lmdb_meta_key('').encode()
    ids = []
    with env.begin(write=True) as txn:
        cursor = txn.cursor()
        if cursor.set_range(prefix):
            for key in cursor.iternext(keys=True, values=False):
                if not key.startswith(prefix):
                    break
                ids.append(key[len(prefix):].decode())
        ids.sort(key=lambda p: (int(p), p))
        txn.put(LMDB_INDEX_KEY.encode(), json.dumps(ids).encode())
    return ids


def convert(root: str,
            out: str,
            modalities: Sequence[str] = ('s1', 's2c'),
            num_workers: int = 0,
            map_size: int = 4 << 40,
            patch_ids: Optional[str] = None,
            strict: bool = False,
            commit_every: int = 16,
            interpolation: str = 'bilinear',
            list_threads: int = 8,
            progress: bool = True,
            prescale: Optional[dict] = None) -> dict:
    """Convert (or resume converting) ``root`` into the LMDB ``out``.

    Args:
        root (str): SSL4EO-S12 root (``s1/``, ``s2c/``...).
        out (str): Output LMDB folder.
        modalities (Sequence[str]): Modalities to store. Defaults to
            ``('s1', 's2c')``.
        num_workers (int): Reader processes; 0 reads in this process.
            Defaults to 0.
        map_size (int): LMDB map size in bytes. Defaults to 4 TiB.
        patch_ids (str, optional): File restricting the locations.
        strict (bool): Fail on the first bad location instead of skipping
            it. Defaults to False.
        commit_every (int): Locations per write transaction (each one whole).
            Defaults to 16.
        interpolation (str): Band resampling, as in :class:`LoadSeasons`.
            Defaults to 'bilinear'.
        list_threads (int): Threads listing the raw folders. Defaults to 8.
        progress (bool): Show a progress bar. Defaults to True.
        prescale (dict, optional): A ``StatsScale`` transform config to
            apply before storing (see :func:`prescale_from_config`).
            Defaults to None (raw values).

    Returns:
        dict: ``total`` (locations listed), ``converted``, ``skipped``
        (already complete), ``bad`` (list of (patch id, problems)) and
        ``index`` (patch ids in the LMDB).
    """
    import lmdb
    dataset = SSL4EOS12Dataset(
        root,
        modalities=modalities,
        patch_ids=patch_ids,
        list_threads=list_threads,
        skip_bad_samples=not strict)
    bad: List[Tuple[str,
                    List[DataProblem]]] = list(dataset.bad_locations.items())

    os.makedirs(out, exist_ok=True)
    close_lmdb(out)  # a read-only handle of this process would clash
    env = lmdb.open(out, map_size=map_size, readahead=False, meminit=False)
    try:
        with env.begin(write=True) as txn:
            _check_info(txn, modalities, interpolation, out, prescale)
        with env.begin() as txn:
            pending = [
                i for i in range(len(dataset)) if txn.get(
                    lmdb_meta_key(dataset.get_patch_id(i)).encode()) is None
            ]
        total = len(dataset) + len(bad)
        skipped = len(dataset) - len(pending)
        print(
            f'{total} locations listed: {skipped} already in {out}, '
            f'{len(pending)} to convert, {len(bad)} bad when listed',
            flush=True)
        converted = 0
        bar = ProgressBar(len(pending)) if progress and pending else None
        pool = (
            multiprocessing.Pool(num_workers, _init_worker,
                                 (tuple(modalities), interpolation,
                                  prescale)) if num_workers > 0 else None)
        if pool is None:
            _init_worker(tuple(modalities), interpolation, prescale)
        try:
            # One transaction per chunk of whole locations: memory stays
            # bounded and an interruption loses at most the open chunk.
            step = max(1, commit_every)
            for start in range(0, len(pending), step):
                infos = [
                    dataset.get_data_info(i)
                    for i in pending[start:start + step]
                ]
                results = (
                    pool.imap(_read_location, infos)
                    if pool is not None else map(_read_location, infos))
                txn = env.begin(write=True)
                try:
                    for pid, values, meta, problems in results:
                        if bar is not None:
                            bar.update()
                        if problems:
                            if strict:
                                p = problems[0]
                                raise _ERRORS.get(p.kind, FileContentError)(
                                    f'location {pid}: {p.message}', p.path,
                                    p.kind)
                            bad.append((pid, problems))
                            continue
                        for key, value in values.items():
                            txn.put(key.encode(), value)
                        txn.put(
                            lmdb_meta_key(pid).encode(),
                            json.dumps(meta).encode())
                        converted += 1
                    txn.commit()
                except BaseException:
                    txn.abort()
                    raise
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
            if bar is not None:
                print()
        index = write_index(env)
        env.sync()
    finally:
        env.close()
    if bad:
        lines = [
            f'  {pid}: [{p.kind}] {p.message}' for pid, problems in bad[:20]
            for p in problems[:3]
        ]
        more = f'\n  ... and {len(bad) - 20} more' if len(bad) > 20 else ''
        warnings.warn(
            f'skipped {len(bad)} bad location(s) of {total}:\n' +
            '\n'.join(lines) + more,
            stacklevel=2)
    return dict(
        total=total,
        converted=converted,
        skipped=skipped,
        bad=bad,
        index=index)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Convert SSL4EO-S12 (released folder layout) to LMDB')
    parser.add_argument('root', help='SSL4EO-S12 root (s1/, s2c/, ...)')
    parser.add_argument('out', help='output .lmdb folder')
    parser.add_argument(
        '--modalities',
        nargs='+',
        choices=sorted(SSL4EO_S12_BANDS),
        help='modalities to store (default: those of the --prescale '
        'config\'s dataset, else s1 s2c)')
    parser.add_argument(
        '--num-workers', type=int, default=0, help='reader processes')
    parser.add_argument(
        '--map-size',
        type=parse_size,
        default='4T',
        help='LMDB map size, e.g. 4T, 500G (>= the output size)')
    parser.add_argument(
        '--patch-ids', help='file of patch ids to convert (one per line)')
    parser.add_argument(
        '--commit-every',
        type=int,
        default=16,
        help='locations per write transaction')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='fail on the first bad location instead of skipping it')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress bar')
    parser.add_argument(
        '--prescale',
        metavar='CONFIG',
        help='store the seasons scaled by the StatsScale of this config\'s '
        'training pipeline (e.g. configs/_base_/datasets/ssl4eo_s12.py)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='overrides of the --prescale config, e.g. '
        'train_dataloader.dataset.pipeline.1.stats.s2a=FILE')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.cfg_options and not args.prescale:
        sys.exit('--cfg-options applies to the --prescale config; give one')
    prescale = None
    modalities = args.modalities
    if args.prescale:
        prescale = prescale_from_config(
            args.prescale, cfg_options=args.cfg_options)
        if modalities is None:
            modalities = modalities_from_config(
                args.prescale, cfg_options=args.cfg_options)
        scaled = [m for m in modalities if m in (prescale.get('stats') or {})]
        raw = [m for m in modalities if m not in scaled]
        print(f'storing {list(modalities)}: pre-scaled {scaled}' +
              (f', raw values {raw} (no statistics in the StatsScale)'
               if raw else ''))
    if modalities is None:
        modalities = ('s1', 's2c')
    try:
        stats = convert(
            args.root,
            args.out,
            modalities=modalities,
            num_workers=args.num_workers,
            map_size=args.map_size,
            patch_ids=args.patch_ids,
            strict=args.strict,
            commit_every=args.commit_every,
            progress=not args.no_progress,
            prescale=prescale)
    except DataFileError as e:
        sys.exit(f'error (--strict): {e}')
    print(f'converted {stats["converted"]}, skipped {stats["skipped"]} '
          f'(already complete), bad {len(stats["bad"])}; {args.out} holds '
          f'{len(stats["index"])} locations')
    return stats


if __name__ == '__main__':
    main()

# Copyright (c) mmdecur contributors. All rights reserved.
"""Per-band mean and std of a config's dataset, for ``StatsScale``.

Streams over the samples of ``<split>_dataloader.dataset`` with the
dataset's own readers (SSL4EO-S12: every season of every location, as
``LoadSeasons`` returns it, i.e. resampled onto the 264 px grid), and
writes a stats file (JSON, format in ``mmdecur/datasets/band_stats.py``)
that a ``StatsScale`` reads when its ``stats`` name the file for a modality
(``stats=dict(s2a='FILE')``). Pixels that are not finite (or equal
``--nodata``) do not count. Mean and variance are merged exactly per
image in float64 (Chan et al.), so billions of pixels stay accurate.
Unreadable samples are skipped and counted. Prints a config snippet.

By default the modalities are those whose statistics the config's
``StatsScale`` takes from a file, and ``--out`` is that file::

    # DeCUR's three-modality SSL4EO-S12 config names
    # data/ssl4eo-s12/s2a_band_stats.json for s2a: this writes it
    python tools/misc/compute_band_stats.py configs/decur/sar_optical3_rn50.py
    # any modality, a random subset of 20000 locations, 8 reader processes
    python tools/misc/compute_band_stats.py \\
        configs/decur/sar_optical3_rn50.py --modalities s2a s2c \\
        --out stats.json --max-samples 20000 --num-workers 8 \\
        --cfg-options train_dataloader.dataset.data_root=/data
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import sys
import warnings
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import DictAction

from mmdecur.apis import load_config
from mmdecur.datasets.band_stats import (compute_dataset_band_stats,
                                         save_band_stats,
                                         stats_file_references)
from mmdecur.registry import DATASETS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument(
        '--modalities',
        nargs='+',
        help='modalities to summarise (default: those whose statistics the '
        "config's StatsScale reads from a file, else all)")
    parser.add_argument(
        '--out',
        help='stats file to write (default: the file the config names for '
        'the modalities); other modalities already in it are kept')
    parser.add_argument(
        '--split', default='train', help='which <split>_dataloader to read')
    parser.add_argument(
        '--max-samples',
        type=int,
        help='read a random subset of this many samples (seeded)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the --max-samples draw')
    parser.add_argument(
        '--nodata',
        nargs='+',
        default=[],
        metavar='MODALITY=VALUE',
        help='a value that marks invalid pixels of a modality, e.g. s2a=0')
    parser.add_argument(
        '--num-workers', type=int, default=0, help='reader processes')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def parse_nodata(items: Sequence[str]) -> Dict[str, float]:
    """``['s2a=0']`` -> ``{'s2a': 0.0}``."""
    out = {}
    for item in items:
        name, sep, value = item.partition('=')
        try:
            if not sep or not name:
                raise ValueError
            out[name] = float(value)
        except ValueError:
            raise SystemExit(f'--nodata: {item!r} is not MODALITY=VALUE')
    return out


def _is_loading(transform) -> bool:
    name = (
        transform.get('type', '')
        if isinstance(transform, dict) else type(transform).__name__)
    return str(name).split('.')[-1].startswith('Load')


def pick_samples(num: int, max_samples: Optional[int], seed: int) -> List[int]:
    """All sample indices, or a seeded random subset in index order."""
    if max_samples is None or max_samples >= num:
        return list(range(num))
    if max_samples < 1:
        raise SystemExit(f'--max-samples must be positive, got {max_samples}')
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(num, max_samples, replace=False).tolist())


def config_snippet(stats: Dict[str, dict], out: str) -> str:
    """Config lines using the statistics, by file and inline."""
    lines = ['# by file (e.g. configs/_base_/datasets/ssl4eo_s12_3mod.py):']
    lines += [f'{m}_stats = {out!r}' for m in stats]
    lines.append('# or inline:')
    for m, entry in stats.items():
        mean = ', '.join(f'{v:.6g}' for v in entry['mean'])
        std = ', '.join(f'{v:.6g}' for v in entry['std'])
        lines.append(f'{m}_stats = dict(  # {", ".join(entry["bands"])}')
        lines.append(f'    mean=[{mean}],')
        lines.append(f'    std=[{std}])')
    return '\n'.join(lines)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    loader = cfg.get(f'{args.split}_dataloader')
    if loader is None:
        raise SystemExit(f'{args.config} has no {args.split}_dataloader')
    dataset_cfg = dict(loader['dataset'])
    pipeline = list(dataset_cfg.get('pipeline') or [])
    files = stats_file_references(pipeline)

    modalities = args.modalities or list(files)
    out = args.out
    if out is None:
        named = sorted({f for m in modalities for f in files.get(m, [])})
        if len(named) != 1 or any(m not in files for m in modalities):
            raise SystemExit(
                f'give --out: the config names {named or "no"} stats '
                f'file(s) for {modalities or "its modalities"}')
        out = named[0]

    # Only the loading steps: the statistics may not exist yet.
    last = max((i for i, t in enumerate(pipeline) if _is_loading(t)),
               default=-1)
    dataset_cfg['pipeline'] = pipeline[:last + 1]
    dataset_cfg['skip_bad_samples'] = True
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # listing problems: counted below
        dataset = DATASETS.build(dataset_cfg)
    known = list((dataset.metainfo or {}).get('modalities') or [])
    modalities = modalities or known
    unknown = [m for m in modalities if known and m not in known]
    if unknown:
        raise SystemExit(f'{type(dataset).__name__} has modalities {known}, '
                         f'not {unknown}')
    nodata = parse_nodata(args.nodata)
    indices = pick_samples(len(dataset), args.max_samples, args.seed)
    print(f'reading {len(indices)} of {len(dataset)} samples of '
          f'{type(dataset).__name__} at {dataset.data_root} for '
          f'{modalities}' +
          (f' ({len(dataset.problems)} problem(s) when '
           'listed, those samples skipped)' if dataset.problems else ''))
    stats, problems, num_read = compute_dataset_band_stats(
        dataset,
        modalities,
        indices,
        nodata=nodata,
        num_workers=args.num_workers,
        progress=not args.no_progress)
    if problems:
        print(f'skipped {len(problems)} unreadable sample(s), e.g. '
              f'[{problems[0].kind}] {problems[0].message}')
    if not num_read:
        raise SystemExit('no sample could be read')
    bands_of = (dataset.metainfo or {}).get('bands') or {}
    entries = {}
    for m in modalities:
        s = stats[m]
        names = bands_of.get(m)
        if names is None or len(names) != s.num_bands:
            names = None
        entry = s.as_dict(names)
        entry['source'] = dict(
            config=args.config,
            split=args.split,
            dataset=type(dataset).__name__,
            data_root=dataset.data_root,
            samples=num_read,
            samples_listed=len(dataset),
            images=s.num_images,
            max_samples=args.max_samples,
            seed=args.seed if args.max_samples else None,
            skipped=len(problems))
        entries[m] = entry
        for name, n, std in zip(entry['bands'], s.count, s.std):
            if n == 0 or not std > 0:
                print(f'warning: band {name} of {m} has '
                      f'{"no valid pixel" if n == 0 else "zero variance"}; '
                      'StatsScale will refuse these statistics')
    held = save_band_stats(out, entries)
    print(f'wrote the statistics of {modalities} to {out} (holds {held})')
    print(config_snippet(entries, out))
    return dict(out=out, stats=entries, problems=problems, num_read=num_read)


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)

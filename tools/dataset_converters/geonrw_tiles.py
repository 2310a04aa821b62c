# Copyright (c) mmdecur contributors. All rights reserved.
"""Cut GeoNRW's 1000x1000 tiles into non-overlapping patches.

DeCUR pretrains on 250x250 patches, 16 per tile (~117k from the train
cities). For every ``<SRC>/<city>/<E>_<N>_rgb.jp2`` with its ``_dem.tif`` and
``_seg.tif`` this writes, keeping the ``<city>/`` folders (so the city splits
still work), patch k = 1..16 in row-major order (left to right, then top to
bottom) as the official crop script names them, in lossless formats::

    <OUT>/<city>/<E>_<N>_<k>_rgb.png   3 x uint8 (RGB)
    <OUT>/<city>/<E>_<N>_<k>_dem.tif   float32 metres (Deflate)
    <OUT>/<city>/<E>_<N>_<k>_seg.png   uint8 0..10 as released

Read them with ``GeoNRWDataset(layout='patches')``. Every file is written to
a temporary name and renamed, so an interrupted run leaves no partial file;
a rerun skips tiles whose outputs all exist (resumable). A JP2 carrying the
greyscale colour-space flag on 3-band data is decoded as RGB (as everywhere
``read_image`` reads). Bad tiles (missing partner, unreadable file, wrong
band count, dtype or size) are reported at the end and make the exit status
1; the others are converted.

Every tile must be ``--tile-size`` (GeoNRW: 1000) square, a multiple of
``--patch-size``: knowing the patch count up front is what lets a rerun skip
finished tiles without decoding them.

    python tools/dataset_converters/geonrw_tiles.py data/geonrw \
        data/geonrw_patches --num-workers 8
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import os
import os.path as osp
import sys
from multiprocessing import Pool
from typing import List, NamedTuple, Optional, Sequence, Tuple

import cv2
import mmengine.fileio as fileio
import numpy as np
from mmengine.utils import ProgressBar

from mmdecur.datasets.errors import DataFileError, FileContentError
from mmdecur.datasets.geonrw import GEONRW_LAYOUTS
from mmdecur.datasets.transforms import read_image

SRC = GEONRW_LAYOUTS['tiles']
DST = GEONRW_LAYOUTS['patches']
# Lossless encodings: PNG for 8-bit data, Deflate TIFF for float32.
_ENCODE_PARAMS = {
    '.png': [cv2.IMWRITE_PNG_COMPRESSION, 3],
    '.tif': [cv2.IMWRITE_TIFF_COMPRESSION, 8],
}


class Task(NamedTuple):
    src_dir: str
    out_dir: str
    stem: str  # <E>_<N>
    tile_size: int
    patch_size: int


class Outcome(NamedTuple):
    tile: str  # the rgb path
    status: str  # 'converted' | 'skipped' | 'bad'
    message: str = ''


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Cut GeoNRW tiles into non-overlapping patches.')
    parser.add_argument('src', help='GeoNRW root (holds the city folders)')
    parser.add_argument('out', help='output root (city folders are kept)')
    parser.add_argument(
        '--patch-size', type=int, default=250, help='patch side in pixels')
    parser.add_argument(
        '--tile-size',
        type=int,
        default=1000,
        help='side every tile must have (GeoNRW: 1000)')
    parser.add_argument(
        '--num-workers',
        type=int,
        default=min(8,
                    os.cpu_count() or 1),
        help='processes; 0 converts in this process')
    args = parser.parse_args(argv)
    if args.patch_size <= 0 or args.tile_size <= 0:
        parser.error('--patch-size and --tile-size must be positive')
    if args.tile_size % args.patch_size:
        parser.error(f'--tile-size {args.tile_size} is not a multiple of '
                     f'--patch-size {args.patch_size}: the tiles cannot be '
                     'cut into whole non-overlapping patches')
    if args.num_workers < 0:
        parser.error('--num-workers must be >= 0')
    return args


def output_paths(task: Task) -> List[str]:
    """Every file the task writes: k = 1..n, rgb/dem/seg each."""
    n = (task.tile_size // task.patch_size)**2
    return [
        osp.join(task.out_dir, f'{task.stem}_{k}{DST[key]}')
        for k in range(1, n + 1) for key in ('rgb', 'dem', 'seg')
    ]


def _check(img: np.ndarray, path: str, what: str, bands: int, dtype_ok: bool,
           dtype_want: str, size: int) -> None:
    if img.shape[2] != bands:
        raise FileContentError(
            f'{what} file {path} has {img.shape[2]} band(s), expected '
            f'{bands}', path, 'bands')
    if not dtype_ok:
        raise FileContentError(
            f'{what} file {path} holds {img.dtype} data, expected '
            f'{dtype_want}', path, 'dtype')
    if img.shape[:2] != (size, size):
        raise FileContentError(
            f'{what} file {path} is {img.shape[0]}x{img.shape[1]}, expected '
            f'{size}x{size} (--tile-size)', path, 'size')


def read_tile(task: Task) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rgb (H, W, 3 in file byte order for cv2), dem (H, W, 1) float32,
    seg (H, W, 1) uint8 of one tile, all checked."""
    base = osp.join(task.src_dir, task.stem)
    paths = [base + SRC[key] for key in ('rgb', 'dem', 'seg')]
    rgb = read_image(paths[0], 'rgb')
    _check(rgb, paths[0], 'rgb', 3, rgb.dtype == np.uint8, 'uint8',
           task.tile_size)
    dem = read_image(paths[1], 'dem')
    _check(dem, paths[1], 'dem', 1, np.issubdtype(dem.dtype, np.floating),
           'float', task.tile_size)
    seg = read_image(paths[2], 'seg')
    _check(seg, paths[2], 'seg', 1, seg.dtype == np.uint8, 'uint8',
           task.tile_size)
    return rgb, dem.astype(np.float32), seg


def write_atomic(path: str, img: np.ndarray) -> None:
    """Encode by the path's extension; MMEngine's local backend writes it
    atomically (temp file + rename, see ``mmdecur/compat.py``)."""
    ext = osp.splitext(path)[1]
    ok, buf = cv2.imencode(ext, img, _ENCODE_PARAMS.get(ext, []))
    if not ok:
        raise OSError(f'cannot encode {path}')
    fileio.put(buf.tobytes(), path)


def convert_tile(task: Task) -> Outcome:
    """Cut one tile; never raises for bad data (reports it)."""
    rgb_path = osp.join(task.src_dir, task.stem + SRC['rgb'])
    outputs = output_paths(task)
    if all(osp.exists(p) for p in outputs):
        return Outcome(rgb_path, 'skipped')
    try:
        rgb, dem, seg = read_tile(task)
    except DataFileError as e:
        return Outcome(rgb_path, 'bad', str(e))
    os.makedirs(task.out_dir, exist_ok=True)
    p = task.patch_size
    per_row = task.tile_size // p
    it = iter(outputs)
    for row in range(per_row):  # k = row * per_row + col + 1
        for col in range(per_row):
            window = np.s_[row * p:(row + 1) * p, col * p:(col + 1) * p]
            for img in (rgb, dem, seg):
                write_atomic(next(it), np.ascontiguousarray(img[window]))
    return Outcome(rgb_path, 'converted')


def find_tasks(src: str, out: str, tile_size: int,
               patch_size: int) -> List[Task]:
    """One task per ``<city>/<E>_<N>_rgb.jp2`` under ``src``, sorted."""
    if not osp.isdir(src):
        raise SystemExit(f'GeoNRW root not found: {src}')
    tasks = []
    for city in sorted(os.listdir(src)):
        src_dir = osp.join(src, city)
        if not osp.isdir(src_dir):
            continue
        for file in sorted(os.listdir(src_dir)):
            if file.endswith(SRC['rgb']):
                tasks.append(
                    Task(src_dir, osp.join(out, city), file[:-len(SRC['rgb'])],
                         tile_size, patch_size))
    return tasks


def _init_worker() -> None:
    cv2.setNumThreads(1)  # one process per core already


def run(tasks: Sequence[Task], num_workers: int) -> List[Outcome]:
    bar = ProgressBar(len(tasks))
    outcomes = []
    if num_workers == 0:
        for task in tasks:
            outcomes.append(convert_tile(task))
            bar.update()
    else:
        with Pool(num_workers, initializer=_init_worker) as pool:
            for outcome in pool.imap_unordered(convert_tile, tasks):
                outcomes.append(outcome)
                bar.update()
    print()
    return outcomes


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    tasks = find_tasks(args.src, args.out, args.tile_size, args.patch_size)
    if not tasks:
        print(
            f'no *{SRC["rgb"]} tiles under {args.src}/<city>/',
            file=sys.stderr)
        return 1
    n = (args.tile_size // args.patch_size)**2
    print(f'{len(tasks)} tiles -> {n} patches each under {args.out}')
    outcomes = run(tasks, args.num_workers)
    counts = {
        s: sum(o.status == s for o in outcomes)
        for s in ('converted', 'skipped', 'bad')
    }
    print(f"converted {counts['converted']}, skipped {counts['skipped']} "
          f"(already done), bad {counts['bad']}")
    bad = sorted((o for o in outcomes if o.status == 'bad'),
                 key=lambda o: o.tile)
    if bad:
        print(f'{len(bad)} bad tile(s), not converted:', file=sys.stderr)
        for o in bad:
            print(f'  {o.tile}: {o.message}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

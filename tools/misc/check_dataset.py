# Copyright (c) mmdecur contributors. All rights reserved.
"""Check every file of the dataset a config points at, before a long run.

Reads all samples of ``<split>_dataloader.dataset`` with the dataset's own
readers and lists, in one pass, every missing, unreadable or mismatched file
(wrong size, band count or dtype, missing partner modality), with counts per
kind. Exit status 1 if anything is wrong. Files are read with the
pipeline's loading steps only, so data can be checked before its
statistics exist; a pipeline that cannot be built from the config (e.g. a
modality without statistics, or a stats file of another band count) is
listed as a ``[statistics]`` or ``[pipeline]`` problem.

    python tools/misc/check_dataset.py configs/decur/sar_optical_rn50.py \
        --cfg-options train_dataloader.dataset.data_root=/data/ssl4eo-s12
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import json
import sys
import warnings
from collections import Counter

from mmengine.config import DictAction

from mmdecur.apis import load_config
from mmdecur.datasets.band_stats import StatisticsError
from mmdecur.datasets.errors import DataProblem
from mmdecur.registry import DATASETS


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument(
        '--split', default='train', help='which <split>_dataloader to check')
    parser.add_argument(
        '--max-samples', type=int, help='check only the first N samples')
    parser.add_argument('--out', help='also write the problems as JSON')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def check(config, split='train', max_samples=None, cfg_options=None):
    """Problems of ``cfg.<split>_dataloader.dataset`` (list of DataProblem)."""
    cfg = load_config(config, cfg_options)
    loader = cfg.get(f'{split}_dataloader')
    if loader is None:
        raise SystemExit(f'{config} has no {split}_dataloader')
    dataset_cfg = dict(loader['dataset'])
    # Collect listing problems instead of stopping at them.
    dataset_cfg['skip_bad_samples'] = True
    pipeline = list(dataset_cfg.get('pipeline') or [])
    # Reading needs only the steps up to the last loading one (all that the
    # dataset's check_info runs); the rest is built separately below.
    last = max((i for i, t in enumerate(pipeline) if _is_loading(t)),
               default=-1)
    dataset_cfg['pipeline'] = pipeline[:last + 1]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        dataset = DATASETS.build(dataset_cfg)
    if not hasattr(dataset, 'verify'):
        raise SystemExit(f'{type(dataset).__name__} cannot be checked: it '
                         'is not an mmdecur file dataset')
    indices = None if max_samples is None else range(
        min(max_samples, len(dataset)))
    print(f'checking {type(dataset).__name__} at {dataset.data_root} '
          f'({split}, {len(dataset)} readable samples listed)')
    return dataset, pipeline_problems(dataset,
                                      pipeline) + dataset.verify(indices)


def _is_loading(transform) -> bool:
    name = (
        transform.get('type', '')
        if isinstance(transform, dict) else type(transform).__name__)
    return str(name).split('.')[-1].startswith('Load')


def pipeline_problems(dataset, pipeline) -> list:
    """Why the config's full pipeline cannot serve the dataset, if it cannot.

    Args:
        dataset: The dataset (built with its loading steps only).
        pipeline (list): The config's pipeline.

    Returns:
        list[DataProblem]: Empty, or one ``statistics`` / ``pipeline``
        problem.
    """
    from mmdecur.datasets.transforms import build_pipeline
    try:
        built = build_pipeline(pipeline).transforms
        check = getattr(dataset, 'check_pipeline', None)
        if check is not None:
            check(built)
    except StatisticsError as e:
        return [DataProblem(e.path, 'statistics', str(e))]
    except (ValueError, KeyError, TypeError) as e:
        return [DataProblem(None, 'pipeline', f'the pipeline: {e}')]
    return []


def main():
    args = parse_args()
    dataset, problems = check(args.config, args.split, args.max_samples,
                              args.cfg_options)
    for p in problems:
        print(f'[{p.kind}] {p.message}')
    counts = Counter(p.kind for p in problems)
    summary = ', '.join(f'{n} {kind}' for kind, n in counts.most_common())
    print(f'{len(problems)} problem(s)' + (f': {summary}' if summary else ''))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump([p._asdict() for p in problems], f, indent=2)
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()

# Copyright (c) mmdecur contributors. All rights reserved.
"""Check that a DeCUR checkpoint decoupled common and unique information.

Writes ``alignment_hist.png`` (per-dimension cross-modal alignment loss
(1 - C_ii)^2, common vs unique dims, as in the paper's Fig. 5a) and
``decoupling_report.json`` (summary numbers, linear probes when the data has
factor labels, pass/fail checks) into ``--out-dir``.

    python tools/analysis_tools/decoupling_report.py CONFIG CHECKPOINT \
        --out-dir work_dirs/demo_synthetic/report
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import sys

from mmengine.config import DictAction

from mmdecur.analysis import decoupling_report
from mmdecur.apis import build_dataloader_from_cfg, init_model


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument(
        '--split',
        default='val',
        help='which <split>_dataloader of the config to evaluate on')
    parser.add_argument('--max-samples', type=int, default=None)
    parser.add_argument('--batch-size', type=int, default=None)
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='exit with status 1 if a decoupling check fails')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    model = init_model(args.config, args.checkpoint, args.device,
                       args.cfg_options)
    overrides = dict(num_workers=args.num_workers)
    if args.batch_size:
        overrides['batch_size'] = args.batch_size
    loader = build_dataloader_from_cfg(model.cfg, args.split, **overrides)
    report = decoupling_report(
        model, loader, args.out_dir, max_samples=args.max_samples)
    if args.strict and not report['decoupling_worked']:
        sys.exit(1)


if __name__ == '__main__':
    main()

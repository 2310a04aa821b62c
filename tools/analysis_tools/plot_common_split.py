# Copyright (c) mmdecur contributors. All rights reserved.
"""Plot the learned common/unique split of adaptive runs over epochs.

Reads ``<work_dir>/common_split.json`` (written by ``CommonSplitHook`` when
``model.loss.adaptive_split`` is set) of one or more runs and writes a PNG:
Kc / K per epoch for every run (dashed: the true fractions, if given) and
the first run's mask of common dimensions over epochs.

    python tools/analysis_tools/plot_common_split.py \
        work_dirs/adaptive_from25 work_dirs/adaptive_from75 \
        --labels "start 0.25" "start 0.75" --truth 0.5 --out split.png
"""
import argparse
import os.path as osp

from mmdecur.analysis import load_split_history, plot_common_split


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'runs', nargs='+', help='work dirs (or common_split.json files)')
    parser.add_argument('--labels', nargs='+', help='one label per run')
    parser.add_argument(
        '--truth', type=float, nargs='+', help='true common fraction(s)')
    parser.add_argument('--title')
    parser.add_argument('--out', default='common_split.png')
    return parser.parse_args()


def main():
    args = parse_args()
    labels = args.labels or [osp.basename(osp.normpath(r)) for r in args.runs]
    if len(labels) != len(args.runs):
        raise SystemExit(f'{len(args.runs)} runs but {len(labels)} labels')
    histories = {}
    for label, run in zip(labels, args.runs):
        path = osp.join(run, 'common_split.json') if osp.isdir(run) else run
        if not osp.isfile(path):
            raise SystemExit(f'{path} not found: was the run trained with '
                             'model.loss.adaptive_split?')
        histories[label] = load_split_history(path)
    plot_common_split(histories, args.out, truth=args.truth, title=args.title)
    for label, history in histories.items():
        records = history['epochs']
        print(f'{label}: Kc {records[0]["num_common"]} -> '
              f'{records[-1]["num_common"]} of {history["dim"]} '
              f'(epoch {records[0]["epoch"]} -> {records[-1]["epoch"]})')
    print(f'wrote {args.out}')


if __name__ == '__main__':
    main()

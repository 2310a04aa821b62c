# Copyright (c) mmdecur contributors. All rights reserved.
"""Write a tiny dataset in a released layout, for smoke runs and demos.

    python tools/misc/make_tiny_dataset.py cmx data/tiny_nyudv2 \
        --num-classes 40 [--depth uint16]
    python tools/misc/make_tiny_dataset.py geonrw data/tiny_geonrw
    python tools/misc/make_tiny_dataset.py ssl4eo data/tiny_ssl4eo  # +s2a
    python tools/misc/make_tiny_dataset.py bigearthnet data/tiny_bigearthnet

The images are random scenes whose labels follow them (BigEarthNet:
constant bands, random labels; see ``mmdecur/testing/fake_data.py``); they
exercise the real readers, not a benchmark.
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse

from mmdecur.testing import fake_data


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'kind', choices=['cmx', 'geonrw', 'ssl4eo', 'bigearthnet'])
    parser.add_argument('out')
    parser.add_argument('--num-classes', type=int, default=40, help='cmx only')
    parser.add_argument(
        '--depth',
        choices=['uint16', 'uint8'],
        help='cmx only: also write raw depth, Depth/<name>.png')
    parser.add_argument('--num-samples', type=int, default=12)
    parser.add_argument(
        '--modalities',
        nargs='+',
        default=['s1', 's2c', 's2a'],
        choices=['s1', 's2c', 's2a'],
        help='ssl4eo only: modality folders to write')
    args = parser.parse_args()
    if args.kind == 'cmx':
        fake_data.make_cmx_rgbd(
            args.out,
            num_train=args.num_samples - args.num_samples // 3,
            num_test=args.num_samples // 3,
            num_classes=args.num_classes,
            depth=args.depth)
    elif args.kind == 'geonrw':
        fake_data.make_geonrw_patches(
            args.out, city='bonn', num_patches=args.num_samples)
        fake_data.make_geonrw_patches(
            args.out,
            city='herne',
            num_patches=max(2, args.num_samples // 4),
            seed=1)
    elif args.kind == 'bigearthnet':
        fake_data.make_bigearthnet(
            args.out,
            num_train=args.num_samples - args.num_samples // 3,
            num_val=max(1, args.num_samples // 6),
            num_test=max(1, args.num_samples // 3))
    else:
        fake_data.make_ssl4eo(
            args.out,
            patch_ids=[f'{i:07d}' for i in range(args.num_samples)],
            modalities=tuple(args.modalities),
            random_values=True)
    print(f'wrote a tiny {args.kind} dataset to {args.out}')


if __name__ == '__main__':
    main()

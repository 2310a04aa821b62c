# Copyright (c) mmdecur contributors. All rights reserved.
"""t-SNE of the embedding dimensions of both modalities (paper Fig. 1).

Every embedding dimension of each modality is one point, described by its
values over the evaluated samples (centred, unit L2 norm); common and unique
dimensions of the two modalities get their own marker. Writes ``tsne.png``
and ``tsne.csv`` (modality, group, dim, x, y) into ``--out-dir``.

    python tools/analysis_tools/tsne.py CONFIG CHECKPOINT \
        --out-dir work_dirs/analysis --max-samples 1024
"""
import mmdecur  # noqa: F401 isort:skip  (compat patches first)
import argparse
import os
import os.path as osp

from mmengine.config import DictAction

from mmdecur.analysis import (dim_common_of, extract_embeddings, plot_tsne,
                              require_common_split, save_tsne_csv,
                              tsne_of_dimensions)
from mmdecur.apis import build_dataloader_from_cfg, init_model


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint', help='a DeCUR checkpoint')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--split', default='val')
    parser.add_argument('--max-samples', type=int, default=1024)
    parser.add_argument('--batch-size', type=int, default=None)
    parser.add_argument('--perplexity', type=float, default=40.)
    parser.add_argument('--max-iter', type=int, default=2000)
    parser.add_argument(
        '--no-center',
        action='store_true',
        help='do not centre the dimensions before L2 normalisation (as '
        'the official notebook)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-workers', type=int, default=0)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    model = init_model(args.config, args.checkpoint, args.device,
                       args.cfg_options)
    try:
        require_common_split(model)
    except TypeError as e:
        raise SystemExit(f'{args.checkpoint}: {e}')
    overrides = dict(num_workers=args.num_workers)
    if args.batch_size:
        overrides['batch_size'] = args.batch_size
    loader = build_dataloader_from_cfg(model.cfg, args.split, **overrides)
    m1, m2 = model.modalities[:2]
    z = extract_embeddings(
        model, loader, max_samples=args.max_samples)['embeddings']
    dim_common = dim_common_of(model, z[m1].shape[1])
    print(f't-SNE of {2 * z[m1].shape[1]} dimensions over '
          f'{z[m1].shape[0]} samples ...')
    result = tsne_of_dimensions(
        z[m1],
        z[m2],
        dim_common,
        modalities=(m1, m2),
        perplexity=args.perplexity,
        max_iter=args.max_iter,
        center=not args.no_center,
        seed=args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    plot_tsne(
        result,
        osp.join(args.out_dir, 'tsne.png'),
        title=f't-SNE of embedding dimensions ({z[m1].shape[0]} samples)')
    save_tsne_csv(result, osp.join(args.out_dir, 'tsne.csv'))
    print(f'wrote {args.out_dir}/tsne.{{png,csv}}')


if __name__ == '__main__':
    main()

# Copyright (c) mmdecur contributors. All rights reserved.
"""The learned common/unique split over epochs (``common_split.json``)."""
import json
from typing import Dict, Optional, Sequence

import numpy as np

from mmdecur.engine.hooks.common_split_hook import hex_to_mask

__all__ = ['load_split_history', 'split_history_arrays', 'plot_common_split']


def load_split_history(path: str) -> dict:
    """Read the ``common_split.json`` that ``CommonSplitHook`` writes.

    Args:
        path (str): The file (in the run's work dir).

    Returns:
        dict: ``dim`` and ``epochs`` (one record per decision, the first at
        the start of training).
    """
    with open(path) as f:
        history = json.load(f)
    if 'dim' not in history or not history.get('epochs'):
        raise ValueError(f'{path}: not a common-split history (needs "dim" '
                         'and a non-empty "epochs" list)')
    return history


def split_history_arrays(history: dict) -> Dict[str, np.ndarray]:
    """Epochs, Kc per epoch and the mask matrix (epochs x K, True = common).

    Args:
        history (dict): See :func:`load_split_history`.

    Returns:
        dict: ``epochs`` (E,), ``num_common`` (E,), ``masks`` (E, K) bool,
        and the measured common fraction at each decision
        (``measured_epochs``, ``measured_fraction``).
    """
    dim = int(history['dim'])
    records = history['epochs']
    masks = np.zeros((len(records), dim), dtype=bool)
    for row, record in enumerate(records):
        masks[row] = hex_to_mask(record['common_mask_hex'], dim)
    measured = [(r['epoch'], r['common_fraction']) for r in records
                if 'common_fraction' in r]
    return dict(
        epochs=np.array([r['epoch'] for r in records]),
        num_common=np.array([r['num_common'] for r in records]),
        masks=masks,
        measured_epochs=np.array([e for e, _ in measured]),
        measured_fraction=np.array([f for _, f in measured]))


def plot_common_split(histories: Dict[str, dict],
                      out_file: str,
                      truth: Optional[Sequence[float]] = None,
                      title: Optional[str] = None) -> None:
    """Plot Kc / K (and the measured common fraction that drives it) over
    epochs for one or more runs, and the first run's mask (dimensions sorted
    by the epoch they became common).

    Args:
        histories (dict): Run label -> history.
        out_file (str): PNG path.
        truth (Sequence[float], optional): True common fractions, drawn as
            dashed black lines.
        title (str, optional): Figure title.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, (ax, mask_ax) = plt.subplots(
        1, 2, figsize=(11, 4), dpi=120, gridspec_kw=dict(width_ratios=(3, 2)))
    first = None
    for label, history in histories.items():
        arrays = split_history_arrays(history)
        first = first or (label, arrays)
        line, = ax.plot(
            arrays['epochs'],
            arrays['num_common'] / arrays['masks'].shape[1],
            marker='o',
            markersize=3,
            label=f'{label}: $K_c / K$')
        if len(arrays['measured_epochs']):
            ax.plot(
                arrays['measured_epochs'],
                arrays['measured_fraction'],
                linestyle=':',
                color=line.get_color(),
                label=f'{label}: measured common fraction')
    for value in truth or ():
        ax.axhline(value, color='k', linestyle='--', linewidth=1)
    ax.set_xlabel('epoch')
    ax.set_ylabel('common ratio $K_c / K$')
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    # Upper right: the runs settle below 1 and start on the left.
    entries = len(ax.get_legend_handles_labels()[1])
    ax.legend(fontsize=7, loc='upper right', ncol=2 if entries > 4 else 1)

    label, arrays = first
    masks = arrays['masks']
    # Order dimensions: common at the end first, then by when they joined.
    joined = np.where(masks.any(0), masks.argmax(0), masks.shape[0])
    order = np.lexsort((joined, ~masks[-1]))
    mask_ax.imshow(
        masks[:, order].T,
        aspect='auto',
        interpolation='nearest',
        cmap='Greys',
        extent=(arrays['epochs'][0] - 0.5, arrays['epochs'][-1] + 0.5,
                masks.shape[1], 0))
    mask_ax.set_xlabel('epoch')
    mask_ax.set_ylabel('dimension (sorted)')
    mask_ax.set_title(f'{label}: common dims in black', fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)

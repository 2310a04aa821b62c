# Copyright (c) mmdecur contributors. All rights reserved.
"""Analysis of learned representations (library code; tools are thin)."""
from .alignment import (alignment_per_dim, alignment_summary,
                        plot_alignment_histogram)
from .embeddings import extract_embeddings
from .probe import linear_probe
from .report import decoupling_report

__all__ = [
    'alignment_per_dim', 'alignment_summary', 'plot_alignment_histogram',
    'extract_embeddings', 'linear_probe', 'decoupling_report'
]

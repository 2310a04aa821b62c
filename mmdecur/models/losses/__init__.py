# Copyright (c) mmdecur contributors. All rights reserved.
from .correlation import CrossCorrelation, Embedding, bt_terms, standardize
from .decur_loss import DeCURLoss

__all__ = [
    'CrossCorrelation', 'Embedding', 'bt_terms', 'standardize', 'DeCURLoss'
]

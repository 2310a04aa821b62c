# Copyright (c) mmdecur contributors. All rights reserved.
from .barlow_twins_loss import BarlowTwinsLoss
from .common_split import AdaptiveCommonSplit
from .contrastive import NTXentLoss, SymmetricInfoNCELoss
from .correlation import CrossCorrelation, Embedding, bt_terms, standardize
from .decur_loss import DeCURLoss
from .vicreg_loss import VICRegLoss

__all__ = [
    'CrossCorrelation', 'Embedding', 'bt_terms', 'standardize', 'DeCURLoss',
    'AdaptiveCommonSplit', 'BarlowTwinsLoss', 'NTXentLoss',
    'SymmetricInfoNCELoss', 'VICRegLoss'
]

# Copyright (c) mmdecur contributors. All rights reserved.
from .decoupling import DecouplingMetric
from .multilabel_map import MultiLabelMAP, average_precision, multilabel_map

__all__ = [
    'DecouplingMetric', 'MultiLabelMAP', 'average_precision', 'multilabel_map'
]

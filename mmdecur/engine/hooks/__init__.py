# Copyright (c) mmdecur contributors. All rights reserved.
from .common_split_hook import CommonSplitHook
from .deferred_log_hook import DeferredRuntimeInfoHook
from .equal_batch_hook import EqualBatchSizeHook
from .modality_check_hook import ModalityCheckHook
from .random_state_hook import RandomStateHook
from .seg_prediction_writer_hook import SegPredictionWriterHook

__all__ = [
    'CommonSplitHook', 'ModalityCheckHook', 'RandomStateHook',
    'SegPredictionWriterHook', 'DeferredRuntimeInfoHook', 'EqualBatchSizeHook'
]

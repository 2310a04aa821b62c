# Copyright (c) mmdecur contributors. All rights reserved.
from .random_state_hook import RandomStateHook
from .seg_prediction_writer_hook import SegPredictionWriterHook

__all__ = ['RandomStateHook', 'SegPredictionWriterHook']

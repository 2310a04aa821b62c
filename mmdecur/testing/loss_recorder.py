# Copyright (c) mmdecur contributors. All rights reserved.
from mmengine.hooks import Hook


class LossRecorder(Hook):
    """Records the total loss of every training iteration
    (``losses[iteration]``), to compare runs iteration by iteration (e.g. a
    resumed run against an uninterrupted one)."""

    priority = 'VERY_LOW'

    def __init__(self):
        self.losses = {}

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        self.losses[runner.iter] = outputs['loss'].item()

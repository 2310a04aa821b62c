# Copyright (c) mmdecur contributors. All rights reserved.
import os
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np
from mmengine.hooks import Hook

from mmdecur.registry import HOOKS


def palette_for(num_classes: int, palette: Optional[Sequence] = None):
    """(K + 1, 3) uint8 RGB colours; the last row (ignore/void) is black."""
    if palette is not None and len(palette) >= num_classes:
        colours = np.asarray(palette[:num_classes], np.uint8)
    else:  # fixed, well-spread hues
        rng = np.random.RandomState(42)
        colours = rng.randint(40, 256, (num_classes, 3)).astype(np.uint8)
    return np.concatenate([colours, np.zeros((1, 3), np.uint8)])


def colourize(label: np.ndarray, palette: np.ndarray) -> np.ndarray:
    idx = np.where(label < len(palette) - 1, label, len(palette) - 1)
    return palette[idx]


@HOOKS.register_module()
class SegPredictionWriterHook(Hook):
    """Write colour-coded predictions next to their inputs (``--show-dir``).

    For every test sample one PNG ``<out_dir>/<name>.png``: the RGB input,
    the ground truth (if any) and the prediction, side by side, colours from
    ``dataset_meta['palette']`` (or a fixed random palette), void/ignore
    black.

    Args:
        out_dir (str): Output folder.
        max_images (int, optional): Stop after this many. Defaults to None.
    """
    priority = 'LOW'

    def __init__(self, out_dir: str, max_images: Optional[int] = None):
        self.out_dir = out_dir
        self.max_images = max_images
        self._written = 0

    def before_test(self, runner) -> None:
        os.makedirs(self.out_dir, exist_ok=True)
        meta = runner.test_dataloader.dataset.metainfo or {}
        classes = meta.get('classes') or ()
        self._palette = palette_for(max(len(classes), 1), meta.get('palette'))

    def after_test_iter(self,
                        runner,
                        batch_idx,
                        data_batch=None,
                        outputs=None) -> None:
        for sample in outputs or ():
            if self.max_images is not None and \
                    self._written >= self.max_images:
                return
            self._write(sample)

    def _write(self, sample) -> None:
        pred = sample.pred_sem_seg.data[0].cpu().numpy()
        panels = []
        path = sample.metainfo.get('img_path')
        if path:
            img = cv2.imread(path, cv2.IMREAD_COLOR)
            if img is not None:
                panels.append(cv2.resize(img, pred.shape[::-1]))
        if 'gt_sem_seg' in sample:
            gt = sample.gt_sem_seg.data[0].cpu().numpy()
            panels.append(colourize(gt, self._palette)[..., ::-1])
        panels.append(colourize(pred, self._palette)[..., ::-1])
        name = osp.splitext(osp.basename(path or f'{self._written}'))[0]
        cv2.imwrite(
            osp.join(self.out_dir, f'{name}.png'),
            np.concatenate(panels, axis=1))
        self._written += 1

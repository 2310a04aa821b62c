# Copyright (c) mmdecur contributors. All rights reserved.
import json
import os
import os.path as osp
from typing import List, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmdecur.registry import HOOKS

__all__ = ['CommonSplitHook', 'mask_to_hex', 'hex_to_mask']


def mask_to_hex(mask) -> str:
    """A boolean mask as a hex string, dimension 0 in the lowest bit."""
    value = 0
    for i, common in enumerate(mask):
        if common:
            value |= 1 << i
    return format(value, 'x')


def hex_to_mask(text: str, dim: int) -> List[bool]:
    """Inverse of :func:`mask_to_hex`."""
    value = int(text, 16)
    return [bool(value >> i & 1) for i in range(dim)]


@HOOKS.register_module()
class CommonSplitHook(Hook):
    """Make the decisions of an adaptive common/unique split at epoch ends.

    A no-op unless the model's loss has an ``AdaptiveCommonSplit``
    (``model.loss.adaptive_split``), so the default runtime always lists it.
    After every training epoch at which a decision is due it revises the
    split (before ``CheckpointHook`` saves, so the checkpoint holds the new
    split), logs the current Kc and how many dimensions moved, adds
    ``split/*`` scalars to the visualizer and appends a record per epoch to
    ``<work_dir>/common_split.json``. Checkpoints carry the history, so a
    resumed run (in any work dir) continues it from the resumed epoch.
    ``tools/analysis_tools/plot_common_split.py`` draws it.

    Args:
        filename (str): History file in the work dir.
            Defaults to 'common_split.json'.
    """
    # Before RandomStateHook (LOW) and CheckpointHook (VERY_LOW).
    priority = 'NORMAL'

    def __init__(self, filename: str = 'common_split.json') -> None:
        self.filename = filename
        self._records: Optional[list] = None  # from a resumed checkpoint

    @staticmethod
    def _split(runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        loss = getattr(model, 'loss_module', None)
        return getattr(loss, 'split', None)

    def _write(self, runner, split) -> None:
        if not is_main_process():
            return
        path = osp.join(runner.work_dir, self.filename)
        tmp = path + '.tmp'
        with open(tmp, 'w') as f:
            json.dump(dict(dim=split.dim, epochs=self._records), f)
        os.replace(tmp, path)

    @staticmethod
    def _record(split, epoch: int, info: Optional[dict] = None) -> dict:
        record = dict(
            epoch=epoch,
            num_common=split.num_common,
            common_mask_hex=mask_to_hex(split.common_mask.cpu().tolist()))
        if info:
            record.update(
                target=info['target'],
                common_fraction=info['fraction'],
                signal_rank=info['rank'],
                shared_common=info['shared_common'],
                shared_unique=info['shared_unique'],
                moved_to_common=len(info['to_common']),
                moved_to_unique=len(info['to_unique']))
        return record

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._records = checkpoint.get('common_split_history')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        if self._split(runner) is not None and self._records is not None:
            checkpoint['common_split_history'] = list(self._records)

    def before_train(self, runner) -> None:
        split = self._split(runner)
        if split is None:
            return
        # A resumed run continues the history its checkpoint carries.
        records = [
            r for r in (self._records or []) if r['epoch'] <= runner.epoch
        ]
        if not records or records[-1]['epoch'] != runner.epoch:
            records.append(self._record(split, runner.epoch))
        self._records = records
        self._write(runner, split)
        runner.logger.info(
            f'adaptive common split: Kc={split.num_common} of K={split.dim} '
            f'at epoch {runner.epoch}; decisions from epoch '
            f'{split.start_epoch} every {split.interval} epoch(s)')

    def after_train_epoch(self, runner) -> None:
        split = self._split(runner)
        if split is None:
            return
        epoch = runner.epoch + 1  # epochs completed
        if not split.due(epoch):
            return
        info = split.update()
        moved = len(info['to_common']) + len(info['to_unique'])
        runner.logger.info(
            f'common split after epoch {epoch}: Kc {info["num_common_before"]}'
            f' -> {info["num_common"]} of {split.dim} (measured common '
            f'fraction {info["fraction"]:.3f} of a signal rank '
            f'{info["rank"]:.1f}: target {info["target"]:.1f}); {moved} dims '
            f'moved ({len(info["to_common"])} to common, '
            f'{len(info["to_unique"])} to unique); mean shared variance '
            f'common {info["shared_common"]:.3f}, unique '
            f'{info["shared_unique"]:.3f}')
        runner.visualizer.add_scalars(
            {
                'split/num_common': info['num_common'],
                'split/common_ratio': info['num_common'] / split.dim,
                'split/moved': moved,
                'split/target': info['target'],
                'split/measured_fraction': info['fraction'],
                'split/shared_common': info['shared_common'],
                'split/shared_unique': info['shared_unique'],
            },
            step=runner.iter)
        self._records = [r for r in self._records if r['epoch'] < epoch]
        self._records.append(self._record(split, epoch, info))
        self._write(runner, split)

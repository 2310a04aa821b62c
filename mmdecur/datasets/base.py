# Copyright (c) mmdecur contributors. All rights reserved.
"""One bad-input policy for every file-based mmdecur dataset."""
import copy
import warnings
from typing import Iterable, List, Optional, Sequence

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from .errors import (DataFileError, DataProblem, FileContentError,
                     MissingFileError)
from .subsets import label_fraction_indices
from .transforms.multiview import build_pipeline

__all__ = ['MultiModalDataset']

_MAX_LISTED = 20


def summarize(problems: Sequence[DataProblem], header: str) -> str:
    lines = [f'  [{p.kind}] {p.message}' for p in problems[:_MAX_LISTED]]
    if len(problems) > _MAX_LISTED:
        lines.append(f'  ... and {len(problems) - _MAX_LISTED} more (run '
                     'tools/misc/check_dataset.py for the full list)')
    return header + ':\n' + '\n'.join(lines)


class MultiModalDataset(BaseDataset):
    """Base of mmdecur's file datasets: pipelines and bad input.

    Bad input (a missing partner modality, an unreadable file, a band of the
    wrong size...) is either an error that names the file (default) or,
    with ``skip_bad_samples=True``, a warning with a count:

    - problems found while the data list is built (e.g. missing files) drop
      the affected samples;
    - a sample whose files fail while loading is replaced by another random
      sample (MMEngine's refetch), in training only.

    :meth:`verify` reads every sample with the dataset's own readers and
    returns all problems in one pass (``tools/misc/check_dataset.py``).

    Subclasses build their data list in :meth:`load_data_list` and pass it
    through :meth:`checked` together with the problems they found.

    **Label fractions** (``label_fraction``, ``subset_seed``): after the
    data list is built and checked, :meth:`filter_data` keeps a seeded
    random fraction of it via :func:`label_fraction_indices`, in the
    listing's order. The draw is over the samples as LISTED (before bad
    ones are dropped under ``skip_bad_samples``), so the subset does not
    depend on which files are missing, and subsets drawn with one seed are
    nested (1 % ⊂ 10 % ⊂ 100 %). Datasets that select while listing (to
    avoid reading what they drop, e.g. BigEarthNet's labels) set
    ``SUBSET_WHILE_LISTING`` and call :meth:`subset_indices` themselves.

    Args:
        skip_bad_samples (bool): Skip bad samples with a warning instead of
            raising. Defaults to False.
        label_fraction (float): Fraction of the samples to use, in (0, 1].
            Defaults to 1.0.
        subset_seed (int): Seed of the label-fraction subset. Defaults to 0.
        pipeline (Sequence[dict | callable]): Transforms, built in mmdecur's
            registry. Defaults to ().
        **kwargs: :class:`mmengine.dataset.BaseDataset` arguments.
    """

    # True in datasets whose load_data_list applies the label fraction.
    SUBSET_WHILE_LISTING = False

    def __init__(self,
                 *args,
                 skip_bad_samples: bool = False,
                 label_fraction: float = 1.0,
                 subset_seed: int = 0,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if not 0.0 < float(label_fraction) <= 1.0:
            raise ValueError(
                f'label_fraction must be in (0, 1], got {label_fraction}')
        self.skip_bad_samples = skip_bad_samples
        self.label_fraction = float(label_fraction)
        self.subset_seed = int(subset_seed)
        self.problems: List[DataProblem] = []
        self._dropped: List[dict] = []
        # Position in the listing of every sample checked() kept, and the
        # listing's length: the label fraction is drawn over the listing.
        self._listed_positions: Optional[List[int]] = None
        self._num_listed = 0
        self._num_skipped = 0
        super().__init__(
            *args, pipeline=build_pipeline(pipeline).transforms, **kwargs)

    def checked(
        self,
        data_list: List[dict],
        problems: Iterable[DataProblem],
        bad: Iterable[int] = ()) -> List[dict]:
        """Apply the bad-input policy to a freshly built data list.

        Args:
            data_list (list[dict]): All samples, good and bad.
            problems (Iterable[DataProblem]): What is wrong, all of it.
            bad (Iterable[int]): Indices into ``data_list`` of the samples
                the problems affect.

        Returns:
            list[dict]: The data list without the bad samples (when
            skipping); raises if there are problems and not skipping.
        """
        problems = list(problems)
        self.problems = problems
        self._num_listed = len(data_list)
        self._listed_positions = list(range(len(data_list)))
        if not problems:
            return data_list
        bad = set(bad)
        header = (f'{type(self).__name__} at {self.data_root}: '
                  f'{len(problems)} problem(s) affecting {len(bad)} of '
                  f'{len(data_list)} samples')
        if not self.skip_bad_samples:
            error = (
                MissingFileError if all(
                    p.kind == 'missing'
                    for p in problems) else FileContentError)
            raise error(summarize(problems, header))
        warnings.warn(
            summarize(problems, header + '; skipping them '
                      '(skip_bad_samples=True)'),
            stacklevel=2)
        self._dropped = [info for i, info in enumerate(data_list) if i in bad]
        self._listed_positions = [
            i for i in range(len(data_list)) if i not in bad
        ]
        return [info for i, info in enumerate(data_list) if i not in bad]

    def subset_indices(self, num_samples: int) -> np.ndarray:
        """The label-fraction subset of ``num_samples`` listed samples.

        Args:
            num_samples (int): Number of samples listed.

        Returns:
            np.ndarray: Sorted indices (see :func:`label_fraction_indices`).
        """
        return label_fraction_indices(num_samples, self.label_fraction,
                                      self.subset_seed)

    def filter_data(self) -> List[dict]:
        """Keep the label fraction of the checked data list, in order.

        Returns:
            list[dict]: The kept samples.
        """
        data_list = super().filter_data()
        if self.label_fraction == 1.0 or self.SUBSET_WHILE_LISTING:
            return data_list
        positions = self._listed_positions
        num_listed = self._num_listed
        if positions is None or len(positions) != len(data_list):
            # A subclass listed without checked(): draw over what it gave.
            positions = list(range(len(data_list)))
            num_listed = len(data_list)
        keep = set(self.subset_indices(num_listed).tolist())
        return [info for pos, info in zip(positions, data_list) if pos in keep]

    def prepare_data(self, idx: int):
        if not self.skip_bad_samples or self.test_mode:
            return super().prepare_data(idx)
        try:
            return super().prepare_data(idx)
        except DataFileError as e:
            self._num_skipped += 1
            n = self._num_skipped
            if n & (n - 1) == 0:  # 1, 2, 4, 8...: a count, not a flood
                print_log(
                    f'skipped {n} bad sample(s) so far; latest: {e}',
                    logger='current',
                    level=30)
            return None  # BaseDataset draws another sample

    def loading_transforms(self) -> list:
        """The pipeline's leading steps that read files (``Load*``)."""
        steps = []
        for i, t in enumerate(self.pipeline.transforms):
            if type(t).__name__.startswith('Load'):
                steps = self.pipeline.transforms[:i + 1]
        return steps

    def expand_info(self, info: dict) -> dict:
        """A stored data-list record -> the full data info (see
        :meth:`get_data_info`); datasets that store compact records
        override this."""
        return info

    def get_data_info(self, idx: int) -> dict:
        return self.expand_info(super().get_data_info(idx))

    def check_info(self, info: dict) -> List[DataProblem]:
        """Problems of one sample: runs the loading steps on it.

        Datasets whose samples hold more files than one pass reads (e.g.
        several seasons) override this to read all of them.
        """
        results = copy.deepcopy(info)
        try:
            for t in self.loading_transforms():
                results = t(results)
        except DataFileError as e:
            return [e.as_problem()]
        return []

    def check_sample(self, idx: int) -> List[DataProblem]:
        """Problems of sample ``idx`` (see :meth:`check_info`)."""
        return self.check_info(self.get_data_info(idx))

    def verify(self,
               indices: Optional[Iterable[int]] = None,
               progress: bool = True) -> List[DataProblem]:
        """All problems of the dataset: from listing, then per sample.

        Args:
            indices (Iterable[int], optional): Samples to read; all if None.
            progress (bool): Show a progress bar. Defaults to True.

        Returns:
            list[DataProblem]: Every problem found.
        """
        self.full_init()
        indices = range(len(self)) if indices is None else list(indices)
        problems = list(self.problems)
        # Samples dropped while listing may have further problems.
        for raw in self._dropped:
            try:
                problems.extend(
                    self.check_info(self.expand_info(copy.deepcopy(raw))))
            except Exception:  # listing already reported it
                pass
        bar = ProgressBar(len(indices)) if progress else None
        for idx in indices:
            problems.extend(self.check_sample(idx))
            if bar is not None:
                bar.update()
        if bar is not None:
            print()
        # One line per file: listing and reading may both report it.
        seen, unique = set(), []
        for p in problems:
            key = (p.path, p.kind) if p.path else p
            if key not in seen:
                seen.add(key)
                unique.append(p)
        return unique

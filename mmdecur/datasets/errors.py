# Copyright (c) mmdecur contributors. All rights reserved.
"""Errors for bad data files: every one names the file and its problem.

They subclass the built-in exception a caller would expect
(``FileNotFoundError``, ``OSError``, ``ValueError``), and carry ``path`` and
``kind`` so that ``tools/misc/check_dataset.py`` can group them.
"""
from typing import NamedTuple, Optional

__all__ = [
    'DataFileError', 'MissingFileError', 'UnreadableFileError',
    'FileContentError', 'DataProblem'
]


class DataProblem(NamedTuple):
    """One problem with one file (or sample) of a dataset."""
    path: Optional[str]
    kind: str
    message: str


class DataFileError(Exception):
    """Base of the data-file errors.

    Args:
        path (str, optional): The offending file (or sample) path.
        kind (str): Short category, e.g. ``'missing'``, ``'unreadable'``,
            ``'size'``, ``'bands'``, ``'dtype'``, ``'partner'``.
        message (str): Human-readable description; it should name the file.
    """
    default_kind = 'invalid'

    def __init__(self,
                 message: str,
                 path: Optional[str] = None,
                 kind: Optional[str] = None) -> None:
        super().__init__(message)
        self.path = path
        self.kind = kind or self.default_kind

    def as_problem(self) -> DataProblem:
        return DataProblem(self.path, self.kind, str(self))


class MissingFileError(DataFileError, FileNotFoundError):
    default_kind = 'missing'


class UnreadableFileError(DataFileError, OSError):
    default_kind = 'unreadable'


class FileContentError(DataFileError, ValueError):
    """Readable, but not what the dataset needs (size, bands, dtype...)."""
    default_kind = 'content'

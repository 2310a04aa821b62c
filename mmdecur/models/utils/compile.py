# Copyright (c) mmdecur contributors. All rights reserved.
"""``torch.compile`` of single modules, lazily, with an eager fallback."""
import warnings
from typing import Optional, Union

import torch
import torch.nn as nn

__all__ = ['LazyCompiledModule', 'CompileFallbackWarning', 'compile_options']


class CompileFallbackWarning(UserWarning):
    """A module could not be compiled and runs eagerly."""


def compile_options(value: Union[bool, dict, None],
                    name: str = 'compile') -> Optional[dict]:
    """``torch.compile`` keyword arguments from a config switch.

    Args:
        value (bool | dict | None): False/None: no compilation; True:
            ``torch.compile``'s defaults; a dict: its keyword arguments
            (``backend``, ``mode``, ``dynamic``, ``fullgraph``, ``options``).
        name (str): The switch, for the error message.

    Returns:
        dict | None: The keyword arguments, or None for eager.
    """
    if value is None or value is False:
        return None
    if value is True:
        return {}
    if isinstance(value, dict):
        return dict(value)
    raise TypeError(f'{name} must be a bool or a dict of torch.compile '
                    f'arguments, got {value!r}')


class LazyCompiledModule:
    """Call ``module`` through ``torch.compile``, compiled at the first call.

    Not an ``nn.Module``: the compiled wrapper is kept outside the module
    tree, so state-dict keys, ``.to()``, DDP and checkpoints see only the
    original module, whose parameters the compiled code uses in place.

    Where compilation fails — no ``torch.compile`` (PyTorch < 2.0), an
    unknown backend, no C++ compiler for Inductor, an unsupported op — the
    module runs eagerly from then on, after ONE :class:`CompileFallbackWarning`
    that names it and the error. Compilation (and its failure) happens at
    the first call of each new input signature; the failing call is
    repeated eagerly, so it returns the eager result. (A failure in a graph
    after a graph break may follow compiled pieces that already ran once;
    the backbones here compile as one graph.) An error that the eager call
    raises too is the caller's, and is raised without the warning.

    Args:
        module (nn.Module): The module to call.
        name (str): What to call it in the warning (e.g. ``"backbone
            'rgb' (ResNet)"``).
        options (dict, optional): ``torch.compile`` keyword arguments.
    """

    def __init__(self,
                 module: nn.Module,
                 name: str,
                 options: Optional[dict] = None) -> None:
        self.module = module
        self.name = name
        self.options = dict(options or {})
        self._compiled = None
        self.failed: Optional[str] = None  # the error, once it fell back

    def _fall_back(self, error: BaseException) -> None:
        self.failed = f'{type(error).__name__}: {error}'
        first_line = self.failed.strip().splitlines()[0][:500]
        warnings.warn(
            f'torch.compile({self.options or ""}) of {self.name} failed; it '
            f'runs eagerly from now on. Error: {first_line}',
            CompileFallbackWarning,
            stacklevel=3)

    def __call__(self, *args, **kwargs):
        if self.failed is not None:
            return self.module(*args, **kwargs)
        if self._compiled is None:
            compile_fn = getattr(torch, 'compile', None)
            try:
                if compile_fn is None:
                    raise RuntimeError(
                        f'this PyTorch ({torch.__version__}) has no '
                        f'torch.compile')
                self._compiled = compile_fn(self.module, **self.options)
            except Exception as e:  # bad options, no dynamo
                self._fall_back(e)
                return self.module(*args, **kwargs)
        try:
            return self._compiled(*args, **kwargs)
        except Exception as compile_error:
            try:
                out = self.module(*args, **kwargs)
            except Exception:
                raise  # the input's fault, not the compiler's
            self._fall_back(compile_error)
            return out

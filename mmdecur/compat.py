# Copyright (c) mmdecur contributors. All rights reserved.
"""The one place that papers over gaps between our pinned dependencies.

Importing :mod:`mmdecur` applies every patch here once; each is idempotent
and does nothing where the dependency already behaves.

1. **mmcv-lite.** ``mmcv-lite`` ships ``mmcv/ops/*.py`` but not the compiled
   ``mmcv._ext``, and mmseg imports ``mmcv.ops`` unconditionally in
   ``mmseg.utils`` (so ``mmseg.models`` fails to import). When ``mmcv._ext``
   is absent we register a lazy ``mmcv.ops`` package in its place:

   - pure-PyTorch pieces (``point_sample``, ``bilinear_grid_sample``...) are
     served from mmcv's own source files, so they compute exactly what full
     mmcv computes;
   - the compiled ops that mmseg imports unconditionally
     (``sigmoid_focal_loss``) are placeholders that raise a clear error when
     called, never a wrong result;
   - every other name raises ``ModuleNotFoundError``, which the guarded
     imports in mmseg/mmcv/mmengine already handle.

   With full mmcv (compiled ops present) nothing is touched.

2. **Safe checkpoint loading on torch >= 2.6.** ``torch.load`` defaults to
   ``weights_only=True`` there, and mmengine 0.10.7 checkpoints hold a few
   non-tensor globals (the message hub's ``HistoryBuffer`` and its bound
   statistics methods, numpy arrays and scalars). We allow-list exactly those
   with
   :func:`torch.serialization.add_safe_globals`; safe loading stays on, so an
   arbitrary pickle is still refused.

3. **Atomic local writes.** mmengine's ``LocalBackend.put`` writes in place,
   so a job killed while saving leaves a truncated ``epoch_N.pth`` that
   ``--resume`` then picks up. We register a local backend that writes to a
   temporary file in the same folder and renames it over the target.
"""
import importlib
import importlib.machinery
import importlib.util
import os
import os.path as osp
import sys
import tempfile
import types
import warnings

import torch

__all__ = ['apply_patches', 'mmcv_ops_available', 'SAFE_CHECKPOINT_GLOBALS']

# Names that mmseg imports from ``mmcv.ops`` without a guard, mapped to the
# mmcv source file that implements them in pure PyTorch (None: compiled op).
_PURE_TORCH_OPS = {
    'point_sample': 'point_sample',
    'bilinear_grid_sample': 'point_sample',
    'rel_roi_point_to_rel_img_point': 'point_sample',
}
_UNGUARDED_COMPILED_OPS = ('sigmoid_focal_loss', )

_APPLIED = False


def mmcv_ops_available() -> bool:
    """Whether the compiled ``mmcv._ext`` ops (full mmcv) are installed."""
    try:
        return importlib.util.find_spec('mmcv._ext') is not None
    except ModuleNotFoundError:
        return False


def _missing_compiled_op(name):

    def op(*args, **kwargs):
        raise RuntimeError(
            f'mmcv.ops.{name} is a compiled op, and the installed mmcv is '
            'mmcv-lite (no mmcv._ext). Install full mmcv built for your '
            'torch/CUDA (`mim install "mmcv>=2.0.0rc4,<2.2.0"`), or choose a '
            'module that does not need it.')

    op.__name__ = name
    op.__qualname__ = name
    return op


def _install_lite_mmcv_ops():
    """Register a lazy ``mmcv.ops`` package for mmcv-lite installs."""
    if 'mmcv.ops' in sys.modules or mmcv_ops_available():
        return
    spec = importlib.util.find_spec('mmcv')
    if spec is None or not spec.submodule_search_locations:
        return  # no mmcv at all: nothing imports mmcv.ops
    ops_dir = osp.join(list(spec.submodule_search_locations)[0], 'ops')

    ops = types.ModuleType('mmcv.ops', __doc__)
    # A package path lets pure-Python submodules (``mmcv.ops.point_sample``)
    # import from mmcv's own files; compiled ones fail inside their
    # ``ext_loader`` with ModuleNotFoundError, which callers guard against.
    ops.__path__ = [ops_dir]
    ops.__spec__ = importlib.machinery.ModuleSpec(
        'mmcv.ops', None, is_package=True)
    ops.__spec__.submodule_search_locations = [ops_dir]
    ops.__file__ = None
    ops.MMDECUR_LITE_STUB = True

    def __getattr__(name):
        if name.startswith('__'):
            raise AttributeError(name)
        if name in _PURE_TORCH_OPS:
            module = importlib.import_module(
                f'mmcv.ops.{_PURE_TORCH_OPS[name]}')
            value = getattr(module, name)
        elif name in _UNGUARDED_COMPILED_OPS:
            value = _missing_compiled_op(name)
        else:
            raise ModuleNotFoundError(
                f'mmcv.ops.{name} needs the compiled mmcv ops, but mmcv-lite '
                'is installed (see mmdecur/compat.py).')
        setattr(ops, name, value)
        return value

    ops.__getattr__ = __getattr__
    sys.modules['mmcv.ops'] = ops
    # Expected under mmcv-lite and guarded by mmcv itself; not the user's
    # concern unless they use that op, which then raises.
    warnings.filterwarnings(
        'ignore', message='Fail to import ``MultiScaleDeformableAttention``')
    mmcv = sys.modules.get('mmcv')
    if mmcv is not None:
        mmcv.ops = ops


def _safe_checkpoint_globals():
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(t)) for t in np.sctypeDict.values()]
    # `getattr` rebuilds the bound statistics methods (HistoryBuffer.min...)
    # that the message hub stores. The weights-only unpickler still calls
    # nothing that is not allow-listed, so it can only fetch attributes of
    # the objects above, not run code.
    return [
        HistoryBuffer, _reconstruct, scalar, np.ndarray, np.dtype, getattr
    ] + sorted(
        set(dtype_classes), key=lambda c: c.__name__)


SAFE_CHECKPOINT_GLOBALS = ()


def _allow_mmengine_checkpoint_globals():
    global SAFE_CHECKPOINT_GLOBALS
    if not hasattr(torch.serialization, 'add_safe_globals'):
        return  # torch < 2.4 loads everything; nothing to allow-list
    SAFE_CHECKPOINT_GLOBALS = tuple(_safe_checkpoint_globals())
    torch.serialization.add_safe_globals(list(SAFE_CHECKPOINT_GLOBALS))


def _register_atomic_local_backend():
    from mmengine.fileio import LocalBackend, register_backend

    class AtomicLocalBackend(LocalBackend):
        """``LocalBackend`` whose writes are atomic (temp file + rename)."""

        def put(self, obj: bytes, filepath) -> None:
            filepath = str(filepath)
            folder = osp.dirname(osp.abspath(filepath))
            os.makedirs(folder, exist_ok=True)
            fd, tmp_path = tempfile.mkstemp(
                dir=folder,
                prefix=f'.{osp.basename(filepath)}.',
                suffix='.tmp')
            try:
                with os.fdopen(fd, 'wb') as f:
                    f.write(obj)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp_path, filepath)
            except BaseException:
                if osp.exists(tmp_path):
                    os.remove(tmp_path)
                raise

        def put_text(self, obj: str, filepath, encoding='utf-8') -> None:
            self.put(obj.encode(encoding), filepath)

    register_backend('local', AtomicLocalBackend, force=True, prefixes='')


def apply_patches():
    """Apply every compatibility patch once (called on ``import mmdecur``)."""
    global _APPLIED
    if _APPLIED:
        return
    _install_lite_mmcv_ops()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)
        _allow_mmengine_checkpoint_globals()
    _register_atomic_local_backend()
    _APPLIED = True

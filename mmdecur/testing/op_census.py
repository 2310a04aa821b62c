# Copyright (c) mmdecur contributors. All rights reserved.
"""Record which ATen ops run, on which input dtypes (AMP inspection)."""
import collections
from typing import Dict, Iterable, List

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

__all__ = ['OpCensus', 'HEAVY_OPS']

#: Matrix products, convolutions and fused attention: where AMP pays off.
HEAVY_OPS = ('mm', 'addmm', 'bmm', 'baddbmm', 'convolution',
             'convolution_backward', '_convolution', 'cudnn_convolution')
_ATTENTION_PREFIX = '_scaled_dot_product_'
#: Ops that only copy memory: dtype casts and layout copies.
COPY_OPS = ('_to_copy', 'clone', 'copy_', 'contiguous')


def is_heavy(op: str) -> bool:
    return op in HEAVY_OPS or op.startswith(_ATTENTION_PREFIX)


class OpCensus(TorchDispatchMode):
    """A dispatch mode that counts every ATen op by its input dtypes.

    Runs below autocast and autograd, so it sees the ops that really
    execute (forward and backward), with the dtypes autocast gave them, and
    the bytes written by casts and copies::

        with OpCensus() as census:
            with torch.autocast('cuda', dtype=torch.bfloat16):
                loss = model(x).float().square().mean()
            loss.backward()
        census.summary()

    Attributes:
        counts (Counter): ``(op, input dtypes) -> calls``; input dtypes are
            those of the tensor arguments with at least one dimension.
        copy_bytes (Counter): ``(op, output dtype) -> bytes`` for
            :data:`COPY_OPS`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.counts: collections.Counter = collections.Counter()
        self.copy_bytes: collections.Counter = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        op = func.overloadpacket.__name__
        dtypes = tuple(
            str(a.dtype).replace('torch.', '')
            for a in tree_leaves((args, kwargs))
            if isinstance(a, torch.Tensor) and a.dim() > 0)
        self.counts[(op, dtypes)] += 1
        if op in COPY_OPS and isinstance(out, torch.Tensor):
            self.copy_bytes[(op, str(out.dtype).replace('torch.', ''))] += (
                out.numel() * out.element_size())
        return out

    def ops(self, names: Iterable[str]) -> Dict[tuple, int]:
        names = set(names)
        return {k: n for k, n in self.counts.items() if k[0] in names}

    def heavy(self) -> Dict[tuple, int]:
        """Counts of the matrix/convolution/attention ops."""
        return {k: n for k, n in self.counts.items() if is_heavy(k[0])}

    def heavy_not_in(self, dtype: str) -> Dict[tuple, int]:
        """Heavy ops with a floating-point operand that is not ``dtype``.

        For fused attention only the query/key/value (and, backward, the
        output gradient) count: its softmax statistics are float32 by
        design.
        """

        def operands(op, d):
            return d[:4] if op.startswith(_ATTENTION_PREFIX) else d

        return {
            (op, d): n
            for (op, d), n in self.heavy().items() if any(
                t.startswith(('float', 'bfloat')) and t != dtype
                for t in operands(op, d))
        }

    def summary(self) -> List[dict]:
        """Every op, most frequent first, JSON-friendly."""
        rows = [
            dict(op=op, input_dtypes=list(d), calls=n)
            for (op, d), n in self.counts.most_common()
        ]
        for row in rows:
            row['heavy'] = is_heavy(row['op'])
        return rows

    def copy_mib(self) -> Dict[str, float]:
        """MiB written by casts and copies, by op and output dtype."""
        return {
            f'{op} -> {dtype}': b / 2**20
            for (op, dtype), b in sorted(self.copy_bytes.items())
        }

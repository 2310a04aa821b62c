# Copyright (c) mmdecur contributors. All rights reserved.
"""Cross-correlation matrices of batch-normalised embeddings (paper Eq. 1).

One implementation serves DeCUR, Barlow Twins and VICReg.

``C = A^T B / N`` where A, B (N x K) are two embeddings standardised along
the **global** batch (BatchNorm1d(affine=False) semantics: biased variance,
eps 1e-5). All a Barlow-Twins-type loss needs from C is its diagonal and its
squared Frobenius norm (the off-diagonal sum is their difference), and with
N << K both come without forming the K x K matrix::

    diag(C)_i = sum_b A_bi B_bi / N                                 O(NK)
    ||C||_F^2 = tr(B^T A A^T B) / N^2 = <A A^T, B B^T>_F / N^2      O(N^2 K)

For DeCUR at N=256, K=8192 the Gram route is ~32x fewer FLOPs than the
explicit matrices, reuses each embedding's Gram matrix across the terms it
appears in, and under DDP needs an all-gather of N x K embeddings (8 MiB)
instead of all-reducing K x K matrices (256 MiB each). When N >= K the
explicit matrix is cheaper and is used instead; both routes give the same
value.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch import Tensor

from mmdecur.models.utils.distributed import gather_batch

__all__ = ['standardize', 'Embedding', 'CrossCorrelation', 'bt_terms']


def standardize(z: Tensor, eps: float = 1e-5) -> Tensor:
    """Normalise each dimension over the batch like BatchNorm1d(affine=False).

    Args:
        z (Tensor): Embeddings (N, K) of the *whole* batch.
        eps (float): Added to the biased variance. Defaults to 1e-5.

    Returns:
        Tensor: (z - mean) / sqrt(var + eps), shape (N, K).
    """
    mean = z.mean(0)
    var = z.var(0, unbiased=False)
    return (z - mean) * torch.rsqrt(var + eps)


class Embedding:
    """A globally gathered, normalised embedding with cached Gram blocks.

    Args:
        z (Tensor): This rank's embeddings (N_local, K). Half precision is
            promoted to float32; float64 stays float64 (tests).
        boundaries (Sequence[int]): Dimension indices that split K into
            blocks (e.g. ``(Kc,)`` for common/unique). Gram matrices are
            cached per block and summed for unions of blocks.
        eps (float): BatchNorm epsilon. Defaults to 1e-5.
        gather (bool): Gather over ranks first. Defaults to True.
        normalize (str): ``'standardize'`` (BatchNorm without affine, so
            ``CrossCorrelation(a, b)`` is Barlow Twins' C) or
            ``'covariance'`` (centred and scaled by sqrt(N / (N - 1)), so
            ``CrossCorrelation(e, e)`` is the unbiased covariance, as VICReg
            needs) or ``'none'`` (``z`` is already normalised, e.g. a
            column subset of another embedding). Defaults to
            ``'standardize'``.
    """

    def __init__(self,
                 z: Tensor,
                 boundaries: Sequence[int] = (),
                 eps: float = 1e-5,
                 gather: bool = True,
                 normalize: str = 'standardize') -> None:
        if z.dim() != 2:
            raise ValueError(
                f'embeddings must be (N, K), got {tuple(z.shape)}')
        if z.dtype in (torch.float16, torch.bfloat16):
            z = z.float()
        if gather:
            z = gather_batch(z)
        if normalize == 'standardize':
            self.z = standardize(z, eps)
        elif normalize == 'covariance':
            num = z.shape[0]
            self.z = (z - z.mean(0)) * (num / (num - 1))**0.5
        elif normalize == 'none':
            self.z = z
        else:
            raise ValueError("normalize must be 'standardize', "
                             f"'covariance' or 'none', got {normalize!r}")
        self.num_samples, self.dim = self.z.shape
        edges = sorted({0, self.dim, *boundaries})
        if edges[0] < 0 or edges[-1] > self.dim:
            raise ValueError(f'block boundaries {tuple(boundaries)} do not '
                             f'fit an embedding of dimension {self.dim}')
        self._edges = edges
        self._grams: Dict[Tuple[int, int], Tensor] = {}

    def _blocks(self, start: int, stop: int):
        if start not in self._edges or stop not in self._edges:
            return [(start, stop)]  # not aligned: one ad-hoc block
        i, j = self._edges.index(start), self._edges.index(stop)
        return list(zip(self._edges[i:j], self._edges[i + 1:j + 1]))

    def gram(self, dims: slice) -> Tensor:
        """``Z[:, dims] Z[:, dims]^T`` (N x N), summed from cached blocks."""
        start, stop, _ = dims.indices(self.dim)
        total = None
        for block in self._blocks(start, stop):
            if block not in self._grams:
                part = self.z[:, block[0]:block[1]]
                self._grams[block] = part @ part.T
            total = self._grams[block] if total is None else (
                total + self._grams[block])
        return total


class CrossCorrelation:
    """The block ``C[rows, cols]`` of ``C = A^T B / N``, never materialised
    unless that is cheaper.

    Args:
        a (Embedding): Rows of C.
        b (Embedding): Columns of C; same batch as ``a``.
        dims (slice): Which dimensions of ``a`` (and of ``b`` unless
            ``cols`` is given). Defaults to all.
        cols (slice, optional): Which dimensions of ``b``, for a block off
            the diagonal or between embeddings of different widths.
            Defaults to ``dims``.
    """

    def __init__(self,
                 a: Embedding,
                 b: Embedding,
                 dims: slice = slice(None),
                 cols: Optional[slice] = None) -> None:
        if a.num_samples != b.num_samples or (cols is None and a.dim != b.dim):
            raise ValueError('cross-correlation needs embeddings of equal '
                             f'shape, got {tuple(a.z.shape)} and '
                             f'{tuple(b.z.shape)}')
        cols = dims if cols is None else cols
        self.a, self.b, self.dims, self.cols = a, b, dims, cols
        self.num_rows = len(range(*dims.indices(a.dim)))
        self.num_cols = len(range(*cols.indices(b.dim)))
        # ``size``: the side of a square block (diagonal and bt_terms).
        self.size = self.num_rows if self.num_rows == self.num_cols else None
        self.num_samples = a.num_samples

    def block(self,
              dims: slice,
              cols: Optional[slice] = None) -> 'CrossCorrelation':
        return CrossCorrelation(self.a, self.b, dims, cols)

    def diagonal(self) -> Tensor:
        """C_ii of a square block, shape (|dims|,)."""
        if self.size is None:
            raise ValueError('the diagonal needs a square block, got '
                             f'{self.num_rows} x {self.num_cols}')
        return (self.a.z[:, self.dims] * self.b.z[:, self.cols]).sum(0) / (
            self.num_samples)

    def matrix(self) -> Tensor:
        """The explicit |rows| x |cols| matrix (analysis, references)."""
        return self.a.z[:, self.dims].T @ self.b.z[:, self.cols] / (
            self.num_samples)

    def _gram_route(self) -> bool:
        return self.num_samples < min(self.num_rows, self.num_cols)

    def squared_norm(self) -> Tensor:
        """||C[rows, cols]||_F^2."""
        if self._gram_route():
            gram_product = self.a.gram(self.dims) * self.b.gram(self.cols)
            return gram_product.sum() / self.num_samples**2
        return self.matrix().pow(2).sum()

    def row_norms(self) -> Tensor:
        """``sum_j C_ij^2`` for every row ``i`` (shape (|rows|,)).

        With ``b`` decorrelated (its own correlation matrix close to I),
        this is the fraction of the variance of dimension ``i`` of ``a``
        that ``b``'s dimensions explain linearly.
        """
        if self._gram_route():
            rows = self.a.z[:, self.dims]
            return (rows * (self.b.gram(self.cols) @ rows)).sum(0) / (
                self.num_samples**2)
        return self.matrix().pow(2).sum(1)

    def transpose(self) -> 'CrossCorrelation':
        """``C[rows, cols]^T``, the block of ``B^T A / N``."""
        return CrossCorrelation(self.b, self.a, self.cols, self.dims)


def bt_terms(c: CrossCorrelation,
             target: float) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """Barlow Twins' two sums for one correlation block.

    Args:
        c (CrossCorrelation): The block.
        target (float): Target of the diagonal (1: invariance, 0:
            decorrelation).

    Returns:
        tuple: ``sum_i (C_ii - target)^2`` and ``sum_{i != j} C_ij^2``;
        ``(None, None)`` for an empty block.
    """
    if c.size is None:
        raise ValueError('bt_terms needs a square block, got '
                         f'{c.num_rows} x {c.num_cols}')
    if c.size == 0:
        return None, None
    diag = c.diagonal()
    on_diag = (diag - target).pow(2).sum()
    off_diag = c.squared_norm() - diag.pow(2).sum()
    return on_diag, off_diag

"""Kernel products streamed through the engine, in row blocks so progress can be shown."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .. import ops
from .._validation import is_dask
from ..kernels._base import Kernel

#: Progress callback: ``progress(done, total)`` in units of rows of the kernel matrix.
Progress = Callable[[int, int], None]

#: Row blocks used when a progress callback is given (each block is one engine call,
#: so there is no repeated kernel evaluation; only the per-call overhead grows).
PROGRESS_BLOCKS = 8
#: Below this many (row, column, right-hand side) triples one engine call is made and the
#: progress callback only reports completion: blocks would cost more than they show.
PROGRESS_MIN_WORK = 2e9


def kernel_product(kernel: Kernel, X: np.ndarray, Y: np.ndarray, V: np.ndarray,
                   progress: Progress | None = None) -> np.ndarray:
    """``K(X, Y) @ V`` for V of shape (m, k), as float64, never forming K."""
    n = X.shape[0]
    if is_dask(X):  # one distributed pass (a task per row chunk), gathered here
        out = np.asarray(ops.matvec(kernel, X, Y, V).compute(), dtype=np.float64)
        if progress is not None:
            progress(n, n)
        return out
    if progress is None or n * Y.shape[0] * V.shape[1] < PROGRESS_MIN_WORK:
        out = np.asarray(ops.matvec(kernel, X, Y, V), dtype=np.float64)
        if progress is not None:
            progress(n, n)
        return out
    out = np.empty((n, V.shape[1]), dtype=np.float64)
    step = max(1, -(-n // PROGRESS_BLOCKS))
    progress(0, n)
    for i0 in range(0, n, step):
        i1 = min(n, i0 + step)
        out[i0:i1] = ops.matvec(kernel, X[i0:i1], Y, V)
        progress(i1, n)
    return out


def kernel_diagonal_sum(kernel: Kernel, Z: np.ndarray, weights: np.ndarray) -> float:
    """``sum_i w_i k(z_i, z_i)``."""
    if is_dask(Z):
        from ._dask import dask_diag

        return float(np.dot(dask_diag(kernel, Z), weights))
    return float(np.dot(np.asarray(kernel.diag(Z), dtype=np.float64), weights))

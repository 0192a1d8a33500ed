"""Compiled dense Gram fill: K(X, Y) written row block by row block into a given array.

The engine (:mod:`kernelkit.ops`) reduces kernel matrices without storing them; the exact
regression solvers need the matrix itself, and the approximations (:mod:`kernelkit.approx`)
need blocks of it (subsample blocks, rows against Nyström centres or dictionaries). This
module reuses the engine's compiled row kernels (distances and profiles of
:mod:`kernelkit.ops.backends._jit`, imported, not changed) to evaluate rows of K in float64
and store them, rounded once, into an output array of any float dtype — so a float32 K is
the correctly rounded float64 one. Row blocks run on the engine's worker threads (the
compiled code releases the GIL).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

from .._config import effective_n_jobs
from ..kernels._base import Kernel
from . import _parallel
from .backends import _jit, numba_backend

__all__ = ["compiled_gram", "gram_supported"]

#: Rows of K per worker task.
TASK_ROWS = 256
#: Columns per compiled tile (a row of it and the slice of Y stay in L1/L2 cache).
TILE_COLS = 512


@njit(nogil=True, cache=True, fastmath=_jit._FM, error_model="numpy")
def _gram_rows(Xs, Yt, i0, i1, lower, dot, code, p, scale, tile_m, out):  # pragma: no cover
    """out[i - i0, j] = scale * f(x_i, y_j) for rows i in [i0, i1), all j (j <= i if lower).

    Column tiles of ``tile_m`` keep the slice of Yt and the row buffer in cache.
    """
    m = Yt.shape[1]
    buf = np.empty(tile_m, dtype=Xs.dtype)
    stop = min(i1, m) if lower else m
    for j0 in range(0, stop, tile_m):
        for i in range(i0, i1):
            w = min(tile_m, m - j0)
            if lower:
                w = min(w, i + 1 - j0)
                if w <= 0:
                    continue
            _jit._fill_direct(Xs, Yt, i, j0, w, dot, buf)
            _jit._profile(buf, w, code, p)
            row = out[i - i0, j0:]
            for j in range(w):
                row[j] = buf[j] * scale


def gram_supported(kernel: Kernel) -> bool:
    """Whether :func:`compiled_gram` can evaluate this kernel (a compiled profile)."""
    spec = kernel._fused()
    return spec is not None and numba_backend.supports(spec) and not spec.normalize


def compiled_gram(kernel: Kernel, X: np.ndarray, Y: np.ndarray | None, out: np.ndarray, *,
                  lower: bool = False) -> np.ndarray:
    """Write K(X, Y) (float64 arithmetic) into the C-contiguous ``out``.

    Parameters
    ----------
    kernel : Kernel
        Must satisfy :func:`gram_supported`.
    X : ndarray of shape (n, d)
    Y : ndarray of shape (m, d) or None
        None means X.
    out : ndarray of shape (n, m), C-contiguous, float32 or float64
    lower : bool, default=False
        Fill only the lower triangle (j <= i); the rest of ``out`` is left untouched.

    Returns
    -------
    out : ndarray of shape (n, m)
    """
    spec: Any = kernel._fused()
    Yv = X if Y is None else Y
    Xf = np.asarray(X, dtype=np.float64)
    Yf = np.asarray(Yv, dtype=np.float64)
    inv = np.asarray(spec.inv_bandwidth, dtype=np.float64)
    dot = spec.kind == "dot"
    if dot:
        Xs = np.ascontiguousarray(Xf * inv)
        Ys = Xs if Y is None else np.ascontiguousarray(Yf * inv)
    else:  # centring leaves distances unchanged and keeps the differences small
        centre = Yf.mean(axis=0)
        Xs = np.ascontiguousarray((Xf - centre) * inv)
        Ys = Xs if Y is None else np.ascontiguousarray((Yf - centre) * inv)
    Yt = np.ascontiguousarray(Ys.T)
    code = numba_backend.PROFILES[spec.profile][0]
    p = numba_backend._profile_constants(spec, np.dtype(np.float64))
    n = Xs.shape[0]
    scale = float(spec.scale)

    def task(block: tuple[int, int]) -> None:
        i0, i1 = block
        _gram_rows(Xs, Yt, i0, i1, lower, dot, code, p, scale, TILE_COLS, out[i0:i1])

    blocks = [(i0, min(n, i0 + TASK_ROWS)) for i0 in range(0, n, TASK_ROWS)]
    if lower:  # row i costs i + 1 entries: hand out the expensive blocks first
        blocks.reverse()
    _parallel.run_tasks(task, blocks, effective_n_jobs(), uses_blas=False)
    return out

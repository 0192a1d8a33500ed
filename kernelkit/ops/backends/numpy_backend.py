"""The reference backend: plain numpy over tiles, for every kernel.

It evaluates ``kernel._tile`` on (rows x columns) tiles in float64 whatever the input
dtype, so it is the accurate baseline the compiled backend is tested against, and the
path for kernels without a compiled profile (sums, products, periodic, user kernels).
Row blocks run on worker threads (numpy releases the GIL in BLAS and ufuncs).
"""

from __future__ import annotations

import numpy as np

from ...kernels._base import Kernel
from .. import _parallel
from ..plan import make_plan

__all__ = ["matvec", "logsumexp", "knn"]

# A float64 tile costs a few temporaries of its size inside kernel formulas.
_TEMPORARIES = 4


def _plan(n: int, m: int, d: int):
    return make_plan(n, m, d, 8 * _TEMPORARIES, needs_tile=True, direct_ok=False)


def _tiles(n: int, m: int, plan, i0: int, i1: int):
    for r0 in range(i0, i1, plan.tile_rows):
        r1 = min(i1, r0 + plan.tile_rows)
        for j0 in range(0, m, plan.tile_cols):
            yield r0, r1, j0, min(m, j0 + plan.tile_cols)


def _blocks(n: int, step: int):
    return [(i0, min(n, i0 + step)) for i0 in range(0, n, step)]


def matvec(kernel: Kernel, X: np.ndarray, Y: np.ndarray, V: np.ndarray) -> np.ndarray:
    """K(X, Y) @ V with V of shape (m, k); float64 result of shape (n, k)."""
    n, d = X.shape
    m, k = V.shape
    X64, Y64, V64 = (np.asarray(A, dtype=np.float64) for A in (X, Y, V))
    plan = _plan(n, m, d)
    acc = np.zeros((n, k))

    def task(block):
        for r0, r1, j0, j1 in _tiles(n, m, plan, *block):
            acc[r0:r1] += kernel._tile(X64[r0:r1], Y64[j0:j1], np) @ V64[j0:j1]

    _parallel.run_tasks(task, _blocks(n, plan.rows_per_task), plan.n_workers, uses_blas=True)
    return acc


def logsumexp(kernel: Kernel, X: np.ndarray, Y: np.ndarray,
              log_weights: np.ndarray | None) -> np.ndarray:
    """log sum_j w_j k(x_i, y_j) by a streaming, max-shifted sum; float64 (n,)."""
    n, d = X.shape
    m = Y.shape[0]
    X64, Y64 = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    lw = None if log_weights is None else np.asarray(log_weights, dtype=np.float64)
    plan = _plan(n, m, d)
    mx = np.full(n, -np.inf)
    sm = np.zeros(n)

    def task(block):
        for r0, r1, j0, j1 in _tiles(n, m, plan, *block):
            L = kernel._log_tile(X64[r0:r1], Y64[j0:j1], np)
            if lw is not None:
                L = L + lw[j0:j1]
            tmax = L.max(axis=1)
            new = np.maximum(mx[r0:r1], tmax)
            finite = new > -np.inf
            safe = np.where(finite, new, 0.0)
            with np.errstate(invalid="ignore"):
                part = np.exp(L - safe[:, None]).sum(axis=1)
                old = sm[r0:r1] * np.exp(mx[r0:r1] - safe)
            sm[r0:r1] = np.where(finite, np.nan_to_num(old) + part, 0.0)
            mx[r0:r1] = new

    _parallel.run_tasks(task, _blocks(n, plan.rows_per_task), plan.n_workers, uses_blas=True)
    with np.errstate(divide="ignore"):
        out = mx + np.log(sm)
    out[mx == -np.inf] = -np.inf
    return out


def knn(X: np.ndarray, Y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """k smallest squared Euclidean distances per row (float64) and their indices."""
    n, d = X.shape
    m = Y.shape[0]
    X64, Y64 = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
    centre = Y64.mean(axis=0)
    X64, Y64 = X64 - centre, Y64 - centre
    yn = (Y64 * Y64).sum(axis=1)
    plan = _plan(n, m, d)
    best_d = np.full((n, k), np.inf)
    best_i = np.full((n, k), -1, dtype=np.int64)

    def task(block):
        for r0, r1, j0, j1 in _tiles(n, m, plan, *block):
            xb = X64[r0:r1]
            D = np.maximum((xb * xb).sum(axis=1)[:, None] + yn[j0:j1] - 2.0 * xb @ Y64[j0:j1].T,
                           0.0)
            cand_d = np.concatenate([best_d[r0:r1], D], axis=1)
            cand_i = np.concatenate(
                [best_i[r0:r1], np.broadcast_to(np.arange(j0, j1), D.shape)], axis=1)
            # Stable sort by distance keeps earlier (lower) indices first on ties.
            order = np.argsort(cand_d, axis=1, kind="stable")[:, :k]
            best_d[r0:r1] = np.take_along_axis(cand_d, order, axis=1)
            best_i[r0:r1] = np.take_along_axis(cand_i, order, axis=1)

    _parallel.run_tasks(task, _blocks(n, plan.rows_per_task), plan.n_workers, uses_blas=True)
    return best_d, best_i

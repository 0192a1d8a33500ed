"""Blocked numpy implementations of the Gaussian reductions: the baseline peer.

This is what a careful numpy user writes without kernelkit: tiles of ``ROWS`` rows of X
against column blocks of Y, the squared distances of a tile from one BLAS product
(``|x|^2 + |y|^2 - 2 x.y``, on data centred on Y's mean), ``np.exp`` of the whole tile,
then ``tile @ V``. numpy keeps its own BLAS threads. Computation runs in the input dtype.
``kernelkit bench`` and ``benchmarks/run.py`` time kernelkit against it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["ROWS", "matvec", "logsumexp", "knn"]

#: Rows of X per tile.
ROWS = 1024
#: Values per tile (rows x column block), 16 Mi: 64 MiB in float32.
TILE_VALUES = 1 << 24


def _prepare(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                      np.ndarray]:
    centre = Y.mean(axis=0, dtype=np.float64).astype(Y.dtype)
    Xc, Yc = X - centre, Y - centre
    return Xc, Yc, np.einsum("ij,ij->i", Xc, Xc), np.einsum("ij,ij->i", Yc, Yc)


def _neg_sq_tiles(X: np.ndarray, Y: np.ndarray,
                  ) -> Iterator[tuple[int, int, int, int, np.ndarray]]:
    """Yield (i0, i1, j0, j1, T) with T = -||x_i - y_j||^2 for one tile (in place ops)."""
    Xc, Yc, xn, yn = _prepare(X, Y)
    n, m = X.shape[0], Y.shape[0]
    cols = max(1, min(m, TILE_VALUES // ROWS))
    buf = np.empty(min(n, ROWS) * cols, dtype=X.dtype)
    for i0 in range(0, n, ROWS):
        i1 = min(n, i0 + ROWS)
        for j0 in range(0, m, cols):
            j1 = min(m, j0 + cols)
            T = buf[: (i1 - i0) * (j1 - j0)].reshape(i1 - i0, j1 - j0)
            np.matmul(Xc[i0:i1], Yc[j0:j1].T, out=T)
            T *= 2
            T -= xn[i0:i1, None]
            T -= yn[None, j0:j1]
            np.minimum(T, 0, out=T)
            yield i0, i1, j0, j1, T


def matvec(X: np.ndarray, Y: np.ndarray, V: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian ``K(X, Y) @ V`` with K = exp(-|x - y|^2 / (2 h^2)).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    Y : ndarray of shape (m, d)
    V : ndarray of shape (m,) or (m, k)
    bandwidth : float

    Returns
    -------
    out : ndarray of shape (n,) or (n, k), dtype of X
    """
    V2 = V.reshape(V.shape[0], -1)
    out = np.zeros((X.shape[0], V2.shape[1]), dtype=X.dtype)
    scale = X.dtype.type(0.5 / bandwidth**2)
    for i0, i1, j0, j1, T in _neg_sq_tiles(X, Y):
        T *= scale
        np.exp(T, out=T)
        out[i0:i1] += T @ V2[j0:j1]
    return out.reshape(X.shape[0], *V.shape[1:])


def logsumexp(X: np.ndarray, Y: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian ``log sum_j exp(-|x_i - y_j|^2 / (2 h^2))``, max-shifted per tile.

    Returns
    -------
    out : ndarray of shape (n,), dtype of X
    """
    n = X.shape[0]
    mx = np.full(n, -np.inf, dtype=X.dtype)
    sm = np.zeros(n, dtype=X.dtype)
    scale = X.dtype.type(0.5 / bandwidth**2)
    for i0, i1, _, _, T in _neg_sq_tiles(X, Y):
        T *= scale
        tmax = T.max(axis=1)
        new = np.maximum(mx[i0:i1], tmax)
        T -= new[:, None]
        np.exp(T, out=T)
        sm[i0:i1] = sm[i0:i1] * np.exp(mx[i0:i1] - new) + T.sum(axis=1)
        mx[i0:i1] = new
    return mx + np.log(sm)


def knn(X: np.ndarray, Y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest rows of Y for each row of X: ``argpartition`` per tile, then merge.

    Returns
    -------
    distances : ndarray of shape (n, k), dtype of X, ascending
    indices : ndarray of shape (n, k), int64
    """
    n = X.shape[0]
    best_d = np.full((n, k), np.inf, dtype=X.dtype)
    best_i = np.zeros((n, k), dtype=np.int64)
    for i0, i1, j0, j1, T in _neg_sq_tiles(X, Y):
        kk = min(k, j1 - j0)
        part = np.argpartition(T, T.shape[1] - kk, axis=1)[:, T.shape[1] - kk:]
        cand_d = np.concatenate([best_d[i0:i1], -np.take_along_axis(T, part, axis=1)], axis=1)
        cand_i = np.concatenate([best_i[i0:i1], part + j0], axis=1)
        keep = np.argpartition(cand_d, k - 1, axis=1)[:, :k]
        best_d[i0:i1] = np.take_along_axis(cand_d, keep, axis=1)
        best_i[i0:i1] = np.take_along_axis(cand_i, keep, axis=1)
    order = np.argsort(best_d, axis=1)
    dist = np.sqrt(np.take_along_axis(best_d, order, axis=1))
    return dist, np.take_along_axis(best_i, order, axis=1)

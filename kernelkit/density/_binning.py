"""Linear binning of weighted points onto a regular grid (compiled, one pass).

Each point spreads its weight over the 2^d corners of the grid cell that contains it,
with the multilinear (tent) weights: the binned counts keep the total weight and the
mean exactly, and the binning error of a smooth KDE is O(dx^2 / h^2).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def _bin(P, w, shape, out):  # pragma: no cover - compiled
    n, d = P.shape
    strides = np.ones(d, dtype=np.int64)
    for k in range(d - 2, -1, -1):
        strides[k] = strides[k + 1] * shape[k + 1]
    base = np.empty(d, dtype=np.int64)
    frac = np.empty(d)
    for i in range(n):
        for k in range(d):
            p = P[i, k]
            b = np.int64(np.floor(p))
            if b >= shape[k] - 1:
                b = shape[k] - 2
            if b < 0:
                b = 0
            base[k] = b
            frac[k] = p - b
        wi = w[i]
        for corner in range(1 << d):
            idx = 0
            val = wi
            for k in range(d):
                if (corner >> k) & 1:
                    idx += (base[k] + 1) * strides[k]
                    val *= frac[k]
                else:
                    idx += base[k] * strides[k]
                    val *= 1.0 - frac[k]
            out[idx] += val


@njit(cache=True, nogil=True)
def _bin1(x, lo, inv, size, w, use_w, out):  # pragma: no cover - compiled
    last = size - 2
    for i in range(x.shape[0]):
        p = (x[i] - lo) * inv
        b = min(max(np.int64(p), 0), last)
        f = p - b
        wi = w[i] if use_w else 1.0
        out[b] += wi - wi * f
        out[b + 1] += wi * f


@njit(cache=True, nogil=True)
def _bin2(X, lo0, lo1, inv0, inv1, size0, size1, w, use_w, out):  # pragma: no cover
    last0, last1 = size0 - 2, size1 - 2
    for i in range(X.shape[0]):
        p = (X[i, 0] - lo0) * inv0
        q = (X[i, 1] - lo1) * inv1
        b = min(max(np.int64(p), 0), last0)
        c = min(max(np.int64(q), 0), last1)
        f = p - b
        g = q - c
        wi = w[i] if use_w else 1.0
        k = b * size1 + c
        wf = wi * f
        w0 = wi - wf
        out[k] += w0 - w0 * g
        out[k + 1] += w0 * g
        out[k + size1] += wf - wf * g
        out[k + size1 + 1] += wf * g


def linear_binning(X: np.ndarray, axes: list[np.ndarray],
                   weights: np.ndarray | None = None) -> np.ndarray:
    """Bin the rows of X onto the grid ``axes`` (equally spaced, covering all of X).

    Parameters
    ----------
    X : ndarray of shape (n, d)
    axes : list of d ndarrays
        Equally spaced, increasing grid coordinates per dimension (at least 2 each).
    weights : ndarray of shape (n,), default=None

    Returns
    -------
    counts : ndarray of shape tuple(len(a) for a in axes), float64
        Sums to the total weight.
    """
    shape = np.array([len(a) for a in axes], dtype=np.int64)
    lo = np.array([a[0] for a in axes])
    step = np.array([(a[-1] - a[0]) / (len(a) - 1) for a in axes])
    d = X.shape[1]
    if d <= 2:  # specialised loops: no scaled copy of X, no weight array
        Xc = np.ascontiguousarray(X, dtype=np.float64)
        use_w = weights is not None
        w1 = np.ascontiguousarray(weights, np.float64) if use_w else np.zeros(1)
        flat = np.zeros(int(np.prod(shape)))
        if d == 1:
            _bin1(Xc[:, 0], float(lo[0]), 1.0 / float(step[0]), int(shape[0]), w1, use_w,
                  flat)
        else:
            _bin2(Xc, float(lo[0]), float(lo[1]), 1.0 / float(step[0]), 1.0 / float(step[1]),
                  int(shape[0]), int(shape[1]), w1, use_w, flat)
        return flat.reshape(tuple(shape))
    P = np.ascontiguousarray((X.astype(np.float64, copy=False) - lo) / step)
    w = np.ones(X.shape[0]) if weights is None else np.ascontiguousarray(weights, np.float64)
    out = np.zeros(int(np.prod(shape)))
    _bin(P, w, shape, out)
    return out.reshape(tuple(shape))

"""Exact kernel sums with provably negligible far-field pruning.

``log_kernel_sums`` returns ``L_i = log sum_j w_j f(||q_i - x_j||)`` (inputs already
divided by the bandwidth) through the engine (``kernelkit.logsumexp`` for positive kernels,
``kernelkit.kernel_sum`` for compactly supported ones), never forming the n × m matrix.

Pruning (the proof)
-------------------
Queries are split into compact blocks. For a block with bounding box B (taken in a few
orthonormal projection coordinates P, so ``||P(q) - P(x)|| <= ||q - x||``), every point x
whose projection lies at box distance ``>= R`` from B is at distance ``>= R`` from every
query of the block. For a kernel profile f that is non-increasing in r, the pruned part of
the sum of query i is then bounded by

    S_pruned,i <= W_pruned * f(R),      W_pruned = sum of the pruned weights.

With ``S_i = S_kept,i + S_pruned,i`` and ``S_pruned,i <= eps * S_kept,i``,

    0 <= log S_i - log S_kept,i = log(1 + S_pruned,i / S_kept,i) <= eps,

so the log-sum is changed by at most ``eps`` (absolutely), and the sum by a relative
``e^eps - 1 <= 1.0000001 eps``. The condition is checked *after* the kept sum is known,
for every query; queries that fail it are recomputed against all points. With
``rtol=0``, ``eps = EXACT_EPS[dtype]``: a tenth of the accuracy the engine itself promises
for ``logsumexp`` (``kernelkit.testing._tolerances.REDUCTION_RTOL``: 1e-12 in float64,
1e-5 in float32), so pruning never dominates the rounding error of an unpruned
evaluation; that is how ``rtol=0`` stays exact. With ``rtol > 0``, ``eps = rtol / 2``.
For compactly supported kernels (f = 0 for r >= 1) R = 1 prunes exactly zero terms.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from ._kernels import DensityKernel

__all__ = ["log_kernel_sums", "prepare_points", "PreparedPoints", "can_prune", "EXACT_EPS"]

#: Largest relative size of the pruned part at rtol=0, per working dtype: a tenth of the
#: engine's own logsumexp accuracy (REDUCTION_RTOL), so pruning is below its rounding.
EXACT_EPS = {"float32": 1e-6, "float64": 1e-13}
#: Queries per pruning block.
BLOCK = 128
#: Pruning pays off only when at least this many points are fitted.
MIN_POINTS = 4096
#: Points of the random subsample used to guess each block's radius.
PILOT = 2048
#: Projection coordinates used for boxes (the cell index uses the first two).
MAX_PROJ = 2
#: Cell side of the index, in bandwidths, and the most cells per dimension.
CELL = 0.5
MAX_CELLS = 512
#: Prune only when it skips more than this fraction of the pairs (gathering the kept
#: points block by block costs more than the skipped work otherwise).
MAX_WORK_FRACTION = 0.8


def _reduce(dk: DensityKernel, Q: np.ndarray, X: np.ndarray,
            w: np.ndarray | None) -> np.ndarray:
    """log sum_j w_j k(q_i, x_j) for unit bandwidth, through the engine (float64)."""
    kernel = dk.with_bandwidth(1.0)
    if dk.positive:
        return np.asarray(ops.logsumexp(kernel, Q, X, w), dtype=np.float64)
    sums = np.asarray(ops.kernel_sum(kernel, Q, X, w), dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(sums, 0.0))


def _blocks(P: np.ndarray, size: int) -> list[np.ndarray]:
    """Indices of P split by recursive median cuts along the widest coordinate."""
    out: list[np.ndarray] = []
    stack = [np.arange(P.shape[0])]
    while stack:
        idx = stack.pop()
        if idx.size <= size:
            out.append(idx)
            continue
        pts = P[idx]
        axis = int(np.argmax(pts.max(axis=0) - pts.min(axis=0)))
        half = idx.size // 2
        order = np.argpartition(pts[:, axis], half)
        stack.append(idx[order[:half]])
        stack.append(idx[order[half:]])
    return out


def _projection(X: np.ndarray) -> np.ndarray:
    """Orthonormal (d, p) basis of the top principal directions of X (p <= MAX_PROJ)."""
    d = X.shape[1]
    if d <= MAX_PROJ:
        return np.eye(d)
    Xc = X - X.mean(axis=0)
    _, _, vt = np.linalg.svd(Xc[:: max(1, X.shape[0] // 20000)], full_matrices=False)
    return np.ascontiguousarray(vt[:MAX_PROJ].T)


class _CellIndex:
    """Fitted points bucketed in a regular grid of cells over projected coordinates.

    Points are stored sorted by cell (row-major), so the cells of one grid row that lie
    within a distance of a box form one contiguous slice.
    """

    def __init__(self, PX: np.ndarray, X: np.ndarray, w: np.ndarray | None,
                 cell: float) -> None:
        self.lo = PX.min(axis=0)
        span = PX.max(axis=0) - self.lo
        self.cell = np.maximum(cell, span / MAX_CELLS)
        pos = np.minimum(((PX - self.lo) / self.cell).astype(np.int64),
                         (span / self.cell).astype(np.int64))
        self.shape = tuple(int(s) for s in pos.max(axis=0) + 1)
        key = np.ravel_multi_index(tuple(pos.T), self.shape)
        order = np.argsort(key, kind="stable")
        counts = np.bincount(key, minlength=int(np.prod(self.shape)))
        self.starts = np.concatenate([[0], np.cumsum(counts)])
        self.X = X[order]
        self.w = None if w is None else w[order]
        self.cw = np.concatenate([[0.0], np.cumsum(np.ones(X.shape[0]) if w is None
                                                  else w[order].astype(np.float64))])

    def select(self, lo: np.ndarray, hi: np.ndarray, R: float,
               ) -> tuple[list[tuple[int, int]], int, float]:
        """Slices (of the cell-sorted points) of every cell within distance < R of the box
        [lo, hi], their number of points, and the total weight of the other points (all
        at distance >= R from every point of the box)."""
        c_lo, c_hi = self.lo, self.cell

        def gaps(k: int) -> np.ndarray:
            edges = c_lo[k] + c_hi[k] * np.arange(self.shape[k])
            return np.maximum(lo[k] - (edges + c_hi[k]), 0.0) + np.maximum(edges - hi[k], 0.0)

        g0 = gaps(0)
        slices: list[tuple[int, int]] = []
        if len(self.shape) == 1:
            near = np.flatnonzero(g0 < R)
            if near.size:
                slices.append((int(self.starts[near[0]]), int(self.starts[near[-1] + 1])))
        else:
            g1 = gaps(1)
            ncol = self.shape[1]
            for r in np.flatnonzero(g0 < R):
                cols = np.flatnonzero(g0[r] ** 2 + g1 ** 2 < R * R)
                if cols.size:
                    a = r * ncol + int(cols[0])
                    b = r * ncol + int(cols[-1]) + 1
                    slices.append((int(self.starts[a]), int(self.starts[b])))
        count = sum(b - a for a, b in slices)
        kept = float(sum(self.cw[b] - self.cw[a] for a, b in slices))
        pruned = max(float(self.cw[-1]) - kept, 0.0) * (1 + 1e-12)
        return slices, count, pruned

    def gather(self, slices: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray | None]:
        Xk = np.concatenate([self.X[a:b] for a, b in slices])
        wk = None if self.w is None else np.concatenate([self.w[a:b] for a, b in slices])
        return Xk, wk


class PreparedPoints:
    """The fitted side of the pruned reduction, built once per model: the projection
    basis, the cell index and the pilot subsample. It depends only on the (scaled) fitted
    points and their weights, never on the queries, so a fitted estimator builds it once
    and every query batch (or Dask task) reuses it.
    """

    def __init__(self, dk: DensityKernel, X: np.ndarray, weights: np.ndarray | None,
                 rng: Any = None) -> None:
        m = X.shape[0]
        generator = np.random.default_rng(0 if rng is None else rng)
        self.basis = _projection(X.astype(np.float64, copy=False))
        PX = X.astype(np.float64, copy=False) @ self.basis
        self.index = _CellIndex(PX[:, :2], X, weights, CELL)
        self.total_w = float(self.index.cw[-1])
        self.pilot = generator.choice(m, size=min(PILOT, m), replace=False)
        self.pilot_w = None if weights is None else weights[self.pilot]
        w_pilot = float(self.pilot.size) if weights is None else \
            float(np.sum(weights[self.pilot], dtype=np.float64))
        self.pilot_scale = math.log(self.total_w) - math.log(w_pilot or 1.0)


def can_prune(dk: DensityKernel, m: int) -> bool:
    """Whether pruning may pay off for m fitted points with this kernel."""
    return m >= MIN_POINTS and (dk.has_tail or bool(np.isfinite(dk.support)))


def prepare_points(dk: DensityKernel, X: np.ndarray, weights: np.ndarray | None,
                   rng: Any = None) -> PreparedPoints | None:
    """The reusable fitted side of :func:`log_kernel_sums` (None if it never prunes)."""
    return PreparedPoints(dk, X, weights, rng) if can_prune(dk, X.shape[0]) else None


def log_kernel_sums(dk: DensityKernel, Q: np.ndarray, X: np.ndarray,
                    weights: np.ndarray | None, *, eps: float = 1e-13,
                    log_abs: float = -math.inf, prune: bool = True,
                    rng: Any = None, prepared: PreparedPoints | None = None) -> np.ndarray:
    """log sum_j w_j f(||q_i - x_j||) for every query, pruning provably negligible terms.

    Parameters
    ----------
    dk : DensityKernel
    Q : ndarray of shape (n, d)
        Queries divided by the bandwidth (float32 or float64).
    X : ndarray of shape (m, d)
        Fitted points divided by the bandwidth, same dtype.
    weights : ndarray of shape (m,) or None
    eps : float, default=1e-13
        Allowed relative size of the pruned part of each sum (see the module docstring).
    log_abs : float, default=-inf
        Alternatively allowed absolute size (log scale) of the pruned part.
    prune : bool, default=True
        False evaluates every pair.
    rng : seed, default=None
        Seed of the pilot subsample (only when ``prepared`` is None).
    prepared : PreparedPoints, default=None
        :func:`prepare_points` of (dk, X, weights), reused across calls; built here when
        None. The result is the same either way.

    Returns
    -------
    L : ndarray of shape (n,), float64
    """
    n, d = Q.shape
    m = X.shape[0]
    if not (prune and can_prune(dk, m)):
        return _reduce(dk, Q, X, weights)
    if prepared is None:
        prepared = PreparedPoints(dk, X, weights, rng)
    basis, index, total_w = prepared.basis, prepared.index, prepared.total_w
    pilot, pilot_w, pilot_scale = prepared.pilot, prepared.pilot_w, prepared.pilot_scale
    PQ = Q.astype(np.float64, copy=False) @ basis
    guess = None
    if not np.isfinite(dk.support):  # one cheap pass to guess each query's log-sum
        guess = _reduce(dk, Q, X[pilot], pilot_w) + pilot_scale
    plans = []
    work = 0
    for idx in _blocks(PQ[:, :2], BLOCK):
        lo, hi = PQ[idx, :2].min(axis=0), PQ[idx, :2].max(axis=0)
        if np.isfinite(dk.support):
            R = dk.support
        else:
            # 2.0: margin for the pilot's sampling noise
            floor = float(np.min(guess[idx])) - 2.0  # type: ignore[index]
            level = max(math.log(eps) + floor, log_abs) - math.log(total_w)
            R = dk.tail_radius(level)
        slices, count, w_pruned = index.select(lo, hi, R) if np.isfinite(R) else ([], m, 0.0)
        work += idx.size * count
        plans.append((idx, R, slices, count, w_pruned))
    if work > MAX_WORK_FRACTION * n * m:  # too little to skip: one plain reduction
        return _reduce(dk, Q, X, weights)
    out = np.empty(n)
    redo: list[np.ndarray] = []
    for idx, R, slices, count, w_pruned in plans:
        if count == m:
            out[idx] = _reduce(dk, Q[idx], X, weights)
            continue
        if count == 0:
            L = np.full(idx.size, -np.inf)
        else:
            Xk, wk = index.gather(slices)
            L = _reduce(dk, Q[idx], Xk, wk)
        out[idx] = L
        if np.isfinite(dk.support) or w_pruned <= 0:
            continue  # the pruned terms are exactly zero
        log_bound = math.log(w_pruned) + dk.log_tail(R)
        ok = log_bound <= np.maximum(math.log(eps) + L, log_abs)
        if not ok.all():
            redo.append(idx[~ok])
    if redo:
        rest = np.concatenate(redo)
        out[rest] = _reduce(dk, Q[rest], X, weights)
    return out

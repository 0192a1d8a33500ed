"""Mode finding for Gaussian KDEs: mean shift, and its random-projection variant."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ops
from ..exceptions import ConvergenceWarning, InputValueError, ParameterError
from ..kernels import Gaussian
from ._checks import check_integer

__all__ = ["ModeResult", "mean_shift", "projection_dimension"]


@dataclass(frozen=True)
class ModeResult:
    """Modes of a kernel density estimate.

    Attributes
    ----------
    modes : ndarray of shape (n_modes, n_features)
        Distinct modes, by decreasing density.
    log_density : ndarray of shape (n_modes,)
        Normalised log-density at each mode.
    labels : ndarray of shape (n_seeds,)
        Index of the mode each seed converged to.
    seeds : ndarray of shape (n_seeds,)
        Indices of the fitted points used as starting points.
    n_iter : int
        Mean-shift iterations run (in the projected space when projecting).
    n_components : int
        Dimension the search ran in (``n_features`` without projection).
    """

    modes: np.ndarray
    log_density: np.ndarray
    labels: np.ndarray
    seeds: np.ndarray
    n_iter: int
    n_components: int


def projection_dimension(n_samples: int, eps: float = 0.5) -> int:
    """Johnson–Lindenstrauss target dimension ``ceil(4 log(n) / eps^2)``.

    Parameters
    ----------
    n_samples : int
    eps : float, default=0.5
        Distortion of squared distances to tolerate (0 < eps < 1).

    Returns
    -------
    k : int

    Examples
    --------
    >>> from kernelkit.density import projection_dimension
    >>> projection_dimension(10_000, eps=0.5)
    148
    """
    if not (0 < eps < 1):
        raise ParameterError(f"eps must be in (0, 1), got {eps!r}.")
    return int(math.ceil(4.0 * math.log(max(n_samples, 2)) / eps ** 2))


def _shift(Z: np.ndarray, P: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One mean-shift step for points Z (unit-bandwidth Gaussian on data P).

    V = [w * P, w]; returns the new points and the kernel sums (denominators).
    """
    num = np.asarray(ops.matvec(Gaussian(1.0), Z, P, V))
    den = num[:, -1]
    safe = np.where(den > 0, den, 1.0)
    new = np.where((den > 0)[:, None], num[:, :-1] / safe[:, None], Z)
    return new, den


def _iterate(P: np.ndarray, w: np.ndarray, Z: np.ndarray, tol: float,
             max_iter: int, warn: bool = True) -> tuple[np.ndarray, int]:
    V = np.concatenate([P * w[:, None], w[:, None]], axis=1)
    active = np.arange(Z.shape[0])
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007
        new, _ = _shift(Z[active], P, V)
        step = np.sqrt(np.sum((new - Z[active]) ** 2, axis=1))
        Z[active] = new
        active = active[step > tol]
        if active.size == 0:
            break
    if active.size and warn:
        import warnings

        warnings.warn(f"mean shift: {active.size} starting points did not converge in "
                      f"{max_iter} iterations; increase max_iter or tol.",
                      ConvergenceWarning, stacklevel=3)
    return Z, it


def _merge(Z: np.ndarray, logd: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Greedy deduplication, highest density first: labels and indices of kept points."""
    order = np.argsort(-logd, kind="stable")
    keep: list[int] = []
    labels = np.empty(Z.shape[0], dtype=np.int64)
    for i in order:
        if keep:
            dist = np.sqrt(np.sum((Z[keep] - Z[i]) ** 2, axis=1))
            j = int(np.argmin(dist))
            if dist[j] <= radius:
                labels[i] = j
                continue
        labels[i] = len(keep)
        keep.append(int(i))
    return labels, np.array(keep, dtype=np.int64)


def mean_shift(X: Any, *, bandwidth: Any, weights: Any = None, kernel: Any = "gaussian",
               seeds: Any = None, max_seeds: int = 2000, tol: float = 1e-5,
               max_iter: int = 500, merge_tol: float = 0.1, n_components: int | None = None,
               refine: int = 0, random_state: Any = None) -> ModeResult:
    r"""All modes of a Gaussian KDE by mean shift, optionally in a random projection.

    Each step moves every starting point x to the kernel-weighted mean
    :math:`\sum_j w_j k(x, x_j) x_j / \sum_j w_j k(x, x_j)`, computed with one
    :func:`kernelkit.matvec` over all points (right-hand sides ``[w X, w]``). Mean shift
    increases the density monotonically and stops at stationary points; converged points
    closer than ``merge_tol`` (in bandwidth units) are merged, keeping the denser.

    With ``n_components = k < n_features`` the data are first mapped by a Gaussian
    random projection :math:`\Pi \in \mathbb{R}^{k \times d}` (entries N(0, 1/k)), the
    modes of the projected KDE are found there, and each is lifted back by one mean-shift
    step that uses the projected kernel weights,
    :math:`x = \sum_j w_j k(\Pi x_j, \tilde x) x_j / \sum_j w_j k(\Pi x_j, \tilde x)`.
    For :math:`k = O(\log n / \epsilon^2)` the lifted point has density within a
    :math:`(1 - \epsilon)` factor of the true maximum (Lee et al. 2021; Luo, Musco and
    Widdershoven 2024, for general kernels). ``refine`` extra full-dimensional
    mean-shift steps may follow.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    bandwidth : float or array-like of shape (n_features,)
        Gaussian bandwidth (per feature allowed).
    weights : array-like of shape (n_samples,), default=None
    kernel : {"gaussian"}, default="gaussian"
        Only the Gaussian kernel (its mean-shift shadow is itself).
    seeds : array-like of int, default=None
        Indices of starting points; None means every point (at most ``max_seeds``,
        drawn at random beyond that).
    max_seeds : int, default=2000
    tol : float, default=1e-5
        Stop a point when its step is below ``tol`` bandwidths.
    max_iter : int, default=500
    merge_tol : float, default=0.1
        Merge radius in bandwidth units.
    n_components : int or None, default=None
        Random-projection dimension (see :func:`projection_dimension`); None searches in
        the full space.
    refine : int, default=0
        Full-dimensional mean-shift steps after lifting.
    random_state : int, Generator or None, default=None
        For the seed subsample and the projection.

    Returns
    -------
    result : ModeResult

    References
    ----------
    .. [1] K. Fukunaga and L. Hostetler, "The estimation of the gradient of a density
       function", IEEE Trans. Information Theory 21(1), 1975.
    .. [2] J. C. H. Lee, J. Li, C. Musco, J. M. Phillips and W. M. Tai, "Finding an
       approximate mode of a kernel density estimate", ESA 2021.
    .. [3] X. Luo, C. Musco and C. Widdershoven, "Dimensionality Reduction for General
       KDE Mode Finding", ICML 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.density import mean_shift
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-3, 0.5, (200, 1)), rng.normal(3, 0.5, (200, 1))])
    >>> mean_shift(X, bandwidth=0.5).modes.round(1)
    array([[ 2.9],
           [-3. ]])
    """
    if kernel != "gaussian":
        raise ParameterError(f"mean_shift supports kernel='gaussian' only, got {kernel!r}; "
                             "fit the KDE with the Gaussian kernel to find its modes.")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or not np.isfinite(X).all():
        raise InputValueError("X must be a finite, non-empty array of shape "
                              "(n_samples, n_features).")
    n, d = X.shape
    from ._kde import check_bandwidth

    h = np.broadcast_to(np.asarray(check_bandwidth(bandwidth, d), dtype=np.float64),
                        (d,)).copy()
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or not w.sum() > 0:
        raise InputValueError("weights must be finite, >= 0, not all zero, one per row.")
    for name, value in (("tol", tol), ("merge_tol", merge_tol)):
        if not (isinstance(value, numbers.Real) and value > 0 and math.isfinite(value)):
            raise ParameterError(f"{name} must be a finite number > 0, got {value!r}.")
    rng = np.random.default_rng(random_state)
    if seeds is None:
        candidates = np.flatnonzero(w > 0)
        seeds = candidates if candidates.size <= max_seeds else \
            np.sort(rng.choice(candidates, size=max_seeds, replace=False))
    seeds = np.asarray(seeds, dtype=np.int64).ravel()
    if seeds.size == 0 or seeds.min() < 0 or seeds.max() >= n:
        raise ParameterError(f"seeds must be non-empty indices in [0, {n}).")
    Xs = X / h
    k = d
    if n_components is not None:
        k = check_integer(n_components, "n_components")
    if k < d:
        proj = rng.normal(size=(d, k)) / math.sqrt(k)
        P = Xs @ proj
        Z, n_iter = _iterate(P, w, P[seeds].copy(), tol, max_iter)
        # Lift back: the mean-shift step with the projected kernel weights.
        V = np.concatenate([Xs * w[:, None], w[:, None]], axis=1)
        num = np.asarray(ops.matvec(Gaussian(1.0), Z, P, V))
        den = num[:, -1:]
        Zfull = np.where(den > 0, num[:, :-1] / np.where(den > 0, den, 1.0), Xs[seeds])
    else:
        Zfull, n_iter = _iterate(Xs, w, Xs[seeds].copy(), tol, max_iter)
    if refine and k < d:
        Zfull, _ = _iterate(Xs, w, Zfull, tol, int(refine), warn=False)
    log_norm = -math.log(float(w.sum())) - float(np.sum(np.log(h))) - \
        0.5 * d * math.log(2 * math.pi)
    logd = np.asarray(ops.logsumexp(Gaussian(1.0), Zfull, Xs, w)) + log_norm
    labels, keep = _merge(Zfull, logd, merge_tol)
    return ModeResult(Zfull[keep] * h, logd[keep], labels, seeds, n_iter, k)

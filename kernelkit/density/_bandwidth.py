"""Bandwidth selectors: Scott, Silverman, improved Sheather–Jones (ISJ), cross-validation.

Every selector returns one bandwidth per feature, for the Gaussian kernel (the standard
deviation of the smoothing kernel), scaled by the spread of each feature. Unlike
scikit-learn's ``bandwidth="scott"`` (which assumes standardised data and returns
``n^(-1/(d+4))`` whatever the scale), these are scale-equivariant:
``selector(a * X) == a * selector(X)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.fft
from scipy.optimize import brentq

from ..exceptions import InputValueError, ParameterError
from ._binning import linear_binning
from ._checks import check_integer

__all__ = ["scott_bandwidth", "silverman_bandwidth", "isj_bandwidth", "cv_bandwidth",
           "select_bandwidth", "SELECTORS"]

_IQR_NORMAL = 1.3489795003921634  # interquartile range of the standard normal


def _prepare(X: Any, weights: Any) -> tuple[np.ndarray, np.ndarray | None]:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise InputValueError(f"X must be a non-empty array of shape (n_samples, n_features), "
                              f"got shape {X.shape}.")
    if not np.isfinite(X).all():
        raise InputValueError("X contains NaN or infinity; remove or impute those values.")
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.shape[0] != X.shape[0] or not np.isfinite(w).all() or (w < 0).any() \
                or not w.sum() > 0:
            raise InputValueError(
                "weights must be finite, >= 0, not all zero, one per row of X; "
                "drop zero-weight rows or pass weights=None.")
    return X, w


def _n_eff(X: np.ndarray, w: np.ndarray | None) -> float:
    if w is None:
        return float(X.shape[0])
    return float(w.sum() ** 2 / np.sum(w * w))


def _std(X: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    if w is None:
        return X.std(axis=0, ddof=1) if X.shape[0] > 1 else np.zeros(X.shape[1])
    mean = np.average(X, axis=0, weights=w)
    var = np.average((X - mean) ** 2, axis=0, weights=w)
    n = _n_eff(X, w)
    return np.sqrt(var * n / (n - 1)) if n > 1 else np.zeros(X.shape[1])


def _check_spread(scale: np.ndarray, rule: str, n: int) -> np.ndarray:
    if n < 2:
        raise InputValueError(f"bandwidth rule {rule!r} needs at least 2 samples, got "
                              f"n_samples = {n}; pass a numeric bandwidth.")
    bad = ~(scale > 0)
    if bad.any():
        cols = np.flatnonzero(bad).tolist()
        raise InputValueError(
            f"bandwidth rule {rule!r} needs spread in every feature, but feature(s) {cols} "
            "are constant; drop constant columns or pass a numeric bandwidth.")
    return scale


def scott_bandwidth(X: Any, weights: Any = None) -> np.ndarray:
    r"""Scott's rule: :math:`h_k = \sigma_k\, n^{-1/(d+4)}`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    weights : array-like of shape (n_samples,), default=None
        n is then the effective sample size :math:`(\sum w)^2 / \sum w^2`.

    Returns
    -------
    bandwidth : ndarray of shape (n_features,)

    References
    ----------
    .. [1] D. W. Scott, "Multivariate Density Estimation", Wiley, 1992, eq. (6.42).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.density import scott_bandwidth
    >>> X = np.random.default_rng(0).normal(size=(1000, 2)) * [1.0, 10.0]
    >>> scott_bandwidth(X).round(2)
    array([0.32, 3.1 ])
    """
    X, w = _prepare(X, weights)
    d = X.shape[1]
    scale = _check_spread(_std(X, w), "scott", X.shape[0])
    return scale * _n_eff(X, w) ** (-1.0 / (d + 4))


def _weighted_iqr(x: np.ndarray, w: np.ndarray | None) -> float:
    if w is None:
        q75, q25 = np.percentile(x, [75, 25])
        return float(q75 - q25)
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    cw /= cw[-1]
    return float(np.interp(0.75, cw, x[order]) - np.interp(0.25, cw, x[order]))


def silverman_bandwidth(X: Any, weights: Any = None) -> np.ndarray:
    r"""Silverman's normal-reference rule with a robust spread.

    :math:`h_k = (4 / (d + 2))^{1/(d+4)}\, n^{-1/(d+4)} A_k` with
    :math:`A_k = \min(\sigma_k, \mathrm{IQR}_k / 1.349)` (the robust scale; when the IQR is
    zero, the standard deviation alone).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    weights : array-like of shape (n_samples,), default=None

    Returns
    -------
    bandwidth : ndarray of shape (n_features,)

    References
    ----------
    .. [1] B. W. Silverman, "Density Estimation for Statistics and Data Analysis",
       Chapman and Hall, 1986, eqs. (3.30) and (4.14).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.density import silverman_bandwidth
    >>> X = np.random.default_rng(0).normal(size=(1000, 1))
    >>> silverman_bandwidth(X).round(3)
    array([0.258])
    """
    X, w = _prepare(X, weights)
    n, d = X.shape
    sd = _std(X, w)
    iqr = np.array([_weighted_iqr(X[:, k], w) for k in range(d)]) / _IQR_NORMAL
    scale = np.where(iqr > 0, np.minimum(sd, iqr), sd)
    scale = _check_spread(scale, "silverman", n)
    return scale * (4.0 / (d + 2.0)) ** (1.0 / (d + 4)) * _n_eff(X, w) ** (-1.0 / (d + 4))


# --------------------------------------------------------------------------------- ISJ
def _isj_functional(t: float, n: float, k2: np.ndarray, a2: np.ndarray) -> float:
    r"""t - ξ γ^[l](t) for l = 7 (Botev et al. 2010, eq. (29) and Section 5)."""
    ell = 7
    norm = 0.5 * math.pi ** (2 * ell) * float(np.sum(k2 ** ell * a2 * np.exp(-k2 * math.pi ** 2
                                                                              * t)))
    if not norm > 0:
        return -1.0
    for s in range(ell - 1, 1, -1):
        odd_prod = float(np.prod(np.arange(1, 2 * s, 2, dtype=np.float64)))
        k0 = odd_prod / math.sqrt(2 * math.pi)
        const = (1 + 0.5 ** (s + 0.5)) / 3
        time = (2 * const * k0 / (n * norm)) ** (2.0 / (3 + 2 * s))
        norm = 0.5 * math.pi ** (2 * s) * float(np.sum(k2 ** s * a2 *
                                                       np.exp(-k2 * math.pi ** 2 * time)))
    return t - (2 * n * math.sqrt(math.pi) * norm) ** (-0.4)


def _isj_root(n_unique: int, k2: np.ndarray, a2: np.ndarray) -> float:
    """Smallest positive root, bracketing as Botev's reference code does."""
    n = float(max(min(1050, n_unique), 50))
    tol = 1e-11 + 0.01 * (n - 50) / 1000
    while tol < 1:
        try:
            root = brentq(_isj_functional, 0.0, tol, args=(float(n_unique), k2, a2),
                          xtol=1e-14, rtol=1e-13)
        except ValueError:  # no sign change yet: widen the bracket
            root = 0.0
        if root > 0:
            return float(root)
        tol *= 2.0
    raise InputValueError(
        "ISJ found no bandwidth (its fixed-point equation has no positive root); this "
        "happens with very few or heavily tied data. Use bandwidth='silverman' or 'cv'.")


def isj_bandwidth(X: Any, weights: Any = None, *, grid_size: int = 1024,
                  convention: str = "botev") -> np.ndarray:
    """Improved Sheather–Jones bandwidth (Botev, Grotowski and Kroese), per feature.

    The data of each feature are linearly binned on ``grid_size`` points spanning the data
    range padded by half the range on each side, mapped to [0, 1] and transformed with a
    type-II DCT; the fixed point ``t = ξ γ^[7](t)`` of the plug-in equations is solved
    (bracketing as the reference code does), and the bandwidth is ``sqrt(t)`` mapped back
    to data units, i.e. times the *grid* width. The result does not depend on the
    padding and is scale-equivariant.

    ``convention="kdepy"`` reproduces KDEpy 1.1.12's ``improved_sheather_jones`` instead:
    its grid (padding ``max(range / 2, 6)`` in absolute units) and its final scaling by
    the *data* range. That scaling is a known bug (KDEpy issue #199, fixed the same way
    in arviz-stats PR #360): KDEpy's value is ``botev * range / grid_width``, about half
    the consistent value (e.g. 0.046 instead of 0.106 for 10^5 standard normal points,
    whose AMISE-optimal bandwidth is 0.106).

    Parameters
    ----------
    X : array-like of shape (n_samples,) or (n_samples, n_features)
        With several features, each column gets its own 1-D ISJ bandwidth (for product or
        per-dimension kernels).
    weights : array-like of shape (n_samples,), default=None
        Zero-weight points are ignored.
    grid_size : int, default=1024
        Number of grid points (a power of two is fastest).
    convention : {"botev", "kdepy"}, default="botev"

    Returns
    -------
    bandwidth : ndarray of shape (n_features,)

    Raises
    ------
    InputValueError
        Constant data (no spread), or no positive root (very few points).

    References
    ----------
    .. [1] Z. I. Botev, J. F. Grotowski and D. P. Kroese, "Kernel density estimation via
       diffusion", Annals of Statistics 38(5), 2916–2957, 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.density import isj_bandwidth
    >>> x = np.random.default_rng(0).normal(size=100_000)
    >>> isj_bandwidth(x).round(3)  # the normal reference optimum is (4 / 3n)^(1/5) = 0.106
    array([0.106])
    """
    if convention not in ("botev", "kdepy"):
        raise ParameterError(f"convention must be 'botev' or 'kdepy', got {convention!r}.")
    check_integer(grid_size, "grid_size", minimum=16, expected="an integer >= 16")
    X, w = _prepare(X, weights)
    if w is not None:
        keep = w > 0
        X, w = X[keep], w[keep]
    out = np.empty(X.shape[1])
    for k in range(X.shape[1]):
        x = X[:, k]
        lo, hi = float(x.min()), float(x.max())
        span = hi - lo
        if not span > 0:
            raise InputValueError(
                f"ISJ cannot select a bandwidth for constant data (feature {k} has a single "
                "value); pass a numeric bandwidth or drop the constant feature.")
        pad = 0.5 * span if convention == "botev" else max(0.5 * span, 6.0)
        grid = np.linspace(lo - pad, hi + pad, grid_size)
        counts = linear_binning(x[:, None], [grid], w)
        counts /= counts.sum()
        a = scipy.fft.dct(counts, type=2)
        k2 = np.arange(1, grid_size, dtype=np.float64) ** 2
        t = _isj_root(len(np.unique(x)), k2, a[1:] ** 2)
        out[k] = math.sqrt(t) * (span if convention == "kdepy" else grid[-1] - grid[0])
    return out


# ---------------------------------------------------------------------------------- CV
def cv_bandwidth(X: Any, weights: Any = None, *, kernel: Any = "gaussian",
                 factors: Any = None, max_samples: int | None = None,
                 random_state: Any = 0, return_scores: bool = False) -> Any:
    r"""Maximum leave-one-out likelihood bandwidth over a grid of candidates.

    Candidates are ``factor * scott_bandwidth(X)`` for each factor. For each candidate the
    leave-one-out log-density of every point,
    :math:`\log \sum_{j \ne i} w_j k(x_i, x_j) - \log(W - w_i) - \log Z`, is computed
    with one engine reduction over all j, minus the self term
    :math:`w_i k(x_i, x_i)` (in log space, ``L + log1p(-exp(self - L))``). Where the self
    term is more than half of the sum (isolated points, tiny bandwidths), that
    subtraction would lose digits, so those rows are recomputed exactly without the
    diagonal (again by the engine). The candidate with the largest weighted mean
    leave-one-out log-likelihood wins.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    weights : array-like of shape (n_samples,), default=None
    kernel : str or Kernel, default="gaussian"
        As in :class:`KernelDensity`.
    factors : array-like, default=None
        Multiples of Scott's bandwidth to try; default ``geomspace(0.05, 2, 25)``.
    max_samples : int or None, default=None
        Average the leave-one-out log-likelihood over this many randomly chosen points
        (each still against all the others) instead of all n: the cost per candidate
        drops from n² to ``max_samples * n`` pairs, and the score becomes an unbiased
        estimate. None uses every point.
    random_state : int, Generator or None, default=0
        Chooses the points when ``max_samples < n``.
    return_scores : bool, default=False
        Also return the candidates (n_candidates, n_features) and their mean
        leave-one-out log-likelihoods.

    Returns
    -------
    bandwidth : ndarray of shape (n_features,)
    candidates, scores : ndarray
        Only with ``return_scores=True``.

    References
    ----------
    .. [1] R. P. W. Duin, "On the choice of smoothing parameters for Parzen estimators of
       probability density functions", IEEE Trans. Computers C-25, 1976.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.density import cv_bandwidth
    >>> X = np.random.default_rng(0).normal(size=(500, 1))
    >>> float(cv_bandwidth(X)[0]) > 0.1
    True
    """
    from ._kernels import resolve_kernel

    X, w = _prepare(X, weights)
    factors = np.geomspace(0.05, 2.0, 25) if factors is None else \
        np.asarray(factors, dtype=np.float64).ravel()
    if factors.size == 0 or not (np.isfinite(factors).all() and (factors > 0).all()):
        raise ParameterError("factors must be a non-empty array of finite numbers > 0.")
    base = scott_bandwidth(X, w)
    dk = resolve_kernel(kernel, X.shape[1])
    f0 = float(dk.radial()(np.zeros(1))[0])
    candidates = factors[:, None] * base[None, :]
    rows = None
    if max_samples is not None:
        check_integer(max_samples, "max_samples", expected="a positive integer or None")
        if max_samples < X.shape[0]:
            pool = np.arange(X.shape[0]) if w is None else np.flatnonzero(w > 0)
            rng = np.random.default_rng(random_state)
            rows = np.sort(rng.choice(pool, size=min(int(max_samples), pool.size),
                                      replace=False))
    scores = np.array([_loo_score(dk, X, w, h, f0, rows) for h in candidates])
    best = int(np.argmax(scores))
    if not np.isfinite(scores[best]):
        raise InputValueError(
            "every cross-validation candidate gives some point zero leave-one-out density "
            "(compact kernel, isolated points); pass larger factors or use 'scott'.")
    if return_scores:
        return candidates[best], candidates, scores
    return candidates[best]


def loo_log_density(dk: Any, X: np.ndarray, w: np.ndarray | None, h: np.ndarray,
                    f0: float, rows: np.ndarray | None = None) -> np.ndarray:
    """Leave-one-out log-density of the given rows of X (all rows for None), normalised,
    each against all the other rows, via the engine."""
    from ._exact import log_kernel_sums

    Xs = X / h
    n = X.shape[0]
    rows = np.arange(n) if rows is None else np.asarray(rows)
    lw = np.zeros(rows.size) if w is None else np.log(np.maximum(w[rows], 0.0))
    L = log_kernel_sums(dk, Xs[rows], Xs, w)
    self_term = lw + math.log(f0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.exp(self_term - L)
        loo = L + np.log1p(-np.minimum(ratio, 1.0))
    bad = np.flatnonzero(ratio > 0.5)
    if bad.size:
        loo[bad] = _loo_exact(dk, Xs, w, rows[bad])
    total = float(n) if w is None else float(w.sum())
    rest = total - (np.ones(rows.size) if w is None else w[rows])
    with np.errstate(divide="ignore"):
        return loo - np.log(rest) - dk.log_integral - float(np.sum(np.log(h)))


def _loo_exact(dk: Any, Xs: np.ndarray, w: np.ndarray | None, rows: np.ndarray,
               chunk: int = 512) -> np.ndarray:
    """log sum_{j != i} w_j k(x_i, x_j) for the given rows, without the subtraction."""
    from ._exact import log_kernel_sums

    out = np.empty(rows.size)
    n = Xs.shape[0]
    for c0 in range(0, rows.size, chunk):
        part = rows[c0:c0 + chunk]
        mask = np.ones(n, dtype=bool)
        mask[part] = False
        others = log_kernel_sums(dk, Xs[part], Xs[mask], None if w is None else w[mask],
                                 prune=False) if mask.any() else np.full(part.size, -np.inf)
        # The chunk against itself, dense and small, without the diagonal (log-kernel
        # evaluated directly, so far pairs do not underflow).
        Xp = Xs[part]
        with np.errstate(divide="ignore"):
            logk = np.asarray(dk.template.log(Xp, Xp) if dk.positive
                              else np.log(dk.template(Xp, Xp)), dtype=np.float64)
            if w is not None:
                logk = logk + np.log(w[part])[None, :]
        np.fill_diagonal(logk, -np.inf)
        from scipy.special import logsumexp

        inner = logsumexp(logk, axis=1)
        out[c0:c0 + chunk] = np.logaddexp(others, inner)
    return out


def _loo_score(dk: Any, X: np.ndarray, w: np.ndarray | None, h: np.ndarray,
               f0: float, rows: np.ndarray | None = None) -> float:
    loo = loo_log_density(dk, X, w, h, f0, rows)
    if w is None:
        return float(np.mean(loo))
    wr = w if rows is None else w[rows]
    keep = wr > 0
    if np.isneginf(loo[keep]).any():
        return -math.inf
    return float(np.average(loo[keep], weights=wr[keep]))


#: Selector name → function(X, weights) -> per-feature bandwidths.
SELECTORS: dict[str, Callable[..., np.ndarray]] = {
    "scott": scott_bandwidth,
    "silverman": silverman_bandwidth,
    "isj": isj_bandwidth,
    "cv": cv_bandwidth,
}


def select_bandwidth(name: str, X: Any, weights: Any = None, **kwargs: Any) -> np.ndarray:
    """Bandwidths by a selector name: ``"scott"``, ``"silverman"``, ``"isj"`` or ``"cv"``.

    Parameters
    ----------
    name : str
    X : array-like of shape (n_samples, n_features)
    weights : array-like of shape (n_samples,), default=None
    **kwargs
        Passed to the selector (e.g. ``kernel=`` for ``"cv"``).

    Returns
    -------
    bandwidth : ndarray of shape (n_features,)

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.density import select_bandwidth
    >>> select_bandwidth("scott", np.arange(10.0)[:, None]).round(3)
    array([1.91])
    """
    if name not in SELECTORS:
        raise ParameterError(f"unknown bandwidth selector {name!r}; use one of "
                             f"{list(SELECTORS)} or a positive number.")
    return SELECTORS[name](X, weights, **kwargs)

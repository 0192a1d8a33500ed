"""``KernelDensity``: a scikit-learn estimator on the kernelkit engine."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from .._validation import is_dask
from ..exceptions import InputValueError, ParameterError
from ..kernels import Kernel
from ._bandwidth import SELECTORS, select_bandwidth
from ._checks import check_integer
from ._dask import check_dask_queries, reject_dask_fit
from ._exact import EXACT_EPS, PreparedPoints, log_kernel_sums, prepare_points
from ._grid import GridDensity
from ._kernels import SKLEARN_KERNELS, DensityKernel, resolve_kernel

__all__ = ["KernelDensity"]

#: ``bandwidth="cv"`` averages the leave-one-out likelihood over at most this many points
#: (each against all others), so selection costs at most 2000 * n pairs per candidate.
CV_MAX_SAMPLES = 2000


def check_bandwidth(bandwidth: Any, n_features: int) -> float | np.ndarray:
    """A numeric bandwidth: a positive float or one positive value per feature."""
    if isinstance(bandwidth, numbers.Real) and not isinstance(bandwidth, bool):
        h = float(bandwidth)
        if not (math.isfinite(h) and h > 0):
            raise ParameterError(
                f"bandwidth must be a finite number > 0, got {bandwidth!r}; pass e.g. "
                "bandwidth=0.5, or a selector name such as 'scott' or 'isj'.")
        return h
    try:
        arr = np.asarray(bandwidth, dtype=np.float64)
    except (TypeError, ValueError):
        raise ParameterError(
            f"bandwidth must be a number, an array of one per feature, or one of "
            f"{list(SELECTORS)}; got {bandwidth!r}.") from None
    if arr.shape != (n_features,):
        raise ParameterError(
            f"bandwidth has shape {arr.shape} but the data has {n_features} features; "
            "pass a scalar or one bandwidth per feature.")
    if not (np.isfinite(arr).all() and (arr > 0).all()):
        raise ParameterError(
            f"bandwidth must be finite and > 0 in every feature, got {arr.tolist()}; "
            "fix the offending entries or use a selector such as 'scott'.")
    return arr.copy()


class KernelDensity(BaseEstimator):
    """Kernel density estimation on the kernelkit engine (scikit-learn compatible).

    Same semantics as :class:`sklearn.neighbors.KernelDensity` (``fit(X, sample_weight)``,
    ``score_samples`` = normalised log-density, ``score``, ``sample``) and the same six
    kernels with the same normalisation; it also accepts any radial kernelkit kernel
    (Matérn, rational quadratic, ...) whose integral is finite, per-feature bandwidths and
    bandwidth selectors. Densities are reduced with :func:`kernelkit.logsumexp` (positive
    kernels) or :func:`kernelkit.kernel_sum` (compact kernels), tile by tile: no N × M
    matrix, and stable for tiny bandwidths (log-densities stay finite where every kernel
    value underflows).

    Parameters
    ----------
    bandwidth : float, array-like of shape (n_features,) or str, default=1.0
        Kernel bandwidth h (for the Gaussian kernel its standard deviation; for compact
        kernels the support radius). An array gives one per feature (the kernel is then
        applied to ``(x - y) / h`` elementwise). A string picks a selector:
        ``"scott"``, ``"silverman"``, ``"isj"`` (1-D per feature) or ``"cv"`` (leave-one-out
        likelihood averaged over at most 2000 random points, each against all others); see
        :mod:`kernelkit.density`. Note: these selectors scale with the data's spread,
        unlike scikit-learn's ``"scott"``, which assumes standardised data.
    kernel : str or Kernel, default="gaussian"
        One of ``"gaussian"``, ``"tophat"``, ``"epanechnikov"``, ``"exponential"``,
        ``"linear"``, ``"cosine"``, or a radial kernelkit kernel (its own bandwidth is
        replaced by ``bandwidth``).
    method : {"auto", "exact", "grid"}, default="auto"
        ``"exact"`` sums over every fitted point, skipping only terms that provably cannot
        change the result beyond the tolerance (see Notes). ``"grid"`` (d <= 3) evaluates
        a binned FFT estimate once at fit time (:func:`grid_density`) and interpolates it;
        its error is not bounded by ``rtol`` (see ``docs/density.md``). ``"auto"`` is
        ``"exact"``: the only method whose error is guaranteed.
    rtol : float, default=0.0
        Relative tolerance of each density value. 0 means exact (to float rounding).
    atol : float, default=0.0
        Absolute tolerance of each (normalised) density value.
    grid_size : int, default=256
        Points per dimension for ``method="grid"``.

    Attributes
    ----------
    bandwidth_ : float or ndarray of shape (n_features,)
        The bandwidth used (a selector's result is per feature).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string feature names.
    X_ : ndarray of shape (n_samples, n_features)
        The fitted points (float32 stays float32).
    sample_weight_ : ndarray of shape (n_samples,) or None

    Notes
    -----
    With ``rtol=0`` the exact method still skips far-away points, but only those whose
    total contribution is provably below 1e-13 of the kept sum (float32: 1e-6) for every
    query, checked after the fact (proof in ``kernelkit/density/_exact.py``): a tenth of
    the engine's own rounding error bound, so the result is as exact as an unpruned
    evaluation. With ``rtol > 0`` the skipped part is at most ``rtol / 2`` of each density.

    On a Dask cluster, :meth:`score_samples` and :meth:`score` accept a Dask array of
    queries (chunked by rows) and return lazy Dask arrays; the scoring state built at fit
    (scaled points, weights, pruning index or grid) is placed on the workers once per call
    and each task scores one chunk. ``fit`` needs in-memory data (a Dask X raises
    :class:`~kernelkit.exceptions.InputTypeError`). See ``docs/density.md``.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.density import KernelDensity
    >>> rng = np.random.RandomState(42)
    >>> X = rng.random_sample((100, 3))
    >>> kde = KernelDensity(kernel="gaussian", bandwidth=0.5).fit(X)
    >>> kde.score_samples(X[:3])  # the same values as scikit-learn's
    array([-1.52955942, -1.51462041, -1.60244657])
    """

    _parameter_constraints: dict = {
        "bandwidth": "no_validation",
        "kernel": [StrOptions(set(SKLEARN_KERNELS)), Kernel],
        "method": [StrOptions({"auto", "exact", "grid"})],
        "rtol": [Interval(numbers.Real, 0, None, closed="left")],
        "atol": [Interval(numbers.Real, 0, None, closed="left")],
        "grid_size": [Interval(numbers.Integral, 2, None, closed="left")],
    }

    def __init__(self, *, bandwidth: Any = 1.0, kernel: Any = "gaussian",
                 method: str = "auto", rtol: float = 0.0, atol: float = 0.0,
                 grid_size: int = 256) -> None:
        self.bandwidth = bandwidth
        self.kernel = kernel
        self.method = method
        self.rtol = rtol
        self.atol = atol
        self.grid_size = grid_size

    # ------------------------------------------------------------------------- fit
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> KernelDensity:
        """Fit the estimator on the points X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights, not all zero.

        Returns
        -------
        self : KernelDensity

        Raises
        ------
        InputTypeError
            If X or sample_weight is a Dask array: the fitted points are the model and
            are shipped whole to every worker, so they must be in memory; fit on
            ``X.compute()`` (or a subsample) and score Dask queries with
            :meth:`score_samples`.
        """
        reject_dask_fit("KernelDensity", X=X, sample_weight=sample_weight)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype,
                                                 ensure_non_negative=True,
                                                 allow_all_zero_weights=True)
            if not float(np.sum(sample_weight, dtype=np.float64)) > 0:
                raise InputValueError(
                    "sample_weight sums to zero; at least one sample needs a positive "
                    "weight (or pass sample_weight=None for equal weights).")
        d = X.shape[1]
        dk = resolve_kernel(self.kernel, d)
        if isinstance(self.bandwidth, str):
            kwargs: dict[str, Any] = {}
            if self.bandwidth == "cv":
                kwargs = {"kernel": self.kernel, "max_samples": CV_MAX_SAMPLES}
            bw = select_bandwidth(self.bandwidth, X, sample_weight, **kwargs)
            self.bandwidth_ = float(bw[0]) if d == 1 else bw
        else:
            self.bandwidth_ = check_bandwidth(self.bandwidth, d)
        if self.method == "grid" and d > 3:
            raise ParameterError(
                f"method='grid' supports at most 3 features, the data has {d}; use "
                "method='exact' (or reduce the dimension first).")
        self.X_ = X
        self.sample_weight_ = sample_weight
        self._dk = dk
        self._grid = None
        if self.method == "grid":
            from ._grid import grid_density

            self._grid = grid_density(X, grid_size=self.grid_size, bandwidth=self.bandwidth_,
                                      weights=sample_weight, kernel=self.kernel)
        self._state = self._score_state()
        return self

    # ------------------------------------------------------------------ internals
    @property
    def _h(self) -> np.ndarray:
        return np.broadcast_to(np.asarray(self.bandwidth_, dtype=np.float64),
                               (self.n_features_in_,))

    def _log_norm(self) -> float:
        """log of 1 / (W prod(h) Z): turns log kernel sums into log densities."""
        w = self.sample_weight_
        total = float(self.X_.shape[0]) if w is None else float(np.sum(w, dtype=np.float64))
        return -math.log(total) - float(np.sum(np.log(self._h))) - self._dk.log_integral

    def _score_state(self) -> _ScoreState:
        """The fitted state scoring needs, built once at fit (see :class:`_ScoreState`)."""
        X = self.X_
        centre = X.mean(axis=0, dtype=np.float64)
        h = np.array(self._h)
        Xs = prepared = None
        if self._grid is None:
            Xs = ((X.astype(np.float64) - centre) / h).astype(X.dtype, copy=False)
            prepared = prepare_points(self._dk, Xs, self.sample_weight_)
        return _ScoreState(self._dk, Xs, self.sample_weight_, prepared, centre, h,
                           self._log_norm(), self._grid, X.dtype)

    # ------------------------------------------------------------------- public
    def score_samples(self, X: Any) -> np.ndarray:
        """Log-density of each row of X under the model (normalised).

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_queries, n_features)
            A Dask array (chunked by rows) is scored lazily on the cluster: the fitted
            state is placed on the workers once and each task scores one chunk.

        Returns
        -------
        log_density : ndarray or dask.array.Array of shape (n_queries,)
            float64 (float32 when fitted and queried with float32). ``-inf`` where the
            density is exactly zero (compact kernels). A lazy Dask array, chunked like
            X's rows, when X is a Dask array.
        """
        check_is_fitted(self)
        if is_dask(X):
            return self._score_dask(X)
        Q = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if Q.dtype != self.X_.dtype:
            Q = Q.astype(np.float64)
        return _score_block(Q, self._state, rtol=float(self.rtol), atol=float(self.atol))

    def _score_dask(self, X: Any) -> Any:
        """score_samples for a Dask array: one pure task per row chunk, state shared once."""
        from ..distributed import map_row_chunks, share

        X = check_dask_queries(X, self.n_features_in_, "KernelDensity")
        dtype = X.dtype if X.dtype == self.X_.dtype else np.dtype(np.float64)
        X = X.astype(dtype) if X.dtype != dtype else X
        out_dtype = np.result_type(dtype, self.X_.dtype)
        return map_row_chunks(_score_chunk, X, share(self._state), dtype=out_dtype,
                              name="kde-score", rtol=float(self.rtol),
                              atol=float(self.atol))

    def score(self, X: Any, y: Any = None) -> float:
        """Total log-likelihood of X under the model.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_queries, n_features)
        y : None
            Ignored.

        Returns
        -------
        logprob : float or 0-d dask.array.Array
            A lazy 0-d Dask array (float64) when X is a Dask array: ``float(...)`` or
            ``.compute()`` evaluates it.
        """
        if is_dask(X):
            return self.score_samples(X).sum(dtype=np.float64)
        return float(np.sum(self.score_samples(X), dtype=np.float64))

    def sample(self, n_samples: int = 1, random_state: Any = None) -> np.ndarray:
        """Draw samples from the fitted density.

        A fitted point is drawn with probability proportional to its weight, then
        displaced by the kernel: Gaussian noise; for the other radial kernels a uniform
        direction times a radius drawn from the radial law ∝ r^(d-1) f(r) (exact for
        tophat and exponential, by inverse-CDF on a fine table otherwise).

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        X : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        check_integer(n_samples, "n_samples")
        rng = check_random_state(random_state)
        data = np.asarray(self.X_, dtype=np.float64)
        n, d = data.shape
        u = rng.uniform(0, 1, size=n_samples)
        if self.sample_weight_ is None:
            i = np.minimum((u * n).astype(np.int64), n - 1)
        else:
            cw = np.cumsum(np.asarray(self.sample_weight_, dtype=np.float64))
            i = np.minimum(np.searchsorted(cw, u * cw[-1], side="right"), n - 1)
        h = self._h
        if self._dk.name == "gaussian":
            return data[i] + rng.normal(size=(n_samples, d)) * h
        direction = rng.normal(size=(n_samples, d))
        direction /= np.linalg.norm(direction, axis=1, keepdims=True)
        if self._dk.name == "tophat":
            radius = rng.uniform(size=n_samples) ** (1.0 / d)
        elif self._dk.name == "exponential":
            radius = rng.gamma(d, 1.0, size=n_samples)
        else:
            radius = _radial_inverse_cdf(self._dk, d, rng.uniform(size=n_samples))
        return data[i] + direction * radius[:, None] * h

    def modes(self, **kwargs: Any) -> np.ndarray:
        """All modes of the fitted density, by mean shift from every fitted point.

        Parameters
        ----------
        **kwargs
            Passed to :func:`kernelkit.density.mean_shift` (``tol``, ``max_iter``,
            ``merge_tol``, ``n_components``, ``random_state``, ...).

        Returns
        -------
        modes : ndarray of shape (n_modes, n_features)
            Sorted by decreasing density.
        """
        from ._modes import mean_shift

        check_is_fitted(self)
        return mean_shift(self.X_, bandwidth=self.bandwidth_, weights=self.sample_weight_,
                          kernel=self.kernel, **kwargs).modes

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _radial_inverse_cdf(dk: DensityKernel, d: int, u: np.ndarray) -> np.ndarray:
    """Radii with density ∝ r^(d-1) f(r) on the kernel's support (inverse CDF table)."""
    top = dk.support if np.isfinite(dk.support) else 40.0
    r = np.linspace(0.0, top, 8193)
    pdf = r ** (d - 1) * dk.radial()(r)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(r))])
    cdf /= cdf[-1]
    return np.interp(u, cdf, r)


@dataclass(frozen=True)
class _ScoreState:
    """What scoring a query needs from a fitted :class:`KernelDensity`.

    Built once at fit and never changed; on a Dask cluster it is placed on the workers
    once per scoring call (``share``) and every task reads it. Xs and the pruning index
    (``prepared``) are None for ``method="grid"``, whose state is the grid.
    """

    dk: DensityKernel
    Xs: np.ndarray | None  # fitted points, centred and divided by h, in X_'s dtype
    weights: np.ndarray | None
    prepared: PreparedPoints | None
    centre: np.ndarray
    h: np.ndarray
    log_norm: float  # log of 1 / (W prod(h) Z)
    grid: GridDensity | None
    x_dtype: np.dtype


def _score_block(Q: np.ndarray, state: _ScoreState, *, rtol: float,
                 atol: float) -> np.ndarray:
    """Normalised log-densities of validated queries Q (float32/float64 ndarray)."""
    if state.grid is not None:
        from ._grid import interpolate

        with np.errstate(divide="ignore"):
            out = np.log(interpolate(state.grid, Q))
    else:
        assert state.Xs is not None
        single = state.x_dtype == np.float32 and Q.dtype == np.float32
        eps = max(EXACT_EPS["float32" if single else "float64"], 0.5 * rtol)
        log_abs = math.log(0.5 * atol) - state.log_norm if atol > 0 else -math.inf
        Qs = ((Q.astype(np.float64) - state.centre) / state.h).astype(Q.dtype, copy=False)
        out = log_kernel_sums(state.dk, Qs, state.Xs, state.weights, eps=eps,
                              log_abs=log_abs, prepared=state.prepared) + state.log_norm
    return out.astype(np.result_type(Q.dtype, state.x_dtype), copy=False)


def _score_chunk(Q: np.ndarray, state: _ScoreState, *, rtol: float,
                 atol: float) -> np.ndarray:
    """One Dask task: validate one row chunk like the in-memory path, then score it."""
    Q = check_array(Q, dtype=[np.float64, np.float32], input_name="X")
    if Q.dtype != state.x_dtype:
        Q = Q.astype(np.float64)
    return _score_block(Q, state, rtol=rtol, atol=atol)

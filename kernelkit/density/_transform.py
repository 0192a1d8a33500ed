"""``KernelDensityTransformer``: the kernel-density integral transform, per feature."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._validation import is_dask
from ..exceptions import ParameterError
from ._bandwidth import SELECTORS, select_bandwidth
from ._dask import check_dask_queries, reject_dask_fit

__all__ = ["KernelDensityTransformer", "kernel_cdf"]

#: Beyond this many bandwidths a kernel's CDF is 0 or 1 to float64 precision
#: (Gaussian: Phi(-9) = 1.1e-19; exponential: e^-45 / 2 = 1.4e-20).
_CDF_CUT = {"gaussian": 9.0, "exponential": 45.0}
#: Largest (queries x points) tile of kernel CDF values evaluated at once.
_MAX_TILE = 2**21
_CDF_KERNELS = ("gaussian", "tophat", "epanechnikov", "exponential", "linear", "cosine")


def kernel_cdf(name: str, u: np.ndarray) -> np.ndarray:
    """CDF of the normalised 1-D kernel at u (in bandwidth units)."""
    if name == "gaussian":
        return ndtr(u)
    if name == "exponential":
        return np.where(u < 0, 0.5 * np.exp(np.minimum(u, 0)), 1 - 0.5 * np.exp(-np.abs(u)))
    v = np.clip(u, -1.0, 1.0)
    if name == "tophat":
        return 0.5 * (v + 1)
    if name == "epanechnikov":
        return 0.5 + 0.75 * v - 0.25 * v ** 3
    if name == "linear":
        return np.where(v < 0, 0.5 * (1 + v) ** 2, 1 - 0.5 * (1 - v) ** 2)
    return 0.5 * (1 + np.sin(0.5 * math.pi * v))  # cosine


def _kde_cdf(name: str, data: np.ndarray, cumw: np.ndarray, w: np.ndarray, h: float,
             x: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Weighted KDE CDF sum_j w_j K((x - x_j)/h) / W for sorted data (exact to rounding).

    Points more than ``cut`` bandwidths below x contribute their full weight (prefix
    sums), points more than ``cut`` above contribute nothing; only the window between
    is evaluated.
    """
    cut = _CDF_CUT.get(name, 1.0)
    total = cumw[-1]
    out = np.empty(x.size)
    order = np.argsort(x)
    xs = x[order]
    for c0 in range(0, xs.size, chunk):
        q = xs[c0:c0 + chunk]
        lo = int(np.searchsorted(data, q[0] - cut * h, side="left"))
        hi = int(np.searchsorted(data, q[-1] + cut * h, side="right"))
        below = cumw[lo - 1] if lo > 0 else 0.0
        part = np.zeros(q.size)
        step = max(1, _MAX_TILE // q.size)  # bounded scratch: at most _MAX_TILE values
        for j0 in range(lo, hi, step):
            j1 = min(hi, j0 + step)
            part += (kernel_cdf(name, (q[:, None] - data[None, j0:j1]) / h)
                     * w[j0:j1]).sum(axis=1)
        out[order[c0:c0 + chunk]] = (below + part) / total
    return out


class KernelDensityTransformer(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Kernel-density integral transform: each feature mapped by its smoothed CDF.

    For every feature, fit a 1-D KDE F and map x to
    ``(F(x) - F(min)) / (F(max) - F(min))`` (min, max: the training range), clipped to
    [0, 1]. It interpolates between min-max scaling (bandwidth → ∞: F is linear over the
    data) and the quantile transform (bandwidth → 0: F is the empirical CDF), and is
    smooth and monotone in between.

    Parameters
    ----------
    bandwidth : float or str, default=1.0
        A float is in units of each feature's standard deviation (so the transform is
        scale-invariant); a string picks a selector per feature (``"scott"``,
        ``"silverman"``, ``"isj"``, ``"cv"``).
    kernel : str, default="gaussian"
        One of the six 1-D kernels of :class:`KernelDensity`.

    Attributes
    ----------
    bandwidths_ : ndarray of shape (n_features,)
        Absolute bandwidth per feature.
    n_features_in_ : int

    References
    ----------
    .. [1] C. McCarter, "The Kernel Density Integral Transformation", TMLR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.density import KernelDensityTransformer
    >>> X = np.array([[0.0], [1.0], [2.0], [10.0]])
    >>> KernelDensityTransformer(bandwidth=100.0).fit_transform(X).ravel().round(2)
    array([0. , 0.1, 0.2, 1. ])
    """

    _parameter_constraints: dict = {
        "bandwidth": [Interval(numbers.Real, 0, None, closed="neither"),
                      StrOptions(set(SELECTORS))],
        "kernel": [StrOptions(set(_CDF_KERNELS))],
    }

    def __init__(self, *, bandwidth: Any = 1.0, kernel: str = "gaussian") -> None:
        self.bandwidth = bandwidth
        self.kernel = kernel

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any = None) -> KernelDensityTransformer:
        """Fit one 1-D KDE per feature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : KernelDensityTransformer

        Raises
        ------
        InputTypeError
            If X is a Dask array (the sorted columns are the model; fit on
            ``X.compute()`` or a subsample). :meth:`transform` accepts Dask arrays.
        """
        reject_dask_fit("KernelDensityTransformer", X=X)
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        X64 = X.astype(np.float64)
        d = X.shape[1]
        if isinstance(self.bandwidth, str):
            h = np.empty(d)
            for k in range(d):
                h[k] = select_bandwidth(self.bandwidth, X64[:, k:k + 1])[0]
        else:
            if not math.isfinite(float(self.bandwidth)):
                raise ParameterError(f"bandwidth must be finite, got {self.bandwidth!r}.")
            sd = X64.std(axis=0)
            h = float(self.bandwidth) * np.where(sd > 0, sd, 1.0)
        self.bandwidths_ = h
        self._data = [np.sort(X64[:, k]) for k in range(d)]
        self._ends = np.empty((d, 2))
        for k, col in enumerate(self._data):
            cumw = np.arange(1, col.size + 1, dtype=np.float64)
            self._ends[k] = _kde_cdf(self.kernel, col, cumw, np.ones(col.size), h[k],
                                     np.array([col[0], col[-1]]))
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Map each feature through its scaled kernel-density CDF.

        Parameters
        ----------
        X : array-like or dask.array.Array of shape (n_samples, n_features)
            A Dask array (chunked by rows) is transformed lazily on the cluster: the
            fitted columns are placed on the workers once, one task per row chunk.

        Returns
        -------
        Xt : ndarray or dask.array.Array of shape (n_samples, n_features), values in [0, 1]
            Same float dtype as X (float32 stays float32); lazy when X is a Dask array.
        """
        check_is_fitted(self)
        state = _TransformState(self.kernel, self._data, self.bandwidths_, self._ends)
        if is_dask(X):
            from ..distributed import map_row_chunks, share

            X = check_dask_queries(X, self.n_features_in_, "KernelDensityTransformer")
            return map_row_chunks(_transform_chunk, X, share(state), dtype=X.dtype,
                                  tail=(self.n_features_in_,), name="kde-transform")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return _transform_block(X, state)

    def __sklearn_tags__(self):  # type: ignore[no-untyped-def]
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


@dataclass(frozen=True)
class _TransformState:
    """The fitted transformer's state (one object: ``client.scatter`` would split a tuple)."""

    kernel: str
    data: list[np.ndarray]  # sorted training columns
    bandwidths: np.ndarray
    ends: np.ndarray  # F(min), F(max) per feature


def _transform_block(X: np.ndarray, state: _TransformState) -> np.ndarray:
    """The transform of validated rows X, from the fitted state."""
    kernel, data, bandwidths, ends = state.kernel, state.data, state.bandwidths, state.ends
    out = np.empty(X.shape, dtype=np.float64)
    for k, col in enumerate(data):
        cumw = np.arange(1, col.size + 1, dtype=np.float64)
        F = _kde_cdf(kernel, col, cumw, np.ones(col.size), bandwidths[k],
                     X[:, k].astype(np.float64))
        lo, hi = ends[k]
        span = hi - lo
        out[:, k] = (F - lo) / span if span > 0 else 0.5
    return np.clip(out, 0.0, 1.0).astype(X.dtype, copy=False)


def _transform_chunk(X: np.ndarray, state: _TransformState) -> np.ndarray:
    """One Dask task: validate one row chunk like the in-memory path, then transform it."""
    X = check_array(X, dtype=[np.float64, np.float32], input_name="X")
    return _transform_block(X, state)

"""Shared pieces of the kernel tests: input checks, the median heuristic, random states,
p-values and the result dataclass."""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._validation import check_array, check_positive
from ..exceptions import InputTypeError, InputValueError, ParameterError, ShapeError
from ..kernels import Gaussian
from ..kernels._base import Kernel

__all__ = ["TestResult", "median_heuristic"]

#: Rows drawn (without replacement) for the median heuristic: 1000 rows give ~5e5
#: pairwise distances, enough for a stable median at negligible cost.
MEDIAN_SUBSAMPLE = 1000
#: Fixed seed of the median-heuristic subsample, so that ``kernel=None`` is deterministic.
MEDIAN_SEED = 0


@dataclass(frozen=True)
class TestResult:
    """Outcome of a kernel hypothesis test (like the result objects of ``scipy.stats``).

    Attributes
    ----------
    statistic : float
        The test statistic on the observed data.
    pvalue : float
        The p-value; for permutation and bootstrap tests it is
        ``(1 + #{null >= statistic}) / (1 + n_null)``, which is valid in finite samples.
    reject : bool
        Whether the null hypothesis is rejected at level ``alpha``.
    alpha : float
        The level of the test.
    null_samples : ndarray of shape (n_null,)
        The statistic recomputed under the null (permutations, wild bootstrap); empty
        for tests calibrated analytically (``method="gamma"``).
    kernel : Kernel or list of Kernel
        The kernel(s) used (after the median heuristic, if ``kernel=None``).
    method : str
        How the null distribution was obtained.
    details : dict
        Method-specific extras (e.g. per-bandwidth statistics for MMDAgg).
    """

    __test__ = False  # not a pytest test class

    statistic: float
    pvalue: float
    reject: bool
    alpha: float
    null_samples: np.ndarray
    kernel: Any
    method: str
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (kernels as their repr, null samples as a list)."""
        kern = ([repr(k) for k in self.kernel] if isinstance(self.kernel, (list, tuple))
                else repr(self.kernel))
        return {"statistic": float(self.statistic), "pvalue": float(self.pvalue),
                "reject": bool(self.reject), "alpha": float(self.alpha),
                "method": self.method, "kernel": kern,
                "n_null": int(len(self.null_samples)),
                "details": _jsonable(self.details)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Kernel):
        return repr(value)
    return value


# ------------------------------------------------------------------------- validation
def check_samples(X: Any, name: str, *, min_samples: int = 2) -> np.ndarray:
    """A 2-D finite float array with at least ``min_samples`` rows."""
    reject_dask(X, name)
    if isinstance(X, np.ndarray) and X.ndim == 1 or (
            not hasattr(X, "ndim") and np.ndim(X) == 1):
        raise ShapeError(f"{name} must be 2-D of shape (n_samples, n_features), got 1-D; "
                         f"use {name}.reshape(-1, 1) for one feature.")
    arr = check_array(X, name)
    if arr.shape[0] < min_samples:
        raise InputValueError(
            f"{name} has {arr.shape[0]} sample(s); this statistic needs at least "
            f"{min_samples}. Collect more samples."
        )
    return arr


def reject_dask(X: Any, name: str) -> None:
    """InputTypeError for a Dask array where only in-memory data are taken."""
    if type(X).__module__.split(".")[0] == "dask":
        raise InputTypeError(
            f"{name} is a Dask array, which this function does not take (only mmd, "
            "mmd_test, hsic and hsic_test run on a Dask cluster); pass "
            f"{name}.compute() if it fits in memory, or a subsample.")


def check_same_features(X: np.ndarray, Y: np.ndarray, names: str = "X and Y") -> None:
    if X.shape[1] != Y.shape[1]:
        a, b = names.split(" and ")
        raise ShapeError(
            f"{a} has {X.shape[1]} features but {b} has {Y.shape[1]}; a two-sample "
            "statistic compares samples of the same space, so pass arrays with the same "
            "number of columns."
        )


def common_dtype(*arrays: np.ndarray) -> np.dtype:
    return (np.dtype(np.float32) if all(a.dtype == np.float32 for a in arrays)
            else np.dtype(np.float64))


def check_kernel(kernel: Any, name: str = "kernel") -> Kernel:
    if not isinstance(kernel, Kernel):
        raise ParameterError(f"{name} must be a kernelkit Kernel (e.g. "
                             f"kernelkit.kernels.Gaussian(bandwidth=1.0)) or None for the "
                             f"median heuristic, got {type(kernel).__name__}.")
    return kernel


def check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or \
            not 0.0 < float(alpha) < 1.0:
        raise ParameterError(f"alpha must be a number in (0, 1), got {alpha!r}; "
                             "the usual level is 0.05.")
    return float(alpha)


def check_count(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ParameterError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                             f"got {value!r}.")
    return str(value)


def check_rng(random_state: Any) -> np.random.Generator:
    """A numpy Generator from None, an int, a Generator or a RandomState."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError):
        raise ParameterError(f"random_state must be None, an int or a numpy Generator, "
                             f"got {random_state!r}.") from None


# ------------------------------------------------------------------------- bandwidths
def pairwise_distance_sample(Z: np.ndarray, max_rows: int = MEDIAN_SUBSAMPLE,
                             seed: int = MEDIAN_SEED) -> np.ndarray:
    """Euclidean distances between all pairs of (at most ``max_rows``) random rows."""
    from scipy.spatial.distance import pdist

    if Z.shape[0] > max_rows:
        rows = np.random.default_rng(seed).choice(Z.shape[0], max_rows, replace=False)
        Z = Z[np.sort(rows)]
    return pdist(np.asarray(Z, dtype=np.float64))


def median_heuristic(*samples: Any, max_rows: int = MEDIAN_SUBSAMPLE) -> float:
    """Median pairwise Euclidean distance of the pooled samples (a bandwidth).

    The median is taken over all pairs of at most ``max_rows`` rows drawn without
    replacement, with a fixed seed (so the result is deterministic). When more than half
    of the pairs coincide (heavily tied data) the median of the *non-zero* distances is
    used instead, so the bandwidth stays positive.

    Parameters
    ----------
    *samples : array-like of shape (n_i, n_features)
        One or several samples; they are pooled.
    max_rows : int, default=1000
        Size of the random subsample.

    Returns
    -------
    bandwidth : float

    Raises
    ------
    InputValueError
        If every row is identical (all distances are zero): no data-driven bandwidth
        exists; pass an explicit ``kernel``.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.stats import median_heuristic
    >>> median_heuristic(np.array([[0.0], [1.0], [3.0]]))
    2.0
    """
    arrays = [check_array(s, "X") for s in samples]
    if len({a.shape[1] for a in arrays}) > 1:
        raise ShapeError(
            f"the samples have different numbers of features "
            f"({', '.join(str(a.shape[1]) for a in arrays)}); pooled distances need the same "
            "number of columns in every sample."
        )
    Z = np.concatenate(arrays, axis=0)
    dist = pairwise_distance_sample(Z, max_rows)
    if dist.size == 0 or not np.any(dist > 0):
        raise InputValueError(
            "all samples are identical (every pairwise distance is 0), so the median "
            "heuristic has no bandwidth to offer; pass an explicit kernel, e.g. "
            "kernel=Gaussian(bandwidth=1.0), or check the data."
        )
    med = float(np.median(dist))
    if med <= 0:
        med = float(np.median(dist[dist > 0]))
    return med


def default_kernel(kernel: Any, *samples: np.ndarray) -> Kernel:
    """``kernel`` itself, or a Gaussian with the median-heuristic bandwidth when None.

    For Dask samples only the median heuristic's subsample is pulled to the client
    (:func:`kernelkit.stats._dask.dask_default_kernel`; same rows, same bandwidth)."""
    if any(type(s).__module__.split(".")[0] == "dask" for s in samples):
        from ._dask import dask_default_kernel

        return dask_default_kernel(kernel, *samples)
    if kernel is None:
        return Gaussian(bandwidth=median_heuristic(*samples))
    return check_kernel(kernel)


def check_weights(weights: Any, n: int, name: str) -> np.ndarray | None:
    """Non-negative weights of length n, normalised to sum to one (None stays None)."""
    if weights is None:
        return None
    w = check_array(weights, name, ndim=(1,))
    if w.shape[0] != n:
        raise ShapeError(f"{name} has {w.shape[0]} entries but the sample has {n} rows; "
                         "pass one weight per row.")
    w = np.asarray(w, dtype=np.float64)
    if np.any(w < 0) or not w.sum() > 0:
        raise InputValueError(f"{name} must be non-negative with a positive sum.")
    return w / w.sum()


def permutation_pvalue(statistic: float, null: np.ndarray) -> float:
    """``(1 + #{null >= statistic}) / (1 + len(null))``, exact-level for exchangeable nulls."""
    return float((1 + np.count_nonzero(null >= statistic)) / (1 + null.size))


def positive(value: Any, name: str) -> float:
    return float(check_positive(value, name))

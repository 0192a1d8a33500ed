"""Naive dense oracles: the slow, obviously correct twins of every fast path.

Everything here is float64 numpy, computed from explicit pairwise differences
``X[:, None, :] - Y[None, :, :]`` (or explicit products), with each kernel's formula
written out again independently of the kernel classes (only their parameters are read).
Use them on small inputs only: memory is O(n * m * d).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import logsumexp

from ..kernels import (
    Cosine,
    FusedSpec,
    Gaussian,
    InverseMultiquadric,
    Kernel,
    Laplace,
    Linear,
    Matern,
    Periodic,
    Polynomial,
    Product,
    RationalQuadratic,
    Scaled,
    Sum,
)

__all__ = [
    "naive_kernel_matrix",
    "naive_log_kernel_matrix",
    "naive_matvec",
    "naive_logsumexp",
    "naive_knn",
    "naive_fused_matrix",
]


def _f64(value: Any) -> np.ndarray:
    """Any array, tensor or parameter as a float64 numpy array (tensors detached)."""
    if type(value).__module__.split(".")[0] == "torch":
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def _pairs(X: Any, Y: Any) -> tuple[np.ndarray, np.ndarray]:
    X = _f64(X)
    Y = X if Y is None else _f64(Y)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"oracle needs 2-D X, Y with equal columns, got {X.shape}, {Y.shape}")
    return X, Y


def _sq(X: np.ndarray, Y: np.ndarray, bandwidth: Any = 1.0) -> np.ndarray:
    """s[i, j] = ||(X[i] - Y[j]) / bandwidth||^2 by direct differences."""
    D = (X[:, None, :] - Y[None, :, :]) / _f64(bandwidth)
    return (D * D).sum(axis=-1)


def _dots(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    return (X[:, None, :] * Y[None, :, :]).sum(axis=-1)


def _unit_rows(A: np.ndarray) -> np.ndarray:
    peak = np.abs(A).max(axis=1)
    if np.any(peak == 0):
        raise ValueError("cosine oracle: a row is all zeros")
    A = A / peak[:, None]  # so that tiny rows do not underflow when squared
    return A / np.sqrt((A * A).sum(axis=1))[:, None]


# -- kernel values -----------------------------------------------------------------------
def _matern(nu: float, s: np.ndarray) -> np.ndarray:
    r = np.sqrt(s)
    if nu == 0.5:
        return np.exp(-r)
    if nu == 1.5:
        return (1 + math.sqrt(3) * r) * np.exp(-math.sqrt(3) * r)
    if nu == 2.5:
        return (1 + math.sqrt(5) * r + 5 * s / 3) * np.exp(-math.sqrt(5) * r)
    raise ValueError(f"no Matérn oracle for nu={nu}")


def _periodic_exponent(k: Periodic, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    dist = np.sqrt(_sq(X, Y))
    p, h = float(_f64(k.period)), float(_f64(k.bandwidth))
    return -2 * np.sin(np.pi * dist / p) ** 2 / h**2


_Formula = Callable[[Any, np.ndarray, np.ndarray], np.ndarray]

_VALUES: dict[type, _Formula] = {
    Gaussian: lambda k, X, Y: np.exp(-_sq(X, Y, k.bandwidth) / 2),
    Laplace: lambda k, X, Y: np.exp(-np.sqrt(_sq(X, Y, k.bandwidth))),
    Matern: lambda k, X, Y: _matern(float(k.nu), _sq(X, Y, k.bandwidth)),
    InverseMultiquadric: lambda k, X, Y: (
        (_f64(k.c) ** 2 + _sq(X, Y, k.bandwidth)) ** -_f64(k.beta)),
    RationalQuadratic: lambda k, X, Y: (
        (1 + _sq(X, Y, k.bandwidth) / (2 * _f64(k.alpha))) ** -_f64(k.alpha)),
    Periodic: lambda k, X, Y: np.exp(_periodic_exponent(k, X, Y)),
    Linear: lambda k, X, Y: _dots(X, Y),
    Polynomial: lambda k, X, Y: (_f64(k.gamma) * _dots(X, Y) + _f64(k.coef0)) ** k.degree,
    Cosine: lambda k, X, Y: _dots(_unit_rows(X), _unit_rows(Y)),
    Sum: lambda k, X, Y: naive_kernel_matrix(k.k1, X, Y) + naive_kernel_matrix(k.k2, X, Y),
    Product: lambda k, X, Y: naive_kernel_matrix(k.k1, X, Y) * naive_kernel_matrix(k.k2, X, Y),
    Scaled: lambda k, X, Y: _f64(k.scale) * naive_kernel_matrix(k.kernel, X, Y),
}


def _log_matern(nu: float, s: np.ndarray) -> np.ndarray:
    r = np.sqrt(s)
    if nu == 0.5:
        return -r
    if nu == 1.5:
        return np.log1p(math.sqrt(3) * r) - math.sqrt(3) * r
    if nu == 2.5:
        return np.log1p(math.sqrt(5) * r + 5 * s / 3) - math.sqrt(5) * r
    raise ValueError(f"no Matérn oracle for nu={nu}")


_LOG_VALUES: dict[type, _Formula] = {
    Gaussian: lambda k, X, Y: -_sq(X, Y, k.bandwidth) / 2,
    Laplace: lambda k, X, Y: -np.sqrt(_sq(X, Y, k.bandwidth)),
    Matern: lambda k, X, Y: _log_matern(float(k.nu), _sq(X, Y, k.bandwidth)),
    InverseMultiquadric: lambda k, X, Y: (
        -_f64(k.beta) * np.log(_f64(k.c) ** 2 + _sq(X, Y, k.bandwidth))),
    RationalQuadratic: lambda k, X, Y: (
        -_f64(k.alpha) * np.log1p(_sq(X, Y, k.bandwidth) / (2 * _f64(k.alpha)))),
    Periodic: lambda k, X, Y: _periodic_exponent(k, X, Y),
    Sum: lambda k, X, Y: np.logaddexp(naive_log_kernel_matrix(k.k1, X, Y),
                                      naive_log_kernel_matrix(k.k2, X, Y)),
    Product: lambda k, X, Y: (naive_log_kernel_matrix(k.k1, X, Y)
                              + naive_log_kernel_matrix(k.k2, X, Y)),
    Scaled: lambda k, X, Y: np.log(_f64(k.scale)) + naive_log_kernel_matrix(k.kernel, X, Y),
}


def _dispatch(table: dict[type, _Formula], kernel: Kernel, what: str) -> _Formula:
    try:
        return table[type(kernel)]
    except KeyError:
        raise TypeError(
            f"no naive {what} oracle for {type(kernel).__name__}; a KernelTestCase for a "
            "new kernel must override `naive_matrix` (and `naive_log_matrix`)."
        ) from None


def naive_kernel_matrix(kernel: Kernel, X: Any, Y: Any = None) -> np.ndarray:
    """Dense K[i, j] = k(X[i], Y[j]) in float64, by direct pairwise formulas.

    Parameters
    ----------
    kernel : Kernel
        Any built-in kernel, or sums, products and positive multiples of them.
    X : array-like of shape (n, d)
    Y : array-like of shape (m, d), default=None
        None means ``Y = X``.

    Returns
    -------
    K : ndarray of shape (n, m), float64
    """
    X, Y = _pairs(X, Y)
    return _dispatch(_VALUES, kernel, "kernel")(kernel, X, Y)


def naive_log_kernel_matrix(kernel: Kernel, X: Any, Y: Any = None) -> np.ndarray:
    """Dense log k(X[i], Y[j]) in float64 from log formulas (finite where k underflows).

    Only for positive kernels; raises TypeError for the others.
    """
    X, Y = _pairs(X, Y)
    return _dispatch(_LOG_VALUES, kernel, "log-kernel")(kernel, X, Y)


def naive_matvec(kernel: Kernel, X: Any, Y: Any, V: Any) -> np.ndarray:
    """K(X, Y) @ V in float64; V of shape (m,) or (m, k)."""
    return naive_kernel_matrix(kernel, X, Y) @ _f64(V)


def naive_logsumexp(kernel: Kernel, X: Any, Y: Any, weights: Any = None) -> np.ndarray:
    """out[i] = log sum_j weights[j] * k(X[i], Y[j]), from the log-kernel in float64.

    Parameters
    ----------
    kernel : Kernel
        A positive kernel.
    X : array-like of shape (n, d)
    Y : array-like of shape (m, d)
    weights : array-like of shape (m,) or (m, k), default=None
        Non-negative; None means all ones.

    Returns
    -------
    out : ndarray of shape (n,) or (n, k)
    """
    logK = naive_log_kernel_matrix(kernel, X, Y)
    if weights is None:
        return logsumexp(logK, axis=1)
    w = _f64(weights)
    if np.any(w < 0):
        raise ValueError("naive_logsumexp: weights must be non-negative")
    if w.ndim == 1:
        return logsumexp(logK, b=w[None, :], axis=1)
    return logsumexp(logK[:, :, None], b=w[None, :, :], axis=1)


def naive_knn(X: Any, Y: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest rows of Y for each row of X (Euclidean), ties to the lower index.

    Returns
    -------
    distances : ndarray of shape (n, k), float64, ascending along each row
    indices : ndarray of shape (n, k), int64
    """
    X, Y = _pairs(X, Y)
    if not 1 <= k <= Y.shape[0]:
        raise ValueError(f"naive_knn: k={k} must be between 1 and {Y.shape[0]}")
    dist = np.sqrt(_sq(X, Y))
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(dist, order, axis=1), order.astype(np.int64)


_PROFILES: dict[str, Callable[[np.ndarray, tuple[float, ...]], np.ndarray]] = {
    "gaussian": lambda s, p: np.exp(-s / 2),
    "laplace": lambda s, p: _matern(0.5, s),
    "matern32": lambda s, p: _matern(1.5, s),
    "matern52": lambda s, p: _matern(2.5, s),
    "imq": lambda s, p: (p[0] + s) ** -p[1],
    "rq": lambda s, p: (1 + s / (2 * p[0])) ** -p[0],
    "linear": lambda t, p: t,
    "poly": lambda t, p: (p[0] * t + p[1]) ** p[2],
}


def naive_fused_matrix(spec: FusedSpec, X: Any, Y: Any = None) -> np.ndarray:
    """Dense kernel matrix described by a :class:`~kernelkit.kernels.FusedSpec`.

    Checks that a kernel's ``_fused()`` description (profile name, parameter order,
    inverse bandwidth, scale, normalisation) means the same kernel as its ``_tile``.
    """
    X, Y = _pairs(X, Y)
    if spec.profile not in _PROFILES:
        raise TypeError(f"unknown fused profile {spec.profile!r}")
    if spec.kind == "radial":
        inv = _f64(spec.inv_bandwidth)
        arg = _sq(X * inv, Y * inv)
    elif spec.kind == "dot":
        if spec.normalize:
            X, Y = _unit_rows(X), _unit_rows(Y)
        arg = _dots(X * _f64(spec.inv_bandwidth), Y * _f64(spec.inv_bandwidth))
    else:
        raise TypeError(f"unknown fused kind {spec.kind!r}")
    return spec.scale * _PROFILES[spec.profile](arg, spec.params)

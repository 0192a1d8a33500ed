"""Built-in data: seeded generators and the small data sets shipped with scikit-learn.

Nothing here downloads anything. Generators take a ``random_state`` (None, an int seed or
a :class:`numpy.random.Generator`) and return the same arrays for the same seed.
Every function returns ``(X, y)``: features of shape (n_samples, n_features) and integer
labels of shape (n_samples,).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .exceptions import ParameterError

__all__ = ["make_moons", "make_gaussian_mixture", "load_iris", "load_digits",
           "make_smooth_regression", "smooth_target"]

RandomState = None | int | np.random.Generator


def _rng(random_state: Any) -> np.random.Generator:
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ParameterError(f"random_state must be >= 0, got {random_state}.")
        return np.random.default_rng(int(random_state))
    raise ParameterError(
        "random_state must be None, a non-negative int or a numpy.random.Generator, "
        f"got {random_state!r}."
    )


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_nonneg(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or \
            not math.isfinite(float(value)) or value < 0:
        raise ParameterError(f"{name} must be a finite number >= 0, got {value!r}.")
    return float(value)


def _check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ParameterError(f"dtype must be float32 or float64, got {dtype!r}.")
    return dt


def make_moons(n_samples: int = 200, *, noise: float = 0.1,
               random_state: RandomState = None,
               dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles in 2-D, a classic non-linear two-class problem.

    Parameters
    ----------
    n_samples : int, default=200
        Total number of points (>= 2); the first class gets ``n_samples // 2``.
    noise : float, default=0.1
        Standard deviation of Gaussian noise added to every coordinate (>= 0).
    random_state : None, int or numpy.random.Generator, default=None
        Seed for reproducible output.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Dtype of ``X``.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The points, upper moon first.
    y : ndarray of shape (n_samples,), int64
        0 for the upper moon, 1 for the lower one.

    Raises
    ------
    ParameterError
        ``n_samples < 2``, negative ``noise``, a bad ``random_state`` or ``dtype``.

    Examples
    --------
    >>> from kernelkit.datasets import make_moons
    >>> X, y = make_moons(100, noise=0.05, random_state=0)
    >>> X.shape, y.shape, int(y.sum())
    ((100, 2), (100,), 50)
    """
    n_samples = _check_int(n_samples, "n_samples", 2)
    noise = _check_nonneg(noise, "noise")
    dt = _check_dtype(dtype)
    rng = _rng(random_state)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate([
        np.column_stack([np.cos(t_out), np.sin(t_out)]),
        np.column_stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)]),
    ])
    y = np.concatenate([np.zeros(n_out, dtype=np.int64), np.ones(n_in, dtype=np.int64)])
    if noise > 0:
        X += rng.normal(scale=noise, size=X.shape)
    return X.astype(dt), y


def make_gaussian_mixture(n_samples: int = 200, *, n_components: int = 3,
                          n_features: int = 2, cluster_std: float = 1.0,
                          center_box: tuple[float, float] = (-6.0, 6.0),
                          weights: Any = None, random_state: RandomState = None,
                          dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Samples of a mixture of isotropic Gaussians with random centres.

    Parameters
    ----------
    n_samples : int, default=200
        Number of points (>= 1).
    n_components : int, default=3
        Number of Gaussian components (>= 1).
    n_features : int, default=2
        Dimension of each point (>= 1).
    cluster_std : float, default=1.0
        Standard deviation of every component (>= 0).
    center_box : tuple of two floats, default=(-6.0, 6.0)
        Centres are drawn uniformly from this box in every coordinate.
    weights : array-like of shape (n_components,), default=None
        Mixture weights (non-negative, normalised to sum to one); None means equal.
    random_state : None, int or numpy.random.Generator, default=None
        Seed for reproducible output.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Dtype of ``X``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), int64
        The component each point was drawn from.

    Raises
    ------
    ParameterError
        Non-positive counts, negative ``cluster_std``, an empty ``center_box``, bad
        ``weights``, ``random_state`` or ``dtype``.

    Examples
    --------
    >>> from kernelkit.datasets import make_gaussian_mixture
    >>> X, y = make_gaussian_mixture(300, n_components=4, n_features=3, random_state=1)
    >>> X.shape, sorted(set(y.tolist()))
    ((300, 3), [0, 1, 2, 3])
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_components = _check_int(n_components, "n_components", 1)
    n_features = _check_int(n_features, "n_features", 1)
    cluster_std = _check_nonneg(cluster_std, "cluster_std")
    dt = _check_dtype(dtype)
    try:
        low, high = (float(v) for v in center_box)
    except (TypeError, ValueError):
        raise ParameterError(f"center_box must be a pair (low, high), got {center_box!r}.") \
            from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ParameterError(f"center_box must satisfy low < high, got {center_box!r}.")
    if weights is None:
        p = np.full(n_components, 1.0 / n_components)
    else:
        p = np.asarray(weights, dtype=np.float64)
        if p.shape != (n_components,) or not np.all(np.isfinite(p)) or np.any(p < 0) \
                or p.sum() <= 0:
            raise ParameterError(
                f"weights must be {n_components} non-negative numbers with a positive sum, "
                f"got {weights!r}."
            )
        p = p / p.sum()
    rng = _rng(random_state)
    centers = rng.uniform(low, high, size=(n_components, n_features))
    y = rng.choice(n_components, size=n_samples, p=p).astype(np.int64)
    X = centers[y] + rng.normal(scale=cluster_std, size=(n_samples, n_features))
    return X.astype(dt), y


def load_iris(*, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Fisher's iris data (150 flowers, 4 measurements, 3 species), shipped with sklearn.

    Parameters
    ----------
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Dtype of ``X``.

    Returns
    -------
    X : ndarray of shape (150, 4)
        Sepal length, sepal width, petal length, petal width (cm).
    y : ndarray of shape (150,), int64
        Species 0, 1, 2.

    References
    ----------
    R. A. Fisher, "The use of multiple measurements in taxonomic problems",
    Annals of Eugenics 7 (1936).

    Examples
    --------
    >>> from kernelkit.datasets import load_iris
    >>> X, y = load_iris()
    >>> X.shape, y.shape
    ((150, 4), (150,))
    """
    from sklearn.datasets import load_iris as _load

    dt = _check_dtype(dtype)
    bunch = _load()
    return np.asarray(bunch.data, dtype=dt), np.asarray(bunch.target, dtype=np.int64)


def load_digits(*, n_class: int = 10,
                dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """8 x 8 images of handwritten digits (1797 in total), shipped with sklearn.

    Parameters
    ----------
    n_class : int, default=10
        Keep the digits ``0 .. n_class - 1`` (1 <= n_class <= 10).
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Dtype of ``X``.

    Returns
    -------
    X : ndarray of shape (n_samples, 64)
        Pixel intensities 0..16, row by row.
    y : ndarray of shape (n_samples,), int64
        The digit shown.

    References
    ----------
    E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits",
    UCI Machine Learning Repository (1998).

    Examples
    --------
    >>> from kernelkit.datasets import load_digits
    >>> X, y = load_digits()
    >>> X.shape, int(y.max())
    ((1797, 64), 9)
    >>> load_digits(n_class=2)[0].shape
    (360, 64)
    """
    from sklearn.datasets import load_digits as _load

    n_class = _check_int(n_class, "n_class", 1)
    if n_class > 10:
        raise ParameterError(f"n_class must be between 1 and 10, got {n_class}.")
    dt = _check_dtype(dtype)
    bunch = _load(n_class=n_class)
    return np.asarray(bunch.data, dtype=dt), np.asarray(bunch.target, dtype=np.int64)


def smooth_target(X: np.ndarray) -> np.ndarray:
    """The noiseless target of :func:`make_smooth_regression`, f(x), for any ``X`` (n, d).

    f(x) = d^{-1/2} Σ_j sin(1.5 x_j) + 0.5 cos(d^{-1/2} Σ_j x_j): smooth, of order one,
    depending on every feature, and the same function for every seed.
    """
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    return np.sin(1.5 * X).sum(axis=1) / math.sqrt(d) + 0.5 * np.cos(X.sum(axis=1)
                                                                     / math.sqrt(d))


def make_smooth_regression(n_samples: int = 1000, n_features: int = 8, *,
                           noise: float = 0.1, random_state: RandomState = None,
                           dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """A smooth regression problem with Gaussian noise of known standard deviation.

    X is standard normal; y = f(X) + noise · ε with f from :func:`smooth_target` and
    ε standard normal, so the best possible test RMSE (the noise floor) is ``noise``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points (>= 1).
    n_features : int, default=8
        Dimension d (>= 1).
    noise : float, default=0.1
        Standard deviation σ of the noise (>= 0).
    random_state : None, int or numpy.random.Generator, default=None
        Seed for reproducible output.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64
        Dtype of ``X`` and ``y``.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Real-valued targets (unlike the classification generators).

    Raises
    ------
    ParameterError
        ``n_samples < 1``, ``n_features < 1``, negative ``noise``, a bad
        ``random_state`` or ``dtype``.

    Examples
    --------
    >>> from kernelkit.datasets import make_smooth_regression, smooth_target
    >>> X, y = make_smooth_regression(10_000, 8, noise=0.1, random_state=0)
    >>> X.shape, round(float((y - smooth_target(X)).std()), 2)
    ((10000, 8), 0.1)
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    n_features = _check_int(n_features, "n_features", 1)
    noise = _check_nonneg(noise, "noise")
    dt = _check_dtype(dtype)
    rng = _rng(random_state)
    X = rng.standard_normal((n_samples, n_features))
    y = smooth_target(X)
    if noise > 0:
        y += noise * rng.standard_normal(n_samples)
    return X.astype(dt), y.astype(dt)

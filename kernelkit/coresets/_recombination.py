"""Recombination: a weighted coreset that keeps the sample means of a set of features.

Given n points with weights 1/n and D - 1 feature functions (Nyström features of the
kernel), Carathéodory's theorem guarantees a subset of at most D points with
non-negative weights that reproduces the mean of every feature and of the constant
exactly. It is found by eliminating points along null vectors of the D x (D + 1)
matrices of features (``_caratheodory``), accelerated by the recursive merging of
Tchernychova & Lyons: the points are split into 2D groups, the groups are replaced by
their weighted means, recombination of those 2D means drops at least half of the groups,
and the surviving groups are rescaled, in O(n D + D^4 log(n / D)) time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._config import get_config
from ..exceptions import MemoryBudgetError
from ..kernels import Kernel
from ._prepare import check_data, check_kernel, check_rng, check_size

__all__ = ["recombination"]

#: Nyström eigenvalues below this fraction of the largest are dropped (rank deficiency).
EIG_RTOL = 1e-10


def recombination(X: Any, size: int, kernel: Kernel | None = None, *,
                  random_state: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted coreset by recombination: at most ``size`` points of X with non-negative
    weights that reproduce the sample mean of ``size - 1`` Nyström features exactly.

    The features are the Nyström feature map of ``kernel`` on ``size - 1`` landmarks
    drawn uniformly from X; with the constant function they are D = size test functions,
    and Carathéodory recombination [1]_ [2]_ finds at most D points of X and a probability
    vector on them whose means equal the sample means of all of them. The MMD of the
    weighted coreset to the sample is then at most the Nyström approximation error of
    the kernel mean embedding (small when the kernel's spectrum decays fast).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Finite points. Not modified.
    size : int
        Maximal number of points, between 1 and n_samples.
    kernel : Kernel, default=None
        None: a Gaussian with the median distance as bandwidth.
    random_state : None, int or numpy.random.Generator, default=None
        Seed of the landmark draw and of the default bandwidth's subsample.

    Returns
    -------
    indices : ndarray of int64 of shape (k,), k <= size
        Distinct sorted rows of X.
    weights : ndarray of float64 of shape (k,)
        Positive weights summing to 1.

    Raises
    ------
    ParameterError
        For a size outside [1, n].
    InputValueError
        If X is not finite or empty.
    MemoryBudgetError
        If the n x (size - 1) feature matrix exceeds the ``working_memory`` budget.

    References
    ----------
    .. [1] C. Litterer and T. Lyons, "High order recombination and an application to
       cubature on Wiener space", Ann. Appl. Probab. 22 (2012).
    .. [2] M. Tchernychova, "Carathéodory cubature measures", PhD thesis, Oxford (2016);
       S. Hayakawa, H. Oberhauser and T. Lyons, "Positively weighted kernel quadrature
       via subsampling", NeurIPS 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.coresets import recombination
    >>> from kernelkit.kernels import Gaussian
    >>> X = np.random.default_rng(0).normal(size=(1000, 2))
    >>> k = Gaussian(bandwidth=1.0)
    >>> idx, w = recombination(X, 20, k, random_state=0)
    >>> len(idx) <= 20, bool(np.isclose(w.sum(), 1.0)), bool((w > 0).all())
    (True, True, True)
    >>> mmd = np.sqrt(k(X).mean() - 2 * w @ k(X[idx], X).mean(1) + w @ k(X[idx]) @ w)
    >>> rand = np.random.default_rng(1).choice(1000, 20, replace=False)  # uniform, same size
    >>> mmd_rand = np.sqrt(k(X).mean() - 2 * k(X[rand], X).mean() + k(X[rand]).mean())
    >>> bool(mmd < 0.5 * mmd_rand)
    True
    """
    X = check_data(X)
    n = X.shape[0]
    size = check_size(size, n)
    rng = check_rng(random_state)
    kernel = check_kernel(kernel, X, rng)
    Xf = np.asarray(X, dtype=np.float64)
    r = size - 1
    budget = get_config()["working_memory"] * 2.0**20
    if 8.0 * n * (r + 1) > budget:
        raise MemoryBudgetError(
            f"recombination holds an n x size feature matrix ({8.0 * n * size / 2**20:.0f} "
            f"MiB for n = {n}, size = {size}), over the working_memory budget of "
            f"{budget / 2**20:g} MiB. Use a smaller size, thin X first (e.g. "
            "kernel_thinning(method='compress++')), or raise working_memory with "
            "kernelkit.config_context."
        )
    A = np.ones((1, n))
    if r > 0:
        landmarks = Xf[rng.choice(n, r, replace=False)]
        lam, vec = np.linalg.eigh(np.asarray(kernel(landmarks), dtype=np.float64))
        keep = lam > EIG_RTOL * max(lam.max(), 0.0)
        if keep.any():
            transform = vec[:, keep] / np.sqrt(lam[keep])
            A = np.vstack([A, (np.asarray(kernel(Xf, landmarks), dtype=np.float64)
                               @ transform).T])
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):  # many small SVDs: threads only cost
        w = recombine(A, np.full(n, 1.0 / n))
    idx = np.flatnonzero(w > 0)
    weights = w[idx]
    return idx.astype(np.int64), weights / weights.sum()


def recombine(A: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Non-negative weights with at most D = A.shape[0] non-zeros and A @ out = A @ w.

    ``A`` (D, N) holds the test functions at the N points, ``w`` (N,) positive weights.
    """
    D, N = A.shape
    w = np.array(w, dtype=np.float64)
    idx = np.arange(N)
    while idx.size > 2 * D:
        groups = np.array_split(idx, 2 * D)
        mass = np.array([w[g].sum() for g in groups])
        means = np.stack([A[:, g] @ w[g] / m for g, m in zip(groups, mass, strict=True)],
                         axis=1)
        new_mass = _caratheodory(means, mass)
        survivors = []
        for g, m, m2 in zip(groups, mass, new_mass, strict=True):
            w[g] *= m2 / m
            if m2 > 0:
                survivors.append(g)
        idx = np.concatenate(survivors)
    out = np.zeros(N)
    out[idx] = _caratheodory(A[:, idx], w[idx])
    return out


def _caratheodory(A: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Direct reduction: while more than D points have weight, take D + 1 of them, move
    the weights along a null vector of their D x (D + 1) feature matrix until one weight
    reaches zero (A @ w is unchanged), and drop that point."""
    D = A.shape[0]
    w = np.array(w, dtype=np.float64)
    live = np.flatnonzero(w > 0)
    while live.size > D:
        sub = live[:D + 1]
        v = np.linalg.svd(A[:, sub])[2][-1]
        if v.max() <= 0.0:
            v = -v
        pos = np.flatnonzero(v > 0.0)
        ratios = w[sub[pos]] / v[pos]
        k = int(np.argmin(ratios))
        w[sub] = np.maximum(w[sub] - ratios[k] * v, 0.0)
        w[sub[pos[k]]] = 0.0
        live = live[w[live] > 0.0]
    return w

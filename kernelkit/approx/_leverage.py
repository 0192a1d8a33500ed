"""Ridge leverage scores: exact (small n) and fast recursive estimates, and sampling by them.

The ridge leverage score of point i at regularization λ is

    τ_i(λ) = [K (K + λ I)^{-1}]_{ii},   with   Σ_i τ_i(λ) = d_eff(λ),

the effective dimension. Points in sparse regions (small clusters, outliers) have large
scores, so sampling Nyström centres by them covers the data with far fewer centres than
uniform sampling.

The fast estimator is the recursive scheme of Musco & Musco (2017) with the
Nyström-based score formula of BLESS (Rudi et al., 2018): nested uniform halvings of the
data are processed from the smallest up; at each level the scores of the level's points
are estimated from a weighted dictionary sampled at the level below,

    τ̃_i = (k_ii - k_iJ (K_JJ + λ W^{-1})^{-1} k_Ji) / λ,

which is exact when J is the whole set with unit weights, and a new dictionary is drawn
with probabilities min(1, q τ̃_i) and importance weights 1 / p_i. The top level touches
each point once against a dictionary of size ~ q d_eff (capped), so the cost is
O(n m^2) time and O(n + m^2 + chunk·m) memory: the n × n matrix is never formed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.linalg

from .._config import get_config
from .._validation import check_positive
from ..exceptions import MemoryBudgetError, ParameterError
from ..kernels import Kernel
from ._common import (
    as_generator,
    check_count,
    check_data,
    check_kernel,
    kernel_block,
    row_chunks,
    small_blas,
    stable_cholesky,
    weighted_sample_without_replacement,
)

__all__ = ["ridge_leverage_scores", "rls_sample"]

#: Dictionary oversampling: a level keeps point i with probability min(1, q * score_i).
_OVERSAMPLE = 3.0
#: Levels with at most this many points are solved exactly (dictionary = all points).
_BASE_SIZE = 256
#: The top level costs ~ n * m^2 flops for a dictionary of m points; m is capped so that
#: this stays near this many flops (and within [_MIN_DICT, _MAX_DICT]).
_FLOP_BUDGET = 1e10
_MIN_DICT = 128
_MAX_DICT = 4096


def _dictionary_cap(n: int) -> int:
    return int(min(_MAX_DICT, max(_MIN_DICT, math.sqrt(_FLOP_BUDGET / max(n, 1)))))


def _scores_from_dictionary(kernel: Kernel, X: np.ndarray, rows: np.ndarray,
                            diag: np.ndarray, J: np.ndarray, weights: np.ndarray,
                            lam: float) -> np.ndarray:
    """τ̃ for X[rows] from the weighted dictionary X[J] (BLESS formula), chunk by chunk."""
    out = diag[rows] / lam
    if J.size == 0:
        return out
    XJ = X[J]
    KJJ = np.asarray(kernel(XJ.astype(np.float64)), dtype=np.float64)
    L = stable_cholesky(KJJ + np.diag(lam / weights))
    for chunk in row_chunks(rows.shape[0], J.shape[0]):
        B = kernel_block(kernel, X[rows[chunk]], XJ)
        Z = scipy.linalg.solve_triangular(L, B.T, lower=True, check_finite=False)
        explained = np.einsum("ij,ij->j", Z, Z)
        out[chunk] = np.maximum(diag[rows[chunk]] - explained, 0.0) / lam
    return out


def _recursive_scores(kernel: Kernel, X: np.ndarray, lam: float, rng: np.random.Generator,
                      cap: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Approximate scores of all rows of X, and the final (dictionary, weights)."""
    n = X.shape[0]
    cap = _dictionary_cap(n) if cap is None else cap
    diag = np.asarray(kernel.diag(X), dtype=np.float64)
    order = rng.permutation(n)
    sizes = [n]
    while sizes[-1] > _BASE_SIZE:
        sizes.append((sizes[-1] + 1) // 2)
    # the smallest level is its own dictionary (exact scores there); each level up is
    # scored against the dictionary drawn from the level below (the scores of a subset are
    # upper bounds, so this errs towards oversampling); a last pass re-scores all points
    # against a dictionary drawn from all of them, which removes that factor-~2 bias.
    J = order[:sizes[-1]]
    weights = np.ones(J.shape[0])
    bound = diag / (diag + lam)  # exact scores never exceed k_ii / (k_ii + λ)
    rows = order
    for level in range(len(sizes) - 1, -2, -1):
        rows = order[:sizes[max(level, 0)]]
        scores = np.minimum(
            _scores_from_dictionary(kernel, X, rows, diag, J, weights, lam), bound[rows])
        if level == -1 or len(sizes) == 1:  # done (one level: exact already)
            break
        p = np.minimum(1.0, _OVERSAMPLE * scores)
        total = p.sum()
        if total > cap:  # keep the dictionary affordable: same law, smaller expected size
            p = np.minimum(1.0, p * (cap / total))
        keep = rng.random(rows.shape[0]) < p
        J, weights = rows[keep], 1.0 / p[keep]
    result = np.empty(n)
    result[order] = scores
    return result, J, weights


def dictionary_scores(kernel: Kernel, X: np.ndarray, lam: float, J: np.ndarray,
                      weights: np.ndarray) -> np.ndarray:
    """Scores of all rows of X from one weighted dictionary X[J] (one BLESS pass, O(n m^2)).

    The top level of :func:`_recursive_scores` alone, for callers that already hold a
    dictionary for X at λ (the planner continues its subsample search with it).
    """
    diag = np.asarray(kernel.diag(X), dtype=np.float64)
    rows = np.arange(X.shape[0])
    return np.minimum(_scores_from_dictionary(kernel, X, rows, diag, J, weights, lam),
                      diag / (diag + lam))


def sample_by_scores(scores: np.ndarray, n_samples: int,
                     rng: np.random.Generator) -> np.ndarray:
    """``n_samples`` distinct indices drawn one after another with probability ∝ scores."""
    # a tiny floor keeps every row reachable (and the draw well defined if scores are 0)
    weights = scores + 1e-12 * max(float(scores.max()), 1e-300)
    return weighted_sample_without_replacement(weights, n_samples, rng)


def _exact_scores(kernel: Kernel, X: np.ndarray, lam: float) -> np.ndarray:
    n = X.shape[0]
    needed = 3 * n * n * 8 / 2**20
    budget = get_config()["working_memory"]
    if needed > budget:
        raise MemoryBudgetError(
            f"exact ridge leverage scores of {n} points need ~{needed:.0f} MiB (the dense "
            f"{n}x{n} matrix) but working_memory is {budget:.0f} MiB; use "
            "method='approximate', or raise working_memory with kernelkit.config_context."
        )
    K = np.asarray(kernel(X.astype(np.float64)), dtype=np.float64)
    with small_blas(n):
        s, U = scipy.linalg.eigh(K, check_finite=False)
    s = np.maximum(s, 0.0)
    return np.asarray((U * U) @ (s / (s + lam)))


def ridge_leverage_scores(kernel: Kernel, X: Any, *, regularization: float,
                          method: str = "approximate", random_state: Any = None) -> np.ndarray:
    r"""Ridge leverage scores :math:`\tau_i = [K (K + \lambda I)^{-1}]_{ii}` of the rows of X.

    Parameters
    ----------
    kernel : Kernel
        A kernelkit kernel (positive semi-definite).
    X : array-like of shape (n_samples, n_features)
        Data; float32 or float64 (computed in float64).
    regularization : float
        The ridge λ > 0 added to the kernel matrix (not scaled by n). Smaller λ gives
        larger scores and a larger effective dimension :math:`\sum_i \tau_i`.
    method : {"approximate", "exact"}, default="approximate"
        ``"approximate"``: recursive estimates (Musco & Musco 2017, BLESS formula) in
        O(n m^2) time for a dictionary of m ~ 3 d_eff points (capped so that large n stays
        fast); never forms the n × n matrix. Each estimate is within a small factor of
        the exact score with high probability (tests check a factor of 3 on small data).
        ``"exact"``: eigendecomposition of the dense matrix; for small n only (raises
        :class:`~kernelkit.exceptions.MemoryBudgetError` beyond the working memory).
    random_state : int, RandomState instance or None, default=None
        Seeds the approximate method.

    Returns
    -------
    scores : ndarray of shape (n_samples,)
        float64 scores in [0, k(x_i, x_i) / λ] (exact ones lie in [0, 1)).

    References
    ----------
    .. [1] C. Musco and C. Musco, "Recursive Sampling for the Nyström Method", NeurIPS 2017.
    .. [2] A. Rudi, D. Calandriello, L. Carratino and L. Rosasco, "On Fast Leverage Score
       Sampling and Optimal Learning", NeurIPS 2018 (BLESS).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian
    >>> from kernelkit.approx import ridge_leverage_scores
    >>> X = np.r_[np.zeros((50, 1)), [[10.0]]]          # a cluster and one outlier
    >>> tau = ridge_leverage_scores(Gaussian(), X, regularization=0.1, method="exact")
    >>> round(float(tau[-1]), 3), round(float(tau[0]), 4)   # the outlier is irreplaceable
    (0.909, 0.02)
    >>> approx = ridge_leverage_scores(Gaussian(), X, regularization=0.1, random_state=0)
    >>> bool(np.all((approx / tau > 1 / 3) & (approx / tau < 3)))
    True
    """
    kernel = check_kernel(kernel)
    X = check_data(X)
    lam = float(check_positive(regularization, "regularization"))
    if method == "exact":
        return _exact_scores(kernel, X, lam)
    if method != "approximate":
        raise ParameterError(f"method must be 'approximate' or 'exact', got {method!r}.")
    rng = as_generator(random_state)
    return _recursive_scores(kernel, X, lam, rng)[0]


def rls_sample(kernel: Kernel, X: Any, n_samples: int, *, regularization: float,
               random_state: Any = None) -> np.ndarray:
    r"""Indices of ``n_samples`` distinct rows of X drawn by approximate ridge leverage scores.

    Rows are drawn one after another without replacement, each with probability
    proportional to its approximate score :math:`\tilde\tau_i(\lambda)` (see
    :func:`ridge_leverage_scores`), so rows in sparse regions or small clusters are
    preferred to rows that many neighbours already represent. This is the centre
    selection of leverage-score Nyström / Falkon. Cost O(n m^2) with m ~ 3 d_eff(λ)
    (capped); the n × n matrix is never formed.

    Parameters
    ----------
    kernel : Kernel
        A kernelkit kernel.
    X : array-like of shape (n_rows, n_features)
        Data.
    n_samples : int
        Number of distinct rows to draw, 1 <= n_samples <= n_rows.
    regularization : float
        The ridge λ > 0 of the scores (absolute: K + λI). For kernel ridge regression with
        objective (1/n)||y - f||² + α||f||², use λ = n α.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    indices : ndarray of shape (n_samples,), dtype int64
        Distinct row indices, in the order they were drawn.

    References
    ----------
    .. [1] C. Musco and C. Musco, "Recursive Sampling for the Nyström Method", NeurIPS 2017.
    .. [2] A. Rudi et al., "On Fast Leverage Score Sampling and Optimal Learning",
       NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian
    >>> from kernelkit.approx import rls_sample
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 0.1, (990, 2)), rng.normal(8, 0.1, (10, 2))]
    >>> idx = rls_sample(Gaussian(), X, 20, regularization=1.0, random_state=0)
    >>> idx.dtype, len(np.unique(idx))
    (dtype('int64'), 20)
    >>> int((idx >= 990).sum()) >= 5   # uniform sampling would pick ~0.2 of the small cluster
    True
    """
    kernel = check_kernel(kernel)
    X = check_data(X)
    lam = float(check_positive(regularization, "regularization"))
    n = X.shape[0]
    n_samples = check_count(n_samples, "n_samples")
    if n_samples > n:
        raise ParameterError(
            f"n_samples={n_samples} is larger than the number of rows of X ({n}); "
            "ask for at most X.shape[0] samples."
        )
    rng = as_generator(random_state)
    return sample_by_scores(_recursive_scores(kernel, X, lam, rng)[0], n_samples, rng)

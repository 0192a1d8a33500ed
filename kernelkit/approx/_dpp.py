"""Determinantal point processes: exact samplers from an eigendecomposition."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg

from .._validation import check_array
from ..exceptions import InputValueError, ParameterError, ShapeError
from ._common import as_generator, check_count, small_blas

__all__ = ["sample_dpp"]


def _log_elementary_symmetric(eigvals: np.ndarray, k: int) -> np.ndarray:
    """log e_l(λ_1..λ_n) for l = 0..k and every prefix n: shape (k + 1, N + 1)."""
    N = eigvals.shape[0]
    with np.errstate(divide="ignore"):
        log_lam = np.log(np.maximum(eigvals, 0.0))
    E = np.full((k + 1, N + 1), -np.inf)
    E[0, :] = 0.0
    for n in range(1, N + 1):
        E[1:, n] = np.logaddexp(E[1:, n - 1], log_lam[n - 1] + E[:-1, n - 1])
    return E


def _select_k_eigenvectors(eigvals: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of k eigenvectors chosen as in Kulesza & Taskar (2012), Algorithm 8."""
    E = _log_elementary_symmetric(eigvals, k)
    if not np.isfinite(E[k, -1]):
        raise InputValueError(
            f"the kernel matrix has fewer than k={k} positive eigenvalues, so no set of "
            f"{k} items has positive probability; ask for fewer items."
        )
    chosen: list[int] = []
    remaining = k
    for n in range(eigvals.shape[0], 0, -1):
        if remaining == 0:
            break
        if n == remaining:
            chosen.extend(range(n - 1, -1, -1))
            break
        with np.errstate(divide="ignore"):
            log_p = np.log(max(eigvals[n - 1], 0.0)) + E[remaining - 1, n - 1] - E[remaining, n]
        if np.log(rng.random()) < log_p:
            chosen.append(n - 1)
            remaining -= 1
    return np.array(chosen, dtype=np.int64)


def _sample_projection(V: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One sample of the projection DPP with kernel V Vᵀ (V orthonormal columns):
    randomised pivoted Cholesky, pivot j drawn ∝ the residual diagonal. O(N k²)."""
    N, k = V.shape
    residual = np.einsum("ij,ij->i", V, V)
    F = np.zeros((N, k))
    picked = np.empty(k, dtype=np.int64)
    for i in range(k):
        p = np.maximum(residual, 0.0)
        j = int(rng.choice(N, p=p / p.sum()))
        picked[i] = j
        col = V @ V[j] - F[:, :i] @ F[j, :i]
        F[:, i] = col / np.sqrt(max(col[j], 1e-300))
        residual -= F[:, i] ** 2
        residual[picked[:i + 1]] = 0.0
    return picked


def sample_dpp(L: Any, k: int | None = None, *, random_state: Any = None) -> np.ndarray:
    r"""Exact sample of a DPP (or k-DPP) with likelihood kernel L.

    P(S) ∝ det(L_S): sets of items that are diverse under the similarity L are likely.
    With ``k`` the sample is conditioned to have exactly k items (a k-DPP). The sampler
    eigendecomposes L (O(N³)) and then draws with a randomised pivoted Cholesky
    (O(N k²)); use it on up to a few thousand candidates.

    Parameters
    ----------
    L : array-like of shape (N, N)
        Symmetric positive semi-definite kernel matrix of the candidates, e.g.
        ``kernel(X_candidates)``.
    k : int, default=None
        Sample size for a k-DPP; None samples the DPP (random size, mean Σ λ/(1+λ)).
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    indices : ndarray of shape (size,), dtype int64
        Distinct indices into the candidates, in sampling order.

    References
    ----------
    .. [1] A. Kulesza and B. Taskar, "Determinantal Point Processes for Machine
       Learning", Foundations and Trends in ML 5, 2012, Algorithms 1 and 8.
    .. [2] J. B. Hough, M. Krishnapur, Y. Peres and B. Virág, "Determinantal processes
       and independence", Probability Surveys 3, 2006.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian
    >>> from kernelkit.approx import sample_dpp
    >>> x = np.linspace(0, 10, 101)[:, None]
    >>> idx = sample_dpp(Gaussian(bandwidth=1.0)(x), k=5, random_state=0)
    >>> len(idx), bool(np.diff(np.sort(x[idx, 0])).min() > 0.5)   # spread out
    (5, True)
    """
    L = check_array(L, "L")
    if L.shape[0] != L.shape[1]:
        raise ShapeError(f"L must be square, got shape {L.shape}; pass kernel(X_candidates).")
    L = 0.5 * (L.astype(np.float64) + L.T.astype(np.float64))
    rng = as_generator(random_state)
    with small_blas(L.shape[0]):
        eigvals, V = scipy.linalg.eigh(L, check_finite=False)
    eigvals = np.maximum(eigvals, 0.0)
    if k is None:
        chosen = np.flatnonzero(rng.random(eigvals.shape[0]) < eigvals / (1.0 + eigvals))
    else:
        k = check_count(k, "k")
        if k > L.shape[0]:
            raise ParameterError(f"k={k} exceeds the number of candidates ({L.shape[0]}).")
        chosen = _select_k_eigenvectors(eigvals, k, rng)
    if chosen.size == 0:
        return np.empty(0, dtype=np.int64)
    return _sample_projection(V[:, chosen], rng)

"""Nyström approximation with uniform, leverage-score, k-means, greedy and DPP centres."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from .._validation import check_array, check_positive
from ..exceptions import ShapeError
from ..kernels import Kernel
from ._common import (
    FeatureMapMixin,
    as_generator,
    kernel_block,
    nystroem_features,
    nystroem_normalization,
    small_blas,
    stable_cholesky,
)
from ._dpp import sample_dpp
from ._leverage import rls_sample

__all__ = ["Nystroem", "LowRankOperator", "greedy_pivots"]

SAMPLINGS = ("uniform", "rls", "kmeans", "greedy", "dpp")
#: DPP centres are drawn from a uniform pool of at most this many candidates.
_DPP_POOL = 2000


def greedy_pivots(kernel: Kernel, X: np.ndarray, m: int) -> np.ndarray:
    """Pivots of a greedy (largest residual diagonal) pivoted Cholesky of K(X, X).

    Costs m kernel columns and O(n m²); stops early when the residual vanishes.
    """
    n = X.shape[0]
    residual = np.asarray(kernel.diag(X), dtype=np.float64).copy()
    scale = max(float(residual.max()), 1e-300)
    F = np.zeros((n, m))
    pivots: list[int] = []
    for j in range(m):
        p = int(np.argmax(residual))
        if residual[p] <= 1e-12 * scale:
            break
        pivots.append(p)
        col = kernel_block(kernel, X, X[p:p + 1])[:, 0] - F[:, :j] @ F[p, :j]
        F[:, j] = col / np.sqrt(residual[p])
        residual -= F[:, j] ** 2
        residual[pivots] = 0.0
    return np.array(pivots, dtype=np.int64)


def _auto_regularization(kernel: Kernel, X: np.ndarray, m: int,
                         rng: np.random.Generator) -> float:
    """λ with d_eff(λ) ≈ m / 2, from the spectrum of a uniform subsample (scaled by n/s)."""
    n = X.shape[0]
    s = min(n, max(2 * m, 256), 1000)
    sub = X[rng.choice(n, s, replace=False)]
    with small_blas(s):
        mu = np.maximum(scipy.linalg.eigvalsh(kernel_block(kernel, sub, sub)), 0.0) * (n / s)
    target = m / 2.0
    lo, hi = np.log(max(mu.max(), 1e-300) * 1e-12), np.log(max(mu.sum(), 1e-300))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if (mu / (mu + np.exp(mid))).sum() > target:
            lo = mid
        else:
            hi = mid
    return float(np.exp(hi))


class LowRankOperator(LinearOperator):
    """K̃ = Φ Φᵀ as a scipy LinearOperator, with exact Woodbury solves of K̃ + αI.

    Parameters
    ----------
    features : ndarray of shape (n, r)
        Φ, e.g. ``Nystroem.transform(X)`` or ``RandomFeatures.transform(X)``.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.approx import LowRankOperator
    >>> Phi = np.random.default_rng(0).normal(size=(50, 5))
    >>> op = LowRankOperator(Phi)
    >>> b = np.ones(50)
    >>> x = op.solve(b, alpha=0.1)
    >>> bool(np.allclose(op.matvec(x) + 0.1 * x, b))
    True
    """

    def __init__(self, features: Any) -> None:
        Phi = check_array(features, "features")
        self.features = Phi.astype(np.float64)
        n = Phi.shape[0]
        super().__init__(dtype=np.dtype(np.float64), shape=(n, n))
        self._gram = self.features.T @ self.features
        self._factors: dict[float, np.ndarray] = {}

    @property
    def rank(self) -> int:
        return int(self.features.shape[1])

    def _matvec(self, v: np.ndarray) -> np.ndarray:
        return np.asarray(self.features @ (self.features.T @ v))

    def _matmat(self, V: np.ndarray) -> np.ndarray:
        return np.asarray(self.features @ (self.features.T @ V))

    def _rmatvec(self, v: np.ndarray) -> np.ndarray:
        return self._matvec(v)

    def _adjoint(self) -> LowRankOperator:
        return self

    def diag(self) -> np.ndarray:
        """Diagonal of Φ Φᵀ, shape (n,)."""
        return np.einsum("ij,ij->i", self.features, self.features)

    def solve(self, b: Any, alpha: float) -> np.ndarray:
        """Solve (Φ Φᵀ + α I) x = b by the Woodbury identity in O(n r + r³) (directly in
        O(n³) when r > n).

        Parameters
        ----------
        b : array-like of shape (n,) or (n, k)
        alpha : float
            Ridge α > 0.

        Returns
        -------
        x : ndarray of the shape of b
        """
        alpha = float(check_positive(alpha, "alpha"))
        B = check_array(b, "b", ndim=(1, 2)).astype(np.float64)
        if B.shape[0] != self.shape[0]:
            raise ShapeError(f"b has {B.shape[0]} rows but the operator has {self.shape[0]}.")
        n = self.shape[0]
        if self.rank > n:  # more features than rows: factor the n x n matrix instead
            if alpha not in self._factors:
                Phi = self.features
                self._factors[alpha] = stable_cholesky(Phi @ Phi.T + alpha * np.eye(n))
            return np.asarray(scipy.linalg.cho_solve((self._factors[alpha], True), B,
                                                     check_finite=False))
        if alpha not in self._factors:
            self._factors[alpha] = stable_cholesky(self._gram + alpha * np.eye(self.rank))
        L = self._factors[alpha]
        t = scipy.linalg.cho_solve((L, True), self.features.T @ B, check_finite=False)
        return np.asarray((B - self.features @ t) / alpha)


class Nystroem(FeatureMapMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
               BaseEstimator):
    r"""Nyström features z(x) = K_mm^{-1/2} k(C, x) from m centres C, any kernel.

    z(x)·z(y) = k(x, C) K_mm^+ k(C, y) is the kernel projected on the centres' span; how
    the centres are chosen decides how good that is.

    Parameters
    ----------
    kernel : Kernel, default=None
        Any kernelkit kernel; None means ``Gaussian(bandwidth=1.0)``.
    n_components : int, default=100
        Number of centres m. Larger than n_samples is clipped to n_samples with a
        warning (as scikit-learn does); ``"greedy"`` may stop earlier when the residual
        vanishes (the rank is then reached).
    sampling : {"uniform", "rls", "kmeans", "greedy", "dpp"}, default="uniform"
        - ``"uniform"``: m distinct rows uniformly (scikit-learn's ``Nystroem``).
        - ``"rls"``: m rows by approximate ridge leverage scores (:func:`rls_sample`),
          which covers small clusters and outliers that uniform sampling misses.
        - ``"kmeans"``: k-means centres (not data points); MiniBatchKMeans above 10000
          rows.
        - ``"greedy"``: pivots of the greedy pivoted Cholesky (largest residual
          diagonal first); deterministic, O(n m²).
        - ``"dpp"``: a k-DPP sample (k = m) with kernel K over a uniform pool of up to
          2000 candidate rows, sampled exactly from the pool's eigendecomposition
          (so it is an exact k-DPP over all rows only when n <= 2000).
    regularization : float or "auto", default="auto"
        λ of the ridge leverage scores for ``"rls"``; ``"auto"`` picks λ with
        d_eff(λ) ≈ m / 2 from the spectrum of a uniform subsample. Ignored otherwise.
    random_state : int, RandomState instance or None, default=None
        Seed.

    Attributes
    ----------
    components_ : ndarray of shape (n_components_, n_features)
        The centres.
    component_indices_ : ndarray of shape (n_components_,) or None
        Their rows in the training data (None for ``"kmeans"``).
    normalization_ : ndarray of shape (n_components_, n_components_)
        K_mm^{-1/2} (pseudo-inverse square root).
    n_components_ : int
        Number of centres actually used.
    n_features_in_ : int

    References
    ----------
    .. [1] C. K. I. Williams and M. Seeger, "Using the Nyström Method to Speed Up Kernel
       Machines", NeurIPS 2001.
    .. [2] C. Musco and C. Musco, "Recursive Sampling for the Nyström Method", 2017.
    .. [3] A. Kulesza and B. Taskar, "k-DPPs: Fixed-Size Determinantal Point Processes",
       ICML 2011.
    .. [4] K. Zhang, I. Tsang and J. Kwok, "Improved Nyström Low-Rank Approximation and
       Error Analysis", ICML 2008 (k-means centres).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian
    >>> from kernelkit.approx import Nystroem
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> ny = Nystroem(kernel=Gaussian(bandwidth=1.0), n_components=60, sampling="greedy")
    >>> Z = ny.fit_transform(X)
    >>> Z.shape
    (300, 60)
    >>> bool(np.abs(Z @ Z.T - Gaussian(bandwidth=1.0)(X)).max() < 1e-3)
    True
    """

    _parameter_constraints: dict = {
        "kernel": [Kernel, None],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "sampling": [StrOptions(set(SAMPLINGS))],
        "regularization": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "random_state": ["random_state"],
    }

    def __init__(self, *, kernel: Kernel | None = None, n_components: int = 100,
                 sampling: str = "uniform", regularization: Any = "auto",
                 random_state: Any = None) -> None:
        self.kernel = kernel
        self.n_components = n_components
        self.sampling = sampling
        self.regularization = regularization
        self.random_state = random_state

    def _centres(self, kernel: Kernel, X: np.ndarray, m: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        n = X.shape[0]
        if self.sampling == "uniform":
            idx = rng.choice(n, m, replace=False).astype(np.int64)
        elif self.sampling == "rls":
            lam = (_auto_regularization(kernel, X, m, rng) if self.regularization == "auto"
                   else float(self.regularization))
            idx = rls_sample(kernel, X, m, regularization=lam,
                             random_state=int(rng.integers(2**31 - 1)))
        elif self.sampling == "greedy":
            idx = greedy_pivots(kernel, X, m)
        elif self.sampling == "dpp":
            pool = rng.choice(n, min(n, max(m, _DPP_POOL)), replace=False)
            L = kernel_block(kernel, X[pool], X[pool])
            idx = pool[sample_dpp(L, k=m, random_state=int(rng.integers(2**31 - 1)))]
        else:  # kmeans
            from sklearn.cluster import KMeans, MiniBatchKMeans

            seed = int(rng.integers(2**31 - 1))
            km = (KMeans(n_clusters=m, n_init=1, random_state=seed) if n <= 10000 else
                  MiniBatchKMeans(n_clusters=m, n_init=1, random_state=seed))
            from threadpoolctl import threadpool_limits

            # one thread: OpenMP k-means oversubscribes badly on a busy machine
            with warnings.catch_warnings(), threadpool_limits(1):
                warnings.simplefilter("ignore")  # duplicate points: fewer distinct clusters
                km.fit(X)
            return np.asarray(km.cluster_centers_, dtype=np.float64), None
        return X[idx], idx

    def fit(self, X: Any, y: Any = None) -> Nystroem:
        """Choose the centres and factor K_mm.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : Nystroem
        """
        self._validate_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        kernel = self._kernel()
        kernel._check_n_features(X.shape[1])
        n = X.shape[0]
        m = self.n_components
        if m > n:
            warnings.warn(
                f"n_components={m} > n_samples={n}; n_components was set to n_samples, "
                "which evaluates the full kernel.", UserWarning, stacklevel=2)
            m = n
        rng = as_generator(self.random_state)
        return self._set_centres(kernel, X, *self._centres(kernel, X, m, rng))

    def _set_centres(self, kernel: Kernel, X: np.ndarray, centres: np.ndarray,
                     idx: np.ndarray | None) -> Nystroem:
        K = kernel_block(kernel, centres, centres, exact=True)
        self.normalization_ = nystroem_normalization(K)
        self.components_ = centres.astype(X.dtype, copy=False)
        self.component_indices_ = idx
        self.n_components_ = int(centres.shape[0])
        self._n_features_out = self.n_components_
        return self

    def _fit_rows(self, X: np.ndarray, idx: np.ndarray) -> Nystroem:
        """Fit on the given centre rows X[idx] (distinct indices, chosen by the caller).

        For :func:`~kernelkit.approx.approximate`, which draws RLS centres from scores it
        continued from its subsample search; ``fit`` would draw them anew.
        """
        self._validate_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        idx = np.asarray(idx, dtype=np.int64)
        return self._set_centres(self._kernel(), X, X[idx], idx)

    def _features(self, X: np.ndarray) -> np.ndarray:
        """Nyström features k(X, C) K_CC^{-1/2} on the centres C."""
        C = self.components_.astype(np.float64)
        return nystroem_features(self._kernel(), X, C, self.normalization_)

    def operator(self, X: Any) -> LowRankOperator:
        """K̃(X, X) = z(X) z(X)ᵀ as a :class:`LowRankOperator` (matvec, Woodbury solve)."""
        return LowRankOperator(self.transform(X))

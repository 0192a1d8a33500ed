"""Nyström on a stream: a dictionary sampled by online ridge leverage scores (SQUEAK)."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
import scipy.linalg
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import validate_data

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

__all__ = ["SequentialNystroem"]



def estimated_leverage(K: np.ndarray, diag: np.ndarray, probs: np.ndarray,
                       gamma: float) -> np.ndarray:
    r"""Ridge leverage scores of the dictionary points against the weighted dictionary.

    τ̃_i = (k_ii − k_iᵀ W (W K W + γ I)⁻¹ W k_i) / γ with W = diag(1/sqrt(p)), the
    estimator of Calandriello, Lazaric & Valko (2017); K is the dictionary's kernel block.
    """
    Wk = K / np.sqrt(probs)[None, :]  # rows k_iᵀ W
    A = Wk / np.sqrt(probs)[:, None]  # W K W
    A[np.diag_indices_from(A)] += gamma
    L = stable_cholesky(A)
    T = scipy.linalg.solve_triangular(L, Wk.T, lower=True, check_finite=False)
    return np.clip((diag - np.einsum("ij,ij->j", T, T)) / gamma, 0.0, None)


class SequentialNystroem(FeatureMapMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                         BaseEstimator):
    r"""Nyström features from a stream, with a dictionary of size ≈ d_eff, independent of n.

    Rows arrive in batches (``partial_fit``). Every new row enters the dictionary with
    inclusion probability 1; then every dictionary point i gets a ridge-leverage-score
    estimate τ̃_i against the current weighted dictionary (weights 1/p_i), its probability
    is lowered to p_i ← min(p_i, oversampling · τ̃_i), and it is kept with probability
    p_new / p_old (SQUEAK, Calandriello, Lazaric & Valko 2017). Points are never added
    back, so the dictionary is a sample of the stream with probabilities ≈ oversampling ×
    the ridge leverage scores of all rows seen so far, and its expected size is
    ≈ oversampling · d_eff, with d_eff = tr(K (K + γI)⁻¹) over the rows seen. Memory and
    time per batch depend on the dictionary and batch sizes only, not on n.

    Parameters
    ----------
    kernel : Kernel, default=None
        Any kernelkit kernel; None means ``Gaussian(bandwidth=1.0)``.
    regularization : float, default=1.0
        γ > 0 (absolute: K + γI). The features satisfy ||K − K̃||₂ ≲ γ on the rows seen
        (for an accurate dictionary); smaller γ means a larger dictionary.
    oversampling : float, default=3.0
        q̄ > 0: p_i = min(1, q̄ τ̃_i). Larger is more accurate and larger (size ≈ q̄ d_eff).
    batch_size : int, default=200
        Rows scored together; each batch costs O((|D| + b)³).
    random_state : int, RandomState instance or None, default=None
        Seed (``fit`` restarts from it; successive ``partial_fit`` calls continue it).

    Attributes
    ----------
    components_ : ndarray of shape (n_components_, n_features)
        The dictionary points (centres of the features).
    component_indices_ : ndarray of shape (n_components_,)
        Their positions in the stream (0-based over all rows passed since ``fit`` /
        the first ``partial_fit``).
    inclusion_probabilities_ : ndarray of shape (n_components_,)
        Current p_i; 1/p_i are the importance weights.
    leverage_scores_ : ndarray of shape (n_components_,)
        Current estimates τ̃_i.
    effective_dimension_ : float
        Horvitz-Thompson estimate Σ_D τ̃_i / p_i of d_eff over the rows seen.
    normalization_ : ndarray of shape (n_components_, n_components_)
        K_DD^{-1/2} (pseudo-inverse square root).
    n_components_ : int
    n_samples_seen_ : int
    n_features_in_ : int

    References
    ----------
    .. [1] D. Calandriello, A. Lazaric and M. Valko, "Distributed Adaptive Sampling for
       Kernel Matrix Approximation", AISTATS 2017 (SQUEAK).
    .. [2] D. Calandriello, A. Lazaric and M. Valko, "Second-Order Kernel Online Convex
       Optimization with Adaptive Sketching", ICML 2017 (KORS).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian
    >>> from kernelkit.approx import SequentialNystroem
    >>> rng = np.random.default_rng(0)
    >>> sn = SequentialNystroem(kernel=Gaussian(bandwidth=1.0), regularization=0.1,
    ...                         random_state=0)
    >>> for _ in range(5):
    ...     _ = sn.partial_fit(rng.uniform(-2, 2, size=(200, 1)))
    >>> sn.n_samples_seen_, bool(sn.n_components_ < 60)
    (1000, True)
    >>> sn.transform(np.zeros((3, 1))).shape[0]
    3
    """

    _parameter_constraints: dict = {
        "kernel": [Kernel, None],
        "regularization": [Interval(Real, 0, None, closed="neither")],
        "oversampling": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, *, kernel: Kernel | None = None, regularization: float = 1.0,
                 oversampling: float = 3.0, batch_size: int = 200,
                 random_state: Any = None) -> None:
        self.kernel = kernel
        self.regularization = regularization
        self.oversampling = oversampling
        self.batch_size = batch_size
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> SequentialNystroem:
        """Forget the stream and process the rows of X in order, in batches.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : SequentialNystroem
        """
        for name in ("n_samples_seen_", "_rng"):
            if hasattr(self, name):
                delattr(self, name)
        return self.partial_fit(X)

    def partial_fit(self, X: Any, y: Any = None) -> SequentialNystroem:
        """Process more rows of the stream and update the dictionary and features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : SequentialNystroem
        """
        self._validate_params()
        first = not hasattr(self, "n_samples_seen_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=first)
        kernel = self._kernel()
        kernel._check_n_features(X.shape[1])
        if first:
            self._rng = as_generator(self.random_state)
            self._dtype = X.dtype
            self._D = np.empty((0, X.shape[1]))
            self._idx = np.empty(0, dtype=np.int64)
            self._p = np.empty(0)
            self._tau = np.empty(0)
            self.n_samples_seen_ = 0
        gamma = float(self.regularization)
        for start in range(0, X.shape[0], self.batch_size):
            B = X[start:start + self.batch_size].astype(np.float64)
            D = np.vstack([self._D, B])
            idx = np.concatenate([self._idx, self.n_samples_seen_ + start
                                  + np.arange(B.shape[0], dtype=np.int64)])
            p_old = np.concatenate([self._p, np.ones(B.shape[0])])
            K = kernel_block(kernel, D, D)
            with small_blas(K.shape[0]):
                tau = estimated_leverage(K, np.diag(K).copy(), p_old, gamma)
            p_new = np.minimum(p_old, np.minimum(1.0, self.oversampling * tau))
            keep = self._rng.random(p_old.shape[0]) * p_old < p_new
            if not keep.any():  # keep the most important point rather than nothing
                keep[int(np.argmax(p_new))] = True
                p_new = np.maximum(p_new, keep * 1e-300)
            self._D, self._idx, self._p, self._tau = D[keep], idx[keep], p_new[keep], tau[keep]
        self.n_samples_seen_ += X.shape[0]
        self._update_features(kernel)
        return self

    def _update_features(self, kernel: Kernel) -> None:
        K = kernel_block(kernel, self._D, self._D, exact=True)
        self.normalization_ = nystroem_normalization(K)
        self.components_ = self._D.astype(self._dtype)
        self.component_indices_ = self._idx.copy()
        self.inclusion_probabilities_ = self._p.copy()
        self.leverage_scores_ = self._tau.copy()
        self.effective_dimension_ = float(np.sum(self._tau / self._p))
        self.n_components_ = int(self._D.shape[0])
        self._n_features_out = self.n_components_

    def _features(self, X: np.ndarray) -> np.ndarray:
        """Nyström features z(x) = K_DD^{-1/2} k(D, x) on the current dictionary D."""
        return nystroem_features(self._kernel(), X, self._D, self.normalization_)

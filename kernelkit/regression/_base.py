"""Validation and Nyström helpers shared by the regression estimators."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import scipy.linalg
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import matvec
from ..exceptions import NumericalWarning, ParameterError
from ..kernels import Gaussian
from ..kernels._base import Kernel
from ._linalg import cholesky_inplace, dense_gram

__all__ = ["DualPredictMixin", "resolve_kernel", "check_sample_weight",
           "select_centers", "NystromPreconditioner", "as_2d_targets"]


class DualPredictMixin:
    """``predict`` for estimators fitted to dual coefficients on their training rows.

    Needs the fitted attributes ``X_fit_`` and ``dual_coef_`` and the ``kernel`` parameter.
    """

    def predict(self, X: Any) -> np.ndarray:
        """Predict ``K(X, X_fit_) @ dual_coef_``, streamed through the engine.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_targets)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return np.asarray(matvec(resolve_kernel(self.kernel),  # type: ignore[attr-defined]
                                 X, self.X_fit_, self.dual_coef_))  # type: ignore[attr-defined]


def resolve_kernel(kernel: Any) -> Kernel:
    """The estimator's kernel: None means ``Gaussian(bandwidth=1.0)``."""
    if kernel is None:
        return Gaussian(bandwidth=1.0)
    if not isinstance(kernel, Kernel):
        raise ParameterError(
            f"kernel must be a kernelkit Kernel (e.g. kernelkit.kernels.Gaussian(bandwidth=1)) "
            f"or None, got {type(kernel).__name__}."
        )
    return kernel


def check_sample_weight(sample_weight: Any, n: int) -> np.ndarray | None:
    """Validated non-negative float64 weights of shape (n,), or None for unit weights."""
    if sample_weight is None:
        return None
    from sklearn.utils.validation import _check_sample_weight

    sw = _check_sample_weight(sample_weight, np.empty((n, 1)), dtype=np.float64,
                              ensure_non_negative=True)
    return np.asarray(sw, dtype=np.float64)


def as_2d_targets(y: np.ndarray) -> np.ndarray:
    """y as a float64 (n, t) array (a copy, so callers may scale it in place)."""
    y2 = np.array(y, dtype=np.float64, copy=True)
    return y2[:, None] if y2.ndim == 1 else y2


def select_centers(kernel: Kernel, X: np.ndarray, n_centers: int, method: str, *,
                   alpha: float, random_state: Any) -> np.ndarray:
    """Row indices of the Nyström centres (sorted, without replacement).

    "uniform" draws rows uniformly; "leverage" by approximate ridge leverage scores of
    K + alpha I (:func:`kernelkit.approx.rls_sample`).

    ``n_centers`` larger than ``len(X)`` is clipped with a warning.
    """
    from sklearn.utils import check_random_state

    n = X.shape[0]
    if n_centers > n:
        warnings.warn(f"n_centers={n_centers} is larger than the {n} training samples; "
                      f"using all {n} points as centres.", NumericalWarning, stacklevel=3)
        n_centers = n
    rng = check_random_state(random_state)
    if method == "uniform":
        idx = rng.choice(n, size=n_centers, replace=False)
    elif method == "leverage":
        from ..approx import rls_sample

        # alpha is the absolute ridge of K + alpha I (KernelRidge's convention)
        seed = int(rng.randint(0, 2**31 - 1))
        idx = np.asarray(rls_sample(kernel, X, n_centers, regularization=alpha,
                                    random_state=seed), dtype=np.int64)
    else:
        raise ParameterError(f"centers must be 'uniform' or 'leverage', got {method!r}.")
    return np.sort(idx)


class NystromPreconditioner:
    """Low-rank-plus-ridge preconditioner P = Φ Φᵀ + α I for W^{1/2} K W^{1/2} + α I.

    Φ = W^{1/2} K(X, C) U Λ^{-1/2} with K(C, C) = U Λ Uᵀ (eigenvalues below
    ``EIG_RTOL * max`` dropped, so duplicated or near-duplicate centres are harmless):
    P is the Nyström approximation of the system. ``P⁻¹`` is applied by Woodbury,
    P⁻¹ v = (v - Φ (α I + ΦᵀΦ)⁻¹ Φᵀ v) / α, with two streamed engine products K(C, X) and
    K(X, C) per application, so K(X, C) is never stored; ΦᵀΦ is accumulated once over
    tiles of X.

    Parameters
    ----------
    kernel, X : the training problem
    C : ndarray of shape (m, d)
        Nyström centres.
    alpha : float > 0
    sqrt_w : ndarray of shape (n,) or None
    """

    #: Eigenvalues of K(C, C) below this fraction of the largest are dropped.
    EIG_RTOL = 1e-8

    def __init__(self, kernel: Kernel, X: np.ndarray, C: np.ndarray, alpha: float,
                 sqrt_w: np.ndarray | None) -> None:
        self.kernel, self.X, self.C, self.alpha, self.sqrt_w = kernel, X, C, alpha, sqrt_w
        lam, U = scipy.linalg.eigh(dense_gram(kernel, C))
        keep = lam > self.EIG_RTOL * max(float(lam[-1]), 1e-300)
        self.proj = U[:, keep] / np.sqrt(lam[keep])          # U Λ^{-1/2}, shape (m, r)
        r = self.proj.shape[1]
        G = np.zeros((r, r))
        rows = max(1, int(32 * 2**20 // (8 * max(C.shape[0], 1))))
        for start in range(0, X.shape[0], rows):
            Fb = kernel._tile(X[start:start + rows], C, np) @ self.proj
            if sqrt_w is not None:
                Fb *= sqrt_w[start:start + rows, None]
            G += Fb.T @ Fb
        G.flat[:: r + 1] += alpha
        self.R = cholesky_inplace(G, "alpha I + Phi^T Phi", "increase alpha")

    def __call__(self, V: np.ndarray) -> np.ndarray:
        Vw = V if self.sqrt_w is None else V * self.sqrt_w[:, None]
        t = self.proj.T @ matvec(self.kernel, self.C, self.X, Vw)
        t = scipy.linalg.cho_solve((self.R, True), t)
        back = matvec(self.kernel, self.X, self.C, self.proj @ t)
        if self.sqrt_w is not None:
            back *= self.sqrt_w[:, None]
        return (V - back) / self.alpha

"""Generalized volume sampling for weighted least squares on a finite candidate set."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg

from .._validation import check_array
from ..exceptions import InputValueError, ParameterError, ShapeError
from ._common import as_generator, check_count
from ._dpp import _sample_projection

__all__ = ["volume_sampling", "orthonormal_features"]


def _base_measure(base_weights: Any, N: int) -> np.ndarray:
    if base_weights is None:
        return np.full(N, 1.0 / N)
    mu = check_array(base_weights, "base_weights", ndim=(1,)).astype(np.float64)
    if mu.shape[0] != N:
        raise ShapeError(f"base_weights has {mu.shape[0]} entries but features has {N} rows; "
                         "pass one weight per candidate point.")
    if (mu < 0).any() or mu.sum() <= 0:
        raise InputValueError("base_weights must be non-negative with a positive sum "
                              "(the base measure μ of the candidate points).")
    return mu / mu.sum()


def orthonormal_features(features: Any, base_weights: Any = None) -> tuple[np.ndarray, np.ndarray]:
    r"""An L²(μ)-orthonormal basis ψ of the span of the feature columns.

    Parameters
    ----------
    features : array-like of shape (N, m)
        φ_1..φ_m evaluated at N candidate points (linearly independent in L²(μ)).
    base_weights : array-like of shape (N,), default=None
        The base measure μ (normalised to sum 1); None is uniform.

    Returns
    -------
    psi : ndarray of shape (N, m)
        Σ_x μ(x) ψ(x) ψ(x)ᵀ = I, same span as ``features``.
    mu : ndarray of shape (N,)
        The normalised base measure.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.approx import orthonormal_features
    >>> x = np.linspace(-1, 1, 50)
    >>> psi, mu = orthonormal_features(np.vander(x, 3))
    >>> bool(np.allclose((psi * mu[:, None]).T @ psi, np.eye(3)))
    True
    """
    Phi = check_array(features, "features", ndim=(2,)).astype(np.float64)
    N, m = Phi.shape
    mu = _base_measure(base_weights, N)
    Q, R = scipy.linalg.qr(np.sqrt(mu)[:, None] * Phi, mode="economic", check_finite=False)
    d = np.abs(np.diag(R))
    if m > N or d.min() <= 1e-10 * max(float(d.max()), 1e-300):
        raise InputValueError(
            f"the {m} feature columns are linearly dependent on the support of the base "
            "measure; drop redundant features or add candidate points.")
    R_inv = np.linalg.inv(R)  # m x m; (scipy trtrs was ~10 ms per call here)
    return Phi @ R_inv, mu


def volume_sampling(features: Any, n: int, *, base_weights: Any = None, density: Any = "optimal",
                    random_state: Any = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Generalized volume-rescaled sampling of n ≥ m points for weighted least squares.

    Let φ = (φ_1..φ_m) span the approximation space V_m, evaluated at N candidate points
    with base measure μ, ψ an L²(μ)-orthonormal basis of V_m, ρ a sampling density
    w.r.t. μ and w = 1/ρ. The n points have the law

    .. math:: P(x_1..x_n) \propto \det\Big(\sum_{i} w(x_i)\,\psi(x_i)\psi(x_i)^T\Big)
              \prod_i \rho(x_i)\,\mu(x_i),

    sampled exactly as m points of the projection DPP with kernel
    Σ_j ψ_j(x)ψ_j(y) (P(S) = det(ψ_S)² Π μ) together with n − m i.i.d. points from ρ μ,
    in a uniformly random order (Dereziński, Warmuth & Hsu). For n = m this is the
    projection DPP. The weighted least-squares estimate
    ``argmin_v Σ_i w_i (f(x_i) − v(x_i))²`` is then an unbiased estimate of the
    L²(μ) projection of f on V_m, and its Gram matrix is invertible almost surely.

    Parameters
    ----------
    features : array-like of shape (N, m)
        φ evaluated at the candidates (e.g. Legendre polynomials on a fine grid, or a
        data set's features). Any basis of V_m; it is orthonormalised internally.
    n : int
        Number of points, n >= m. Points can repeat only in the i.i.d. part.
    base_weights : array-like of shape (N,), default=None
        Base measure μ of the candidates (e.g. quadrature weights); None is uniform.
    density : "optimal" or array-like of shape (N,), default="optimal"
        ρ, normalised so Σ μ ρ = 1. ``"optimal"`` is ρ_m = (1/m) Σ_j ψ_j², the optimal
        i.i.d. density of weighted least squares (Cohen & Migliorati).
    random_state : int, RandomState instance or None, default=None
        Seed.

    Returns
    -------
    indices : ndarray of shape (n,), dtype int64
        Rows of ``features``.
    weights : ndarray of shape (n,)
        w(x_i) = 1/ρ(x_i); (1/n) Σ w ψψᵀ has expectation I for the i.i.d. points.

    See Also
    --------
    sample_dpp : DPPs and k-DPPs from a likelihood kernel.

    References
    ----------
    .. [1] A. Nouy and B. Michel, "Weighted least-squares approximation with
       determinantal point processes and generalized volume sampling", 2023.
    .. [2] M. Dereziński, M. K. Warmuth and D. Hsu, "Unbiased estimators for random
       design regression", JMLR 23, 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from numpy.polynomial import legendre
    >>> from kernelkit.approx import volume_sampling
    >>> x, mu = legendre.leggauss(200)             # candidates and base measure
    >>> Phi = legendre.legvander(x, 9)             # m = 10 polynomials
    >>> idx, w = volume_sampling(Phi, 12, base_weights=mu, random_state=0)
    >>> coef = np.linalg.lstsq(np.sqrt(w)[:, None] * Phi[idx],
    ...                        np.sqrt(w) * np.exp(x[idx]), rcond=None)[0]
    >>> bool(np.abs(legendre.legval(x, coef) - np.exp(x)).max() < 1e-6)
    True
    """
    psi, mu = orthonormal_features(features, base_weights)
    N, m = psi.shape
    n = check_count(n, "n")
    if n < m:
        raise ParameterError(f"n={n} is smaller than the dimension m={m}; volume sampling "
                             "needs n >= m (use sample_dpp for fewer points).")
    if isinstance(density, str):
        if density != "optimal":
            raise ParameterError(f"density must be 'optimal' or an array, got {density!r}.")
        rho = np.einsum("ij,ij->i", psi, psi) / m
    else:
        rho = check_array(density, "density", ndim=(1,)).astype(np.float64)
        if rho.shape[0] != N or (rho < 0).any() or (mu * rho).sum() <= 0:
            raise InputValueError("density must have one non-negative value per candidate "
                                  "and a positive mean under base_weights.")
        rho = rho / (mu * rho).sum()
    rng = as_generator(random_state)
    dpp = _sample_projection(np.sqrt(mu)[:, None] * psi, rng)
    p = mu * rho
    iid = rng.choice(N, n - m, p=p / p.sum()) if n > m else np.empty(0, dtype=np.int64)
    idx = rng.permutation(np.concatenate([dpp, iid]).astype(np.int64))
    with np.errstate(divide="ignore"):
        weights = 1.0 / rho[idx]
    if not np.isfinite(weights).all():
        raise InputValueError("density is zero at a sampled point where the features are "
                              "not; use a density that is positive where ψ is non-zero.")
    return idx, weights

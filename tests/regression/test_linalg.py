"""Dense helpers of the regression solvers against numpy oracles."""

from __future__ import annotations

import numpy as np
import pytest

from kernelkit.kernels import Cosine, Gaussian, Laplace, Matern, Polynomial, RationalQuadratic
from kernelkit.ops._gram import gram_supported
from kernelkit.regression._linalg import ColumnNystrom, dense_gram, refined_dense_cg
from kernelkit.testing._tolerances import TOLERANCES

KERNELS = [Gaussian(bandwidth=1.5), Laplace(bandwidth=2.0), Matern(nu=2.5, bandwidth=0.7),
           RationalQuadratic(alpha=0.5, bandwidth=1.1), Polynomial(degree=2),
           Gaussian(bandwidth=1.0) + Laplace(bandwidth=3.0), Cosine()]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: type(k).__name__)
def test_dense_gram_matches_kernel(rng, kernel, dtype):
    X = rng.normal(size=(70, 3))
    Y = rng.normal(size=(45, 3))
    Xc, Yc = X.copy(), Y.copy()
    ref = kernel(X)
    tol = TOLERANCES[dtype]
    K = dense_gram(kernel, X, out=np.empty((70, 70), dtype=dtype))
    np.testing.assert_allclose(K, ref, **tol)
    L = dense_gram(kernel, X, out=np.full((70, 70), -7.0, dtype=dtype), lower_only=True)
    low = np.tril_indices(70)
    np.testing.assert_allclose(L[low], ref[low], **tol)
    np.testing.assert_allclose(dense_gram(kernel, X, Y, out=np.empty((70, 45), dtype=dtype)),
                               kernel(X, Y), **tol)
    np.testing.assert_array_equal(X, Xc)
    np.testing.assert_array_equal(Y, Yc)


def test_compiled_gram_covers_profiles():
    assert gram_supported(Gaussian()) and gram_supported(Matern(nu=1.5))
    assert not gram_supported(Cosine())  # normalised rows: numpy tiles


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_nystrom_is_the_dense_formula(rng, dtype):
    X = rng.normal(size=(200, 3))
    K = Gaussian(bandwidth=1.2)(X)
    alpha, rank = 0.05, 40
    P = ColumnNystrom(K.astype(dtype), alpha, rank, random_state=3)
    S = np.sort(np.random.RandomState(3).choice(200, rank, replace=False))
    W = K[np.ix_(S, S)]
    W += ColumnNystrom.JITTER * np.trace(W) / rank * np.eye(rank)
    dense = K[:, S] @ np.linalg.solve(W, K[S]) + alpha * np.eye(200)
    V = rng.normal(size=(200, 2))
    expected = np.linalg.solve(dense, V)
    rtol = 1e-10 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(P(V), expected, rtol=0, atol=rtol * np.abs(expected).max())


def test_refined_dense_cg_reaches_float64_and_respects_budget(rng):
    X = rng.normal(size=(300, 3))
    k = Gaussian(bandwidth=1.0)
    K64 = k(X)
    alpha = 1e-2
    B = rng.normal(size=(300, 3))
    exact = np.linalg.solve(K64 + alpha * np.eye(300), B)

    def apply_A(V, a=alpha):
        return K64 @ V + a * V

    K32 = K64.astype(np.float32)
    Xs, info = refined_dense_cg(K32, apply_A, B, alpha, rank=60, budget=10_000,
                                random_state=0)
    assert info.converged and info.n_refine >= 2 and info.residual <= 1e-10
    np.testing.assert_allclose(Xs, exact, rtol=0, atol=1e-8 * np.abs(exact).max())
    _, info = refined_dense_cg(K32, apply_A, B, alpha, rank=60, budget=3, random_state=0)
    assert not info.converged and info.n_iter <= 3
    # alpha far below float32 rounding: refinement cannot contract -> not converged
    _, info = refined_dense_cg(K32, lambda V: apply_A(V, 1e-10), B, 1e-10, rank=60,
                               budget=600, random_state=0)
    assert not info.converged

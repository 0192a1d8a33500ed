"""stein_thinning and kernel_herding against dense loops; bad input."""

from __future__ import annotations

import numpy as np
import pytest

from kernelkit.coresets import coreset_mmd, kernel_herding, stein_thinning
from kernelkit.exceptions import InputValueError, ParameterError, ShapeError
from kernelkit.kernels import IMQ, Gaussian, Laplace, Periodic
from kernelkit.testing import naive_kernel_matrix

DTYPES = [np.float32, np.float64]


def _imq_stein_matrix(X, S, c, beta, h):
    """Dense Stein kernel of IMQ (c^2 + |x - y|^2 / h^2)^-beta from its gradients,
    written out per pair: u = ∇x·∇y k + ∇x k·s(y) + ∇y k·s(x) + k s(x)·s(y)."""
    n, d = X.shape
    U = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            diff = X[i] - X[j]
            base = c * c + diff @ diff / h**2
            k = base ** -beta
            grad_x = -beta * base ** (-beta - 1) * 2 * diff / h**2
            grad_y = -grad_x
            # d/dy_t of d/dx_t k, summed over t
            hess = (beta * (beta + 1) * base ** (-beta - 2) * (-4) * (diff @ diff) / h**4
                    + beta * base ** (-beta - 1) * 2 * d / h**2)
            U[i, j] = hess + grad_x @ S[j] + grad_y @ S[i] + k * (S[i] @ S[j])
    return U


@pytest.mark.parametrize("dtype", DTYPES)
def test_stein_thinning_matches_dense_greedy(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(loc=0.3, size=(60, 2)).astype(dtype)
    before = X.copy()
    kernel = IMQ(c=1.0, beta=0.5, bandwidth=1.2)
    got = stein_thinning(X, lambda Z: -Z, 12, kernel)
    X64 = X.astype(np.float64)
    U = _imq_stein_matrix(X64, -X64, 1.0, 0.5, 1.2)
    objective = 0.5 * np.diag(U).copy()
    want = []
    for _ in range(12):
        j = int(np.argmin(objective))
        want.append(j)
        objective += U[j]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(X, before)


def test_stein_thinning_corrects_bias():
    # A sample from N(1, I) thinned towards the target N(0, I): the Stein coreset's mean
    # must be much closer to 0 than the sample's (which is ~1).
    X = np.random.default_rng(1).normal(loc=1.0, size=(2000, 2))
    idx = stein_thinning(X, lambda Z: -Z, 100)
    assert np.linalg.norm(X[idx].mean(axis=0)) < 0.5 * np.linalg.norm(X.mean(axis=0))


def test_stein_thinning_bad_input():
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ShapeError, match="score"):
        stein_thinning(X, lambda Z: Z[:, 0], 5)
    with pytest.raises(ShapeError, match="score"):
        stein_thinning(X, np.zeros((30, 3)), 5)
    with pytest.raises(InputValueError, match="NaN or infinite"):
        stein_thinning(X, lambda Z: np.full_like(Z, np.nan), 5)
    with pytest.raises(ParameterError, match="size = 31"):
        stein_thinning(X, lambda Z: -Z, 31)
    with pytest.raises(ParameterError, match="Gaussian and IMQ"):
        stein_thinning(X, lambda Z: -Z, 5, Laplace())
    bad = X.copy()
    bad[0, 0] = np.inf
    with pytest.raises(InputValueError, match="NaN or infinity"):
        stein_thinning(bad, lambda Z: -Z, 5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", [Gaussian(bandwidth=0.8), Periodic(period=2.0)], ids=repr)
def test_kernel_herding_matches_dense_greedy(dtype, kernel):
    X = np.random.default_rng(2).normal(size=(80, 2)).astype(dtype)
    got = kernel_herding(X, 15, kernel)
    K = naive_kernel_matrix(kernel, X.astype(np.float64))
    mu = K.mean(axis=1)
    sums = np.zeros(80)
    want = []
    for t in range(15):
        j = int(np.argmax(mu - sums / (t + 1)))
        want.append(j)
        sums += K[j]
    np.testing.assert_array_equal(got, want)


def test_kernel_herding_beats_uniform():
    X = np.random.default_rng(3).normal(size=(2000, 2))
    k = Gaussian(bandwidth=1.5)
    idx = kernel_herding(X, 40, k)
    rand = np.random.default_rng(0).choice(2000, 40, replace=False)
    assert coreset_mmd(X, idx, k) < 0.5 * coreset_mmd(X, rand, k)
    with pytest.raises(ParameterError, match="size = 0"):
        kernel_herding(X, 0)

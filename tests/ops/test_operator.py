"""KernelOperator against the dense matrix."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator, cg

import kernelkit
from kernelkit import KernelOperator
from kernelkit.exceptions import ConvergenceWarning, MemoryBudgetError, ParameterError, ShapeError
from kernelkit.kernels import Gaussian, Matern, Periodic
from kernelkit.testing import (
    REDUCTION_RTOL,
    OperatorTestCase,
    SquareOperatorTestCase,
    naive_kernel_matrix,
)

DTYPES = [np.float32, np.float64]


def _tol(dtype, K, V):
    return REDUCTION_RTOL[dtype] * (np.abs(K) @ np.abs(V)).max()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", [Gaussian(bandwidth=0.7), Matern(nu=1.5) * Periodic()],
                         ids=["gaussian", "product"])
def test_products_transpose_and_dense(kernel, dtype, rng, tiling):
    X = rng.normal(size=(13, 2)).astype(dtype)
    Y = rng.normal(size=(9, 2)).astype(dtype)
    op = KernelOperator(kernel, X, Y)
    K = naive_kernel_matrix(kernel, X, Y)
    assert isinstance(op, LinearOperator) and op.shape == (13, 9) and op.dtype == dtype
    v, u, V = rng.normal(size=9), rng.normal(size=13), rng.normal(size=(9, 3))
    assert np.abs(op @ v - K @ v).max() <= _tol(dtype, K, v)
    assert np.abs(op.matmat(V) - K @ V).max() <= _tol(dtype, K, V)
    assert np.abs(op.T @ u - K.T @ u).max() <= _tol(dtype, K.T, u)
    assert np.abs(op.H @ u - K.T @ u).max() <= _tol(dtype, K.T, u)
    np.testing.assert_allclose(op.to_dense(), K, rtol=REDUCTION_RTOL[dtype] * 10,
                               atol=REDUCTION_RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_square_operator_diag_and_symmetry(dtype, rng):
    X = rng.normal(size=(10, 3)).astype(dtype)
    op = KernelOperator(Matern(nu=2.5, bandwidth=0.9), X)
    K = naive_kernel_matrix(op.kernel, X)
    np.testing.assert_allclose(op.diag(), np.diag(K), rtol=1e-6)
    assert op.T is op
    u, v = rng.normal(size=10), rng.normal(size=10)
    assert abs(u @ (op @ v) - v @ (op @ u)) <= 10 * REDUCTION_RTOL[dtype] * np.abs(K).sum()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("preconditioner", ["jacobi", None])
def test_solve_matches_dense_solve(preconditioner, dtype, rng):
    X = rng.normal(size=(60, 2)).astype(dtype)
    kernel = 2.0 * Gaussian(bandwidth=0.5)
    op = KernelOperator(kernel, X)
    alpha = 0.1
    A = naive_kernel_matrix(kernel, X) + alpha * np.eye(60)
    B = rng.normal(size=(60, 2))
    x = op.solve(B, alpha=alpha, preconditioner=preconditioner)
    assert x.shape == (60, 2) and x.dtype == dtype
    expected = np.linalg.solve(A, B)
    rtol = 1e-3 if dtype == np.float32 else 1e-8
    np.testing.assert_allclose(x, expected, rtol=rtol, atol=rtol * np.abs(expected).max())
    x1 = op.solve(B[:, 0], alpha=alpha, x0=expected[:, 0])  # warm start, 1-D
    assert x1.shape == (60,)
    np.testing.assert_allclose(x1, expected[:, 0], rtol=rtol, atol=rtol * np.abs(expected).max())


def test_solve_warns_when_cg_does_not_converge(rng):
    X = rng.normal(size=(80, 2))
    op = KernelOperator(Gaussian(bandwidth=2.0), X)
    with pytest.warns(ConvergenceWarning, match="relative residual"):
        op.solve(np.ones(80), alpha=1e-8, maxiter=2)


def test_works_with_scipy_solvers(rng):
    X = rng.normal(size=(40, 2))
    op = KernelOperator(Gaussian(), X)
    A = op + 0.5 * _identity(40)
    x, info = cg(A, np.ones(40), rtol=1e-10)
    assert info == 0
    K = naive_kernel_matrix(Gaussian(), X) + 0.5 * np.eye(40)
    np.testing.assert_allclose(K @ x, np.ones(40), atol=1e-8)


def _identity(n):
    return LinearOperator((n, n), matvec=lambda v: v, dtype=np.float64)


def test_to_dense_respects_the_memory_budget(rng):
    X = rng.normal(size=(600, 2))
    op = KernelOperator(Gaussian(), X)
    with kernelkit.config_context(working_memory=1), pytest.raises(MemoryBudgetError,
                                                                    match="working_memory"):
        op.to_dense()
    with kernelkit.config_context(working_memory=4):
        assert op.to_dense().shape == (600, 600)


def test_operator_errors(rng):
    X, Y = rng.normal(size=(5, 2)), rng.normal(size=(4, 2))
    rect = KernelOperator(Gaussian(), X, Y)
    with pytest.raises(ShapeError, match="square"):
        rect.diag()
    with pytest.raises(ShapeError, match="square"):
        rect.solve(np.ones(5))
    sq = KernelOperator(Gaussian(), X)
    with pytest.raises(ShapeError, match="b has 4 rows"):
        sq.solve(np.ones(4))
    with pytest.raises(ParameterError, match="alpha"):
        sq.solve(np.ones(5), alpha=-1.0)
    with pytest.raises(ParameterError, match="tol"):
        sq.solve(np.ones(5), tol=2.0)
    with pytest.raises(ParameterError, match="preconditioner"):
        sq.solve(np.ones(5), preconditioner="ilu")
    with pytest.raises(ShapeError, match="features"):
        KernelOperator(Gaussian(), X, np.ones((3, 3)))


class TestKernelOperatorConformance(SquareOperatorTestCase):
    def make_operator(self, dtype):
        X = np.random.default_rng(5).normal(size=(40, 3)).astype(dtype)
        kernel = Matern(nu=2.5, bandwidth=1.2)
        return KernelOperator(kernel, X), naive_kernel_matrix(kernel, X)


class TestRectangularOperatorConformance(OperatorTestCase):
    def make_operator(self, dtype):
        rng = np.random.default_rng(6)
        X = rng.normal(size=(25, 20)).astype(dtype)
        Y = rng.normal(size=(30, 20)).astype(dtype)
        kernel = Gaussian(bandwidth=4.0)  # 20 features: the BLAS (GEMM) path
        return KernelOperator(kernel, X, Y), naive_kernel_matrix(kernel, X, Y)

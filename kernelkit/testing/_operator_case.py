"""``OperatorTestCase``: conformance tests for linear operators over kernel matrices.

Subclass it in a pytest module and supply ``make_operator(dtype)`` returning
``(operator, dense)``, where ``dense`` is the float64 matrix the operator stands for::

    class TestMyOperator(OperatorTestCase):
        def make_operator(self, dtype):
            X = np.random.default_rng(0).normal(size=(30, 2)).astype(dtype)
            return KernelOperator(Gaussian(), X), naive_kernel_matrix(Gaussian(), X)

The mixin checks products with vectors and matrices, the transpose, the diagonal and
dense form, symmetry and solves (``SquareOperatorTestCase``), for float32 and float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ._tolerances import REDUCTION_RTOL

__all__ = ["OperatorTestCase", "SquareOperatorTestCase"]


class OperatorTestCase:
    """Mixin of operator tests; subclasses implement :meth:`make_operator`."""

    #: Ridge used by the solve test (square operators only).
    solve_alpha = 0.1

    def make_operator(self, dtype: Any) -> tuple[Any, np.ndarray]:
        raise NotImplementedError

    @staticmethod
    def _check(actual: Any, dense: np.ndarray, V: Any, dtype: Any) -> None:
        expected = dense @ V
        bound = np.abs(dense) @ np.abs(V)
        err = np.abs(np.asarray(actual, dtype=np.float64) - expected)
        assert np.all(err <= REDUCTION_RTOL[dtype] * bound + 1e-30), \
            f"max error {err.max():.3g}"

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_operator_products(self, dtype: Any) -> None:
        op, dense = self.make_operator(dtype)
        n, m = dense.shape
        assert op.shape == (n, m)
        rng = np.random.default_rng(0)
        v, V, u = rng.normal(size=m), rng.normal(size=(m, 3)), rng.normal(size=n)
        out = op @ v
        assert out.shape == (n,) and out.dtype == dtype
        self._check(out, dense, v, dtype)
        self._check(op @ V, dense, V, dtype)
        self._check(op.T @ u, dense.T, u, dtype)
        self._check(op.H @ u, dense.T, u, dtype)



class SquareOperatorTestCase(OperatorTestCase):
    """Adds the tests of square, symmetric operators: diag, dense form, symmetry, solve."""

    @pytest.mark.parametrize("dtype", [np.float32, np.float64])
    def test_operator_square_parts(self, dtype: Any) -> None:
        op, dense = self.make_operator(dtype)
        assert dense.shape[0] == dense.shape[1], "make_operator must return a square operator"
        rtol = REDUCTION_RTOL[dtype]
        np.testing.assert_allclose(op.diag(), np.diag(dense), rtol=10 * rtol, atol=rtol)
        np.testing.assert_allclose(op.to_dense(), dense, rtol=10 * rtol,
                                   atol=rtol * np.abs(dense).max())
        rng = np.random.default_rng(1)
        u, v = rng.normal(size=dense.shape[0]), rng.normal(size=dense.shape[0])
        gap = abs(u @ (op @ v) - v @ (op @ u))
        assert gap <= 10 * rtol * np.abs(u) @ np.abs(dense) @ np.abs(v)
        b = rng.normal(size=dense.shape[0])
        x = op.solve(b, alpha=self.solve_alpha)
        A = dense + self.solve_alpha * np.eye(dense.shape[0])
        residual = np.linalg.norm(A @ x - b) / np.linalg.norm(b)
        assert residual <= (1e-3 if dtype == np.float32 else 1e-8)

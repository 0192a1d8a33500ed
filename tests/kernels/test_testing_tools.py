"""The oracles and tolerances of kernelkit.testing, checked by hand-worked examples."""

import subprocess
import sys

import numpy as np
import pytest

from kernelkit.kernels import FusedSpec, Gaussian, Kernel, Laplace, Linear
from kernelkit.testing import (
    PSD_RTOL,
    TOLERANCES,
    assert_close,
    naive_fused_matrix,
    naive_kernel_matrix,
    naive_knn,
    naive_log_kernel_matrix,
    naive_logsumexp,
    naive_matvec,
)


def test_naive_knn_breaks_ties_towards_the_lower_index():
    X = np.array([[0.0], [2.0]])
    Y = np.array([[1.0], [-1.0], [3.0], [0.0], [1.0]])
    dist, ind = naive_knn(X, Y, 3)
    np.testing.assert_array_equal(ind, [[3, 0, 1], [0, 2, 4]])
    np.testing.assert_array_equal(dist, [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    assert ind.dtype == np.int64 and dist.dtype == np.float64
    with pytest.raises(ValueError):
        naive_knn(X, Y, 6)


def test_naive_matvec_and_logsumexp_by_hand():
    X = np.array([[0.0]])
    Y = np.array([[0.0], [1.0], [2.0]])
    k = Laplace()
    np.testing.assert_allclose(naive_matvec(k, X, Y, [1.0, 2.0, 3.0]),
                               [1 + 2 * np.exp(-1) + 3 * np.exp(-2)], rtol=1e-15)
    np.testing.assert_allclose(naive_matvec(k, X, Y, np.eye(3)),
                               [[1.0, np.exp(-1), np.exp(-2)]], rtol=1e-15)
    w = np.array([0.5, 0.0, 2.0])
    np.testing.assert_allclose(naive_logsumexp(k, X, Y, w),
                               [np.log(0.5 + 2 * np.exp(-2))], rtol=1e-15)
    np.testing.assert_allclose(naive_logsumexp(k, X, Y),
                               [np.log(1 + np.exp(-1) + np.exp(-2))], rtol=1e-15)
    W = np.stack([w, np.ones(3)], axis=1)
    np.testing.assert_allclose(naive_logsumexp(k, X, Y, W),
                               [[np.log(0.5 + 2 * np.exp(-2)),
                                 np.log(1 + np.exp(-1) + np.exp(-2))]], rtol=1e-15)
    with pytest.raises(ValueError, match="non-negative"):
        naive_logsumexp(k, X, Y, -w)


def test_naive_log_kernel_stays_finite_where_the_kernel_underflows():
    X, Y = np.array([[0.0]]), np.array([[100.0]])
    assert naive_kernel_matrix(Gaussian(), X, Y)[0, 0] == 0.0
    assert naive_log_kernel_matrix(Gaussian(), X, Y)[0, 0] == -5000.0
    np.testing.assert_allclose(naive_logsumexp(Gaussian(), X, np.array([[100.0], [101.0]])),
                               [np.logaddexp(-5000.0, -5100.5)], rtol=1e-15)


def test_oracles_refuse_unknown_kernels_and_non_positive_logs():
    class Mine(Kernel):
        pass

    with pytest.raises(TypeError, match="naive_matrix"):
        naive_kernel_matrix(Mine(), np.ones((2, 2)))
    with pytest.raises(TypeError):
        naive_log_kernel_matrix(Linear(), np.ones((2, 2)))


def test_naive_fused_matrix_reads_every_field():
    X = np.array([[0.0, 0.0], [1.0, 2.0]])
    spec = FusedSpec("radial", "gaussian", (), np.array([1.0, 0.5]), 3.0)
    np.testing.assert_allclose(naive_fused_matrix(spec, X)[0, 1], 3 * np.exp(-1.0))
    cosine = FusedSpec("dot", "linear", (), 1.0, 2.0, True)
    np.testing.assert_allclose(naive_fused_matrix(cosine, X[1:], np.array([[2.0, 4.0]])),
                               [[2.0]])
    with pytest.raises(TypeError):
        naive_fused_matrix(FusedSpec("radial", "nope", ()), X)


@pytest.mark.parametrize("key", [np.float32, np.dtype("float32"), "float32"])
def test_tolerances_accept_any_spelling_of_a_dtype(key):
    assert TOLERANCES[key] == TOLERANCES[np.float32] and key in TOLERANCES
    assert PSD_RTOL[key] > PSD_RTOL[np.float64]
    assert set(TOLERANCES[key]) == {"rtol", "atol"}
    assert TOLERANCES[key]["rtol"] > TOLERANCES[np.float64]["rtol"]


def test_tolerances_accept_torch_dtypes():
    torch = pytest.importorskip("torch")
    assert TOLERANCES[torch.float64] is TOLERANCES[np.float64]
    assert torch.float32 in TOLERANCES and torch.int64 not in TOLERANCES


def test_assert_close_uses_the_dtype_tolerance():
    expected = np.array([1.0, 2.0])
    assert_close(np.float32(1 + 1e-5) * expected.astype(np.float32), expected)
    with pytest.raises(AssertionError):
        assert_close(expected * (1 + 1e-5), expected)
    with pytest.raises(AssertionError):
        assert_close(expected.astype(np.float32) * np.float32(1.001), expected)
    assert_close(np.array([-np.inf, 0.0]), np.array([-np.inf, 0.0]))


def test_testing_package_does_not_import_torch_or_pytest():
    code = ("import sys, kernelkit.testing; "
            "print('torch' in sys.modules, 'pytest' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]

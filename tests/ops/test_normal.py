"""normal_matvec: K(C, X) W K(X, C) U in one pass, against a dense numpy oracle."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import kernelkit
from kernelkit.exceptions import InputTypeError, InputValueError, ParameterError, ShapeError
from kernelkit.kernels import Gaussian, Laplace, Linear, Matern, Periodic
from kernelkit.ops import normal as normal_module
from kernelkit.ops import normal_matvec
from kernelkit.testing import TOLERANCES, assert_close, naive_kernel_matrix

KERNELS = {
    "gaussian": Gaussian(bandwidth=1.7),
    "laplace": Laplace(bandwidth=2.0),
    "matern32": Matern(nu=1.5, bandwidth=1.5),
    "linear": Linear(),
    "scaled": 2.5 * Gaussian(bandwidth=1.2),
    "sum (numpy backend)": Gaussian(bandwidth=1.0) + Laplace(bandwidth=3.0),
    "periodic (numpy backend)": Periodic(period=2.0, bandwidth=1.0),
}


def _oracle(kernel, X, C, U, w):
    K = naive_kernel_matrix(kernel, X.astype(np.float64), C.astype(np.float64))
    U64 = U.astype(np.float64)
    ww = np.ones(len(X)) if w is None else w.astype(np.float64)
    U2 = U64[:, None] if U64.ndim == 1 else U64
    exact = K.T @ (ww[:, None] * (K @ U2))
    bound = np.abs(K).T @ (np.abs(ww)[:, None] * (np.abs(K) @ np.abs(U2)))
    if U64.ndim == 1:
        return exact[:, 0], bound[:, 0]
    return exact, bound


def _check(out, exact, bound, dtype):
    rtol = TOLERANCES[dtype]["rtol"]
    err = np.abs(out.astype(np.float64) - exact)
    assert np.all(err <= rtol * bound + 1e-300), float((err / bound).max())


@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("k", "weighted"), [(None, True), (3, False), (7, True)])
def test_matches_dense_oracle(name, dtype, k, weighted, rng, tiling):
    kernel = KERNELS[name]
    n, m, d = 53, 17, 3
    X = rng.normal(size=(n, d)).astype(dtype)
    C = rng.normal(size=(m, d)).astype(dtype)
    U = rng.normal(size=(m,) if k is None else (m, k)).astype(dtype)
    w = rng.uniform(0.1, 2.0, size=n).astype(dtype) if weighted else None
    out = normal_matvec(kernel, X, C, U, w)
    assert out.shape == U.shape
    assert out.dtype == dtype
    exact, bound = _oracle(kernel, X, C, U, w)
    _check(out, exact, bound, dtype)
    if name == "gaussian":  # positive everything: the plain relative check holds too
        out_pos = normal_matvec(kernel, X, C, np.abs(U), None if w is None else w)
        assert_close(out_pos, _oracle(kernel, X, C, np.abs(U), w)[0], dtype=dtype)


@pytest.mark.parametrize("d", [2, 20])  # direct loop and the BLAS cross term
@pytest.mark.parametrize("k", [1, 6])
def test_many_features_and_backends_agree(d, k, rng):
    X, C = rng.normal(size=(40, d)), rng.normal(size=(9, d))
    U, w = rng.normal(size=(9, k)), rng.normal(size=40)  # signed weights are allowed
    kernel = Gaussian(bandwidth=np.sqrt(d))
    exact, bound = _oracle(kernel, X, C, U, w)
    with kernelkit.config_context(backend="numba"):
        _check(normal_matvec(kernel, X, C, U, w), exact, bound, np.float64)
    with kernelkit.config_context(backend="numpy"):
        _check(normal_matvec(kernel, X, C, U, w), exact, bound, np.float64)


def test_equals_two_engine_passes(rng):
    X, C, U = rng.normal(size=(300, 4)), rng.normal(size=(25, 4)), rng.normal(size=(25, 2))
    w = rng.uniform(size=300)
    kernel = Matern(nu=2.5, bandwidth=2.0)
    two = kernelkit.matvec(kernel, C, X, w[:, None] * kernelkit.matvec(kernel, X, C, U))
    np.testing.assert_allclose(normal_matvec(kernel, X, C, U, w), two, rtol=1e-12, atol=0)


@pytest.mark.parametrize("k", [1, 6])
def test_compute_dtype_float32(k, rng):
    X, C = rng.normal(size=(80, 3)), rng.normal(size=(12, 3))
    U, w = rng.normal(size=(12, k)), rng.uniform(size=80)
    kernel = Gaussian(bandwidth=1.3)
    out = normal_matvec(kernel, X, C, U, w, compute_dtype="float32")
    assert out.dtype == np.float64  # float64 inputs keep a float64 result
    exact, bound = _oracle(kernel, X, C, U, w)
    _check(out, exact, bound, np.float32)
    with pytest.raises(ParameterError, match="compute_dtype"):
        normal_matvec(kernel, X, C, U, compute_dtype="float16")


def test_mixed_dtypes_give_float64(rng):
    X = rng.normal(size=(10, 2)).astype(np.float32)
    out = normal_matvec(Gaussian(), X, X[:3], np.ones(3, dtype=np.float32))
    assert out.dtype == np.float32
    out = normal_matvec(Gaussian(), X, X[:3], np.ones(3), np.ones(10))  # float64 weights
    assert out.dtype == np.float64


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_memory_is_bounded_no_n_by_m(backend):
    # n x m float64 would be 2000 * 1500 * 8 = 24 MB; the budget is 1 MiB.
    rng = np.random.default_rng(0)
    n, m = 2000, 1500
    X, C, U = rng.normal(size=(n, 3)), rng.normal(size=(m, 3)), rng.normal(size=(m, 2))
    kernel = Gaussian(bandwidth=1.0)
    with kernelkit.config_context(working_memory=1, backend=backend, n_jobs=1):
        normal_matvec(kernel, X[:50], C, U)  # compile / warm outside the measurement
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            base, _ = tracemalloc.get_traced_memory()
            normal_matvec(kernel, X, C, U)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    extra = peak - base
    # budget (tiles, with the numpy backend's temporaries) + O(m (d + k)) + accumulators
    allowed = 2**20 * (normal_module._NUMPY_TEMPORARIES + 1) + 16 * m * 8 * 4
    assert extra < allowed, extra
    assert extra < n * m * 8 / 4


def test_inputs_not_mutated(rng):
    X, C = rng.normal(size=(30, 2)), rng.normal(size=(5, 2))
    U, w = rng.normal(size=(5, 2)), rng.uniform(size=30)
    copies = [A.copy() for A in (X, C, U, w)]
    normal_matvec(Gaussian(), X, C, U, w)
    normal_matvec(Gaussian(), X, C, U, w, compute_dtype="float32")
    for A, B in zip((X, C, U, w), copies, strict=True):
        np.testing.assert_array_equal(A, B)


def test_bad_inputs(rng):
    X, C, U = rng.normal(size=(10, 3)), rng.normal(size=(4, 3)), rng.normal(size=4)
    kernel = Gaussian()
    with pytest.raises(ShapeError, match="C has 2"):
        normal_matvec(kernel, X, C[:, :2], U)
    with pytest.raises(ShapeError, match="U has 3 rows but C has 4"):
        normal_matvec(kernel, X, C, U[:3])
    with pytest.raises(ShapeError, match="weights has 9 entries but X has 10"):
        normal_matvec(kernel, X, C, U, np.ones(9))
    with pytest.raises(ShapeError, match="weights must be 1-D"):
        normal_matvec(kernel, X, C, U, np.ones((10, 1)))
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputValueError, match="X contains NaN"):
        normal_matvec(kernel, bad, C, U)
    with pytest.raises(InputTypeError, match="not numeric"):
        normal_matvec(kernel, X, C, np.array(["a"] * 4))
    with pytest.raises(ParameterError, match="kernel must be"):
        normal_matvec("rbf", X, C, U)

"""kernel_thinning and Compress++ against dense numpy oracles; quality; bad input."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import kernelkit
from kernelkit.coresets import coreset_mmd, kernel_thinning
from kernelkit.coresets._prepare import prepare, root_kernel
from kernelkit.coresets._thinning import thin
from kernelkit.exceptions import (
    InputTypeError,
    InputValueError,
    MemoryBudgetError,
    ParameterError,
)
from kernelkit.kernels import IMQ, Gaussian, Laplace, Matern, Periodic, Polynomial
from kernelkit.testing import naive_kernel_matrix
from kernelkit.testing._tolerances import TOLERANCES

from . import _oracle

DTYPES = [np.float32, np.float64]


@pytest.fixture(params=["engine", "points"])
def mode(request):
    """Run with rows on demand and the candidates' kernel sums by one engine product
    (p x 2^m fits the budget), and with rows on demand only."""
    budget = {"engine": None, "points": 1e-4}[request.param]
    if budget is None:
        yield request.param
    else:
        with kernelkit.config_context(working_memory=budget):
            yield request.param


def _data(n, d, dtype, seed=0):
    return np.random.default_rng(seed).normal(size=(n, d)).astype(dtype)


def _dense_mmd(X, idx, kernel):
    K = naive_kernel_matrix(kernel, np.asarray(X, dtype=np.float64))
    return math.sqrt(max(_oracle.mmd2(K, idx), 0.0))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", [Gaussian(bandwidth=1.3), Laplace(bandwidth=[0.8, 1.5]),
                                    IMQ(c=1.0, beta=0.5, bandwidth=2.0),
                                    Matern(nu=2.5, bandwidth=1.0),
                                    Periodic(period=3.0, bandwidth=2.0)], ids=repr)
@pytest.mark.parametrize("m, unique", [(1, True), (3, False)])
def test_thin_matches_dense_oracle(mode, dtype, kernel, m, unique):
    X = _data(64, 2, dtype)
    X64 = X.astype(np.float64)
    kd = prepare(kernel, X)
    ids = np.arange(64, dtype=np.int64)
    if not kd.compiled and mode == "points":  # its 64 x 64 Gram matrix is over budget
        with pytest.raises(MemoryBudgetError, match="no compiled form"):
            thin(kd, kd, ids, m, 0.5, np.random.default_rng(7), unique=unique)
        return
    got = thin(kd, kd, ids, m, 0.5, np.random.default_rng(7), unique=unique)
    K = naive_kernel_matrix(kernel, X64)
    want = _oracle.thin(K, K, m, 0.5, np.random.default_rng(7), unique=unique)
    np.testing.assert_array_equal(np.sort(got), np.sort(want))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("method", ["kt", "kt+"])
def test_kernel_thinning_root_kernels_match_oracle(mode, dtype, method):
    X = _data(128, 3, dtype, seed=1)
    k = Gaussian(bandwidth=1.7)
    got = kernel_thinning(X, 16, k, method=method, random_state=3)
    X64 = X.astype(np.float64)
    root = Gaussian(bandwidth=1.7 / math.sqrt(2))
    split_kernel = root if method == "kt" else k + root
    K_split = naive_kernel_matrix(split_kernel, X64)
    K = naive_kernel_matrix(k, X64)
    want = _oracle.thin(K_split, K, 3, 0.5, np.random.default_rng(3))
    np.testing.assert_array_equal(got, np.sort(want))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("size, g", [(8, 1), (16, 1), (4, 0), (2, 1)])
def test_compress_pp_matches_dense_oracle(mode, dtype, size, g):
    X = _data(256, 2, dtype, seed=2)
    k = Gaussian(bandwidth=1.0)
    got = kernel_thinning(X, size, k, method="compress++", oversampling=g, random_state=5)
    K = naive_kernel_matrix(k, X.astype(np.float64))
    m = int(math.log2(256 // size))
    want = _oracle.compress_pp(K, size, m, g, 0.5, np.random.default_rng(5))
    np.testing.assert_array_equal(got, np.sort(want))


def test_root_kernel_is_a_square_root():
    # (k_rt * k_rt)(x, y) = integral k_rt(x, z) k_rt(z, y) dz is proportional to k(x, y).
    k = Gaussian(bandwidth=0.7)
    root = root_kernel(k)
    z = np.linspace(-12, 12, 4001)[:, None]
    xs = np.array([[0.0], [0.5], [1.3], [2.0]])
    conv = (root(xs, z) @ root(z, xs[:1])).ravel()
    np.testing.assert_allclose(conv / conv[0], k(xs, xs[:1]).ravel(), rtol=1e-9)
    assert root_kernel(Laplace()) is None


def test_coreset_mmd_matches_dense():
    X = _data(50, 2, np.float64)
    idx = np.array([1, 4, 4, 30, 49])
    k = Gaussian(bandwidth=0.9)
    tol = TOLERANCES[np.float64]
    assert math.isclose(coreset_mmd(X, idx, k), _dense_mmd(X, idx, k), rel_tol=1e-6,
                        abs_tol=tol["atol"])


@pytest.mark.parametrize("method", ["kt", "compress++"])
def test_quality_beats_uniform_subsampling(method):
    # KT's MMD is ~ n^-1/2 against ~ n^-1/4 for a random subsample of the same size:
    # at n = 2048 -> 32 points that is a ~6x gap; require 3x on the median of 3 seeds.
    n, size = 2048, 32
    ratios = []
    k = Gaussian(bandwidth=1.5)
    for seed in range(3):
        X = _data(n, 2, np.float64, seed=10 + seed)
        idx = kernel_thinning(X, size, k, method=method, random_state=seed)
        rand = np.random.default_rng(seed).choice(n, size, replace=False)
        ratios.append(coreset_mmd(X, idx, k) / coreset_mmd(X, rand, k))
    assert np.median(ratios) < 1 / 3, ratios


def test_default_size_kernel_and_unique():
    X = _data(1000, 2, np.float64)
    with pytest.warns(UserWarning, match="dropped at random"):
        idx = kernel_thinning(X, unique=True, random_state=0)
    # m = floor(log2(1000) / 2) = 4 rounds: 62 points from 992, 8 rows dropped
    assert idx.shape == (62,) and idx.dtype == np.int64
    assert len(np.unique(idx)) == 62 and idx.min() >= 0 and idx.max() < 1000
    with pytest.warns(UserWarning, match="8 of the 1000 rows"):
        again = kernel_thinning(X, unique=True, random_state=0)
    np.testing.assert_array_equal(idx, again)


def test_power_of_two_sizes_do_not_warn_and_keep_input():
    X = _data(256, 2, np.float32)
    before = X.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in ("kt", "kt+", "compress++"):
            idx = kernel_thinning(X, 16, method=method, random_state=0)
            assert idx.shape == (16,)
    np.testing.assert_array_equal(X, before)
    assert kernel_thinning(X, 256, random_state=0).tolist() == list(range(256))


def test_remainder_is_dropped_with_warning():
    X = _data(100, 2, np.float64)
    with pytest.warns(UserWarning, match="36 of the 100 rows were dropped"):
        idx = kernel_thinning(X, 32, Gaussian(), method="compress++", random_state=0)
    assert idx.shape == (32,)


def test_uncompiled_kernel_uses_dense_blocks():
    X = _data(64, 1, np.float64)
    k = Periodic(period=3.0, bandwidth=1.0)
    got = kernel_thinning(X, 8, k, random_state=1)
    K = naive_kernel_matrix(k, X)
    want = _oracle.thin(K, K, 3, 0.5, np.random.default_rng(1))
    np.testing.assert_array_equal(got, np.sort(want))
    with kernelkit.config_context(working_memory=1e-3), \
            pytest.raises(MemoryBudgetError, match="compress\\+\\+"):
        kernel_thinning(X, 8, Polynomial(), random_state=1)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"size": 0}, ParameterError, "size = 0 is outside"),
    ({"size": 65}, ParameterError, "size = 65 is outside"),
    ({"size": 2.5}, ParameterError, "size must be an integer"),
    ({"method": "herding"}, ParameterError, "method must be one of"),
    ({"delta": 1.5}, ParameterError, "delta must be in"),
    ({"delta": -1}, ParameterError, "delta"),
    ({"oversampling": -1}, ParameterError, "oversampling"),
    ({"kernel": "rbf"}, InputTypeError, "kernel must be a kernelkit Kernel"),
    ({"random_state": "x"}, ParameterError, "random_state"),
])
def test_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        kernel_thinning(_data(64, 2, np.float64), **kwargs)


def test_bad_data():
    X = _data(64, 2, np.float64)
    X[3, 1] = np.nan
    with pytest.raises(InputValueError, match="NaN or infinity"):
        kernel_thinning(X, 8)
    with pytest.raises(InputValueError, match="empty"):
        kernel_thinning(np.zeros((0, 2)))
    with pytest.raises(ParameterError, match="indices"):
        coreset_mmd(_data(8, 2, np.float64), [0, 9])


"""HSIC and the independence test against dense numpy oracles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

import kernelkit
from kernelkit.exceptions import InputValueError, ParameterError, ShapeError
from kernelkit.kernels import Gaussian, Laplace, Matern
from kernelkit.stats import hsic, hsic_test
from kernelkit.stats._hsic import _Centred, _trace_centred, gamma_parameters
from kernelkit.testing._tolerances import REDUCTION_RTOL

from .conftest import dense_gamma, dense_hsic

PAIRS = [(Gaussian(bandwidth=1.1), Gaussian(bandwidth=[0.7, 2.0])),  # engine product path
         (Laplace(bandwidth=0.9), Matern(nu=1.5, bandwidth=1.4))]    # blocked-tile path


def _tol(dtype):
    return REDUCTION_RTOL[dtype] * 20


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernels", PAIRS, ids=["gauss-gauss", "laplace-matern"])
def test_hsic_matches_dense_oracle(rng, dtype, kernels):
    kx, ky = kernels
    X = rng.normal(size=(45, 3)).astype(dtype)
    Y = (X[:, :2] ** 2 + rng.normal(size=(45, 2))).astype(dtype)
    want = dense_hsic(kx, ky, X.astype(float), Y.astype(float))
    assert abs(hsic(X, Y, kx, ky) - want) <= _tol(dtype)


@pytest.mark.parametrize("kernels", PAIRS, ids=["gauss-gauss", "laplace-matern"])
def test_blocked_path_with_tiny_tiles(rng, kernels):
    kx, ky = kernels
    X, Y = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    with kernelkit.config_context(working_memory=0.001):  # one row per tile
        got = hsic(X, Y, kx, ky)
    assert abs(got - dense_hsic(kx, ky, X, Y)) <= _tol(np.float64)


@pytest.mark.parametrize("kernels", PAIRS, ids=["gauss-gauss", "laplace-matern"])
def test_exact_permutations_match_a_loop(rng, kernels):
    kx, ky = kernels
    X, Y = rng.normal(size=(25, 2)), rng.normal(size=(25, 2))
    cx, cy = _Centred(kx, X), _Centred(ky, Y)
    for _ in range(4):
        p = rng.permutation(25)
        got = _trace_centred(cx, cy, p) / 25**2
        assert abs(got - dense_hsic(kx, ky, X, Y, p)) <= _tol(np.float64)


def test_exact_test_null_samples_are_permuted_hsic(rng):
    kx, ky = Gaussian(bandwidth=1.0), Laplace(bandwidth=1.0)
    X, Y = rng.normal(size=(20, 2)), rng.normal(size=(20, 1))
    res = hsic_test(X, Y, kx, ky, n_permutations=15, random_state=4, approximation="exact")
    gen = np.random.default_rng(4)
    perms = [gen.permutation(20) for _ in range(15)]
    want = [dense_hsic(kx, ky, X, Y, p) for p in perms]
    np.testing.assert_allclose(res.null_samples, want, rtol=0, atol=_tol(np.float64))
    assert res.statistic == pytest.approx(dense_hsic(kx, ky, X, Y), abs=_tol(np.float64))
    assert res.pvalue == (1 + np.sum(res.null_samples >= res.statistic)) / 16


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_full_rank_nystrom_equals_exact(rng, dtype):
    """With every point a landmark, ΦΦᵀ = K, so the Nyström statistic is exact HSIC."""
    kx, ky = Gaussian(bandwidth=1.5), Laplace(bandwidth=2.0)
    X = rng.normal(size=(30, 2)).astype(dtype)
    Y = (X[:, :1] + rng.normal(size=(30, 1))).astype(dtype)
    res = hsic_test(X, Y, kx, ky, n_permutations=5, approximation="nystrom",
                    n_components=30, random_state=0)
    want = dense_hsic(kx, ky, X.astype(float), Y.astype(float))
    # eigenvalue floor drops directions below 1e-10 * max: tiny, well inside this bound
    assert res.statistic == pytest.approx(want, rel=1e-6 if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernels", PAIRS, ids=["gauss-gauss (engine expansion)",
                                                "laplace-matern (blocked)"])
def test_gamma_parameters_match_dense_recipe(rng, dtype, kernels):
    kx, ky = kernels
    X = rng.normal(size=(40, 3)).astype(dtype)
    Y = rng.normal(size=(40, 2)).astype(dtype)
    Y[:, 0] += X[:, 0] ** 2
    got = gamma_parameters(_Centred(kx, X), _Centred(ky, Y))
    want = dense_gamma(kx, ky, X.astype(float), Y.astype(float))
    np.testing.assert_allclose(got, want, rtol=REDUCTION_RTOL[dtype] * 10)
    res = hsic_test(X, Y, kx, ky, method="gamma")
    assert res.pvalue == pytest.approx(sps.gamma.sf(40 * got[0], got[1], scale=got[2]),
                                       rel=1e-12)


def _binomial_upper(n, alpha, conf=1e-4):
    return int(sps.binom.ppf(1 - conf, n, alpha))


@pytest.mark.parametrize("approximation", ["exact", "nystrom", "gamma"])
def test_calibration_under_the_null(approximation):
    rng = np.random.default_rng(11)
    n_rep, rejections = 60, 0
    for _ in range(n_rep):
        X, Y = rng.normal(size=(30, 2)), rng.normal(size=(30, 1))
        if approximation == "gamma":
            res = hsic_test(X, Y, method="gamma")
        else:
            res = hsic_test(X, Y, n_permutations=39, approximation=approximation,
                            n_components=10, random_state=rng)
        rejections += res.reject
    assert rejections <= _binomial_upper(n_rep, 0.05)


@pytest.mark.parametrize("approximation", ["exact", "nystrom"])
def test_power_on_sinusoidal_dependence(approximation):
    rng = np.random.default_rng(12)
    X = rng.uniform(-3, 3, size=(150, 1))
    Y = np.sin(2 * X) + 0.3 * rng.normal(size=(150, 1))
    res = hsic_test(X, Y, n_permutations=99, approximation=approximation, random_state=0,
                    n_components=30)
    assert res.reject and res.details["approximation"] == approximation


def test_inputs_not_mutated(rng):
    X, Y = rng.normal(size=(20, 2)), rng.normal(size=(20, 3))
    X0, Y0 = X.copy(), Y.copy()
    hsic_test(X, Y, n_permutations=5, random_state=0, approximation="nystrom")
    hsic_test(X, Y, n_permutations=5, random_state=0, approximation="exact")
    hsic_test(X, Y, method="gamma")
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)


def test_bad_inputs(rng):
    X = rng.normal(size=(10, 2))
    with pytest.raises(ShapeError, match="same number of rows"):
        hsic(X, X[:9])
    with pytest.raises(InputValueError, match="at least 2"):
        hsic(X[:1], X[:1])
    with pytest.raises(InputValueError, match="identical"):
        hsic(X, np.ones((10, 1)))
    with pytest.raises(ParameterError, match="approximation"):
        hsic_test(X, X, approximation="rff")
    with pytest.raises(ParameterError, match="method"):
        hsic_test(X, X, method="wild")
    with pytest.raises(ParameterError, match="6 samples"):
        hsic_test(X[:5], X[:5], method="gamma")
    with pytest.raises(ParameterError, match="degenerate"):
        hsic_test(X, np.ones((10, 1)), Gaussian(), Gaussian(), method="gamma")


@pytest.mark.parametrize("kernels", PAIRS, ids=["gauss-gauss", "laplace-matern"])
def test_streamed_and_in_budget_exact_routes_agree(rng, kernels):
    kx, ky = kernels
    X, Y = rng.normal(size=(40, 2)), rng.normal(size=(40, 2))
    kw = dict(n_permutations=10, random_state=2, approximation="exact")
    dense = hsic_test(X, Y, kx, ky, **kw)
    with kernelkit.config_context(working_memory=0.01):  # Gram matrices no longer fit
        streamed = hsic_test(X, Y, kx, ky, **kw)
    np.testing.assert_allclose(streamed.null_samples, dense.null_samples, rtol=0,
                               atol=_tol(np.float64))
    assert streamed.statistic == pytest.approx(dense.statistic, abs=_tol(np.float64))

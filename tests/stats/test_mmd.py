"""MMD estimates and the two-sample test against dense numpy oracles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from kernelkit.exceptions import InputValueError, ParameterError, ShapeError
from kernelkit.kernels import IMQ, Gaussian, Laplace
from kernelkit.stats import MMDReference, median_heuristic, mmd, mmd_test
from kernelkit.testing import naive_kernel_matrix
from kernelkit.testing._tolerances import REDUCTION_RTOL, TOLERANCES

from .conftest import dense_mmd2

KERNELS = [Gaussian(bandwidth=1.3), Laplace(bandwidth=0.8), IMQ(c=1.0, beta=0.5)]


def _rtol(dtype):
    return REDUCTION_RTOL[dtype] * 10


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("estimator", ["unbiased", "biased"])
@pytest.mark.parametrize("kernel", KERNELS, ids=repr)
def test_mmd_matches_dense_oracle(rng, dtype, estimator, kernel):
    X = rng.normal(size=(37, 3)).astype(dtype)
    Y = rng.normal(0.5, 1.2, size=(23, 3)).astype(dtype)
    got = mmd(X, Y, kernel, estimator)
    want = dense_mmd2(kernel, X.astype(float), Y.astype(float), estimator)
    # The statistic is a difference of O(1) means: absolute error ~ rtol * max|k|.
    assert abs(got - want) <= _rtol(dtype) * 3 * 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weighted_mmd_matches_oracle(rng, dtype):
    X = rng.normal(size=(20, 2)).astype(dtype)
    Y = rng.normal(size=(30, 2)).astype(dtype)
    wx, wy = rng.uniform(size=20), rng.uniform(size=30)
    k = Gaussian(bandwidth=0.9)
    for est in ("biased", "unbiased"):
        got = mmd(X, Y, k, est, weights_x=wx, weights_y=wy)
        want = dense_mmd2(k, X.astype(float), Y.astype(float), est, wx, wy)
        assert abs(got - want) <= _rtol(dtype) * 6


def test_uniform_weights_equal_unweighted(rng):
    X, Y = rng.normal(size=(15, 2)), rng.normal(size=(12, 2))
    k = Gaussian()
    for est in ("biased", "unbiased"):
        a = mmd(X, Y, k, est)
        b = mmd(X, Y, k, est, weights_x=np.ones(15), weights_y=np.full(12, 3.0))
        assert abs(a - b) <= 1e-12


def test_linear_estimator_matches_direct_formula(rng):
    X, Y = rng.normal(size=(41, 2)), rng.normal(size=(30, 2))
    k = Gaussian(bandwidth=1.1)
    K = lambda a, b: float(naive_kernel_matrix(k, a[None], b[None])[0, 0])  # noqa: E731
    h = [K(X[2 * i], X[2 * i + 1]) + K(Y[2 * i], Y[2 * i + 1])
         - K(X[2 * i], Y[2 * i + 1]) - K(X[2 * i + 1], Y[2 * i]) for i in range(15)]
    assert abs(mmd(X, Y, k, "linear") - np.mean(h)) <= 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reference_matches_mmd_of_subset(rng, dtype):
    X = rng.normal(size=(90, 3)).astype(dtype)
    k = Gaussian(bandwidth=1.5)
    ref = MMDReference(X, k)
    idx = rng.choice(90, 11, replace=False)
    want = dense_mmd2(k, X[idx].astype(float), X.astype(float), "biased")
    assert abs(ref.mmd(X[idx]) - want) <= _rtol(dtype) * 4
    w = rng.uniform(size=11)
    want_w = dense_mmd2(k, X[idx].astype(float), X.astype(float), "biased", wx=w)
    assert abs(ref.mmd(X[idx], weights=w) - want_w) <= _rtol(dtype) * 4


def test_default_kernel_is_median_heuristic(rng):
    X, Y = rng.normal(size=(40, 2)), rng.normal(size=(30, 2))
    h = median_heuristic(X, Y)
    Z = np.concatenate([X, Y])
    d = np.sqrt(((Z[:, None] - Z[None]) ** 2).sum(-1))[np.triu_indices(70, 1)]
    assert h == pytest.approx(np.median(d), rel=1e-12)
    assert mmd(X, Y) == pytest.approx(mmd(X, Y, Gaussian(bandwidth=h)), rel=1e-12)


def test_median_heuristic_on_tied_data_uses_nonzero_distances():
    X = np.array([[0.0]] * 8 + [[2.0]])
    assert median_heuristic(X) == 2.0


def _loop_permutation_stats(kernel, X, Y, P, estimator):
    """Oracle: relabel the pooled sample column by column and recompute densely."""
    Z = np.concatenate([X, Y]).astype(float)
    out = []
    for col in P.T:
        lab = col.astype(bool)
        out.append(dense_mmd2(kernel, Z[lab], Z[~lab], estimator))
    return np.array(out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("estimator", ["unbiased", "biased"])
def test_all_permutations_in_one_pass_match_a_loop(rng, dtype, estimator):
    from kernelkit.stats._mmd import _label_matrix, _permuted_mmds

    X = rng.normal(size=(17, 2)).astype(dtype)
    Y = rng.normal(0.3, size=(13, 2)).astype(dtype)
    k = Laplace(bandwidth=1.2)
    P = _label_matrix(np.random.default_rng(1), 17, 13, 25, np.dtype(dtype))
    got = _permuted_mmds(k, np.concatenate([X, Y]), P, 17, 13, estimator == "unbiased", None)
    want = _loop_permutation_stats(k, X, Y, P, estimator)
    np.testing.assert_allclose(got, want, rtol=0, atol=_rtol(dtype) * 6)
    # each column is a genuine relabelling with the right group sizes
    assert np.all(P.sum(axis=0) == 17)


def test_mmd_test_result_fields(rng):
    X, Y = rng.normal(size=(30, 2)), rng.normal(size=(25, 2))
    res = mmd_test(X, Y, Gaussian(), n_permutations=50, random_state=3)
    assert res.null_samples.shape == (50,)
    assert res.statistic == pytest.approx(mmd(X, Y, Gaussian()), abs=1e-12)
    assert res.pvalue == (1 + np.sum(res.null_samples >= res.statistic)) / 51
    assert res.reject == (res.pvalue <= 0.05)
    again = mmd_test(X, Y, Gaussian(), n_permutations=50, random_state=3)
    np.testing.assert_array_equal(res.null_samples, again.null_samples)
    assert res.as_dict()["n_null"] == 50


def test_inputs_are_not_mutated(rng):
    X, Y = rng.normal(size=(20, 2)), rng.normal(size=(20, 2))
    X0, Y0 = X.copy(), Y.copy()
    mmd_test(X, Y, n_permutations=20, random_state=0)
    mmd_test(X, Y, method="aggregated", n_permutations=20, random_state=0)
    mmd(X, Y, estimator="linear")
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(Y, Y0)


def _binomial_upper(n, alpha, conf=1e-4):
    """Largest rejection count compatible with level alpha (one-sided, tiny false alarm)."""
    return int(sps.binom.ppf(1 - conf, n, alpha))


@pytest.mark.parametrize("method", ["permutation", "aggregated"])
def test_calibration_under_the_null(method):
    """Rejections over null replications stay within a binomial bound of alpha."""
    rng = np.random.default_rng(7)
    n_rep, rejections = 60, 0
    for _ in range(n_rep):
        X, Y = rng.normal(size=(25, 2)), rng.normal(size=(25, 2))
        res = mmd_test(X, Y, method=method, n_permutations=99, random_state=rng,
                       n_bandwidths=2)
        rejections += res.reject
    assert rejections <= _binomial_upper(n_rep, 0.05)


@pytest.mark.parametrize("method", ["permutation", "aggregated"])
def test_power_under_a_mean_shift(method):
    rng = np.random.default_rng(8)
    X, Y = rng.normal(size=(60, 2)), rng.normal(1.0, size=(60, 2))
    assert mmd_test(X, Y, method=method, n_permutations=99, random_state=0).reject


def test_aggregated_details_consistent(rng):
    X, Y = rng.normal(size=(40, 2)), rng.normal(0.5, size=(30, 2))
    res = mmd_test(X, Y, method="aggregated", n_permutations=60, random_state=1,
                   n_bandwidths=4)
    d = res.details
    assert len(res.kernel) == 8 and len(d["mmd2"]) == 8
    # per-kernel decision by quantile equals the decision by p-value threshold
    np.testing.assert_array_equal(d["mmd2"] > d["quantiles"],
                                  d["pvalues"] <= d["thresholds"])
    assert res.reject == bool(np.any(d["reject_each"]))
    kern = res.kernel[2]
    assert d["mmd2"][2] == pytest.approx(mmd(X, Y, kern), abs=1e-12)


def test_bad_inputs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(10, 2))
    with pytest.raises(ShapeError, match="same number of columns"):
        mmd(X, rng.normal(size=(10, 3)))
    with pytest.raises(InputValueError, match="at least 2"):
        mmd(X[:1], X)
    with pytest.raises(InputValueError, match="identical"):
        mmd(np.ones((5, 2)), np.ones((6, 2)))
    with pytest.raises(ShapeError, match="reshape"):
        mmd(np.arange(5.0), np.arange(5.0))
    with pytest.raises(InputValueError, match="NaN"):
        mmd(np.array([[np.nan], [1.0]]), X[:, :1])
    with pytest.raises(ParameterError, match="estimator"):
        mmd(X, X, estimator="fast")
    with pytest.raises(ParameterError, match="alpha"):
        mmd_test(X, X, alpha=1.5)
    with pytest.raises(ParameterError, match="n_permutations"):
        mmd_test(X, X, n_permutations=0)
    with pytest.raises(ParameterError, match="kernel"):
        mmd(X, X, kernel="rbf")
    with pytest.raises(ShapeError, match="weights_x"):
        mmd(X, X, weights_x=np.ones(3))
    with pytest.raises(ParameterError, match="biased"):
        mmd(X, X, weights_x=np.eye(10)[0])
    # constant data with an explicit kernel is fine (a well-defined statistic)
    assert mmd(np.ones((5, 2)), np.ones((6, 2)), Gaussian()) == pytest.approx(0, abs=1e-12)
    assert TOLERANCES  # shared tolerance table in use

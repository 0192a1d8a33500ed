"""Ridge leverage scores and leverage-score sampling against a dense numpy oracle."""

from __future__ import annotations

import numpy as np
import pytest

import kernelkit
from kernelkit.approx import ridge_leverage_scores, rls_sample
from kernelkit.approx._common import kernel_block, weighted_sample_without_replacement
from kernelkit.exceptions import InputTypeError, InputValueError, MemoryBudgetError, ParameterError
from kernelkit.kernels import Gaussian, Laplace, Linear, Matern, Periodic
from kernelkit.testing import TOLERANCES, assert_close, naive_kernel_matrix

KERNELS = [Gaussian(bandwidth=1.0), Laplace(bandwidth=2.0), Matern(nu=2.5, bandwidth=0.8)]


def oracle_scores(kernel, X, lam):
    """diag(K (K + λI)^{-1}) from the dense float64 matrix, by a plain solve."""
    K = naive_kernel_matrix(kernel, X)
    return np.diag(np.linalg.solve(K + lam * np.eye(len(K)), K))


def clustered(n_big, n_small, d=3, seed=0, dtype=np.float64, big_sd=1.0):
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal(0.0, big_sd, (n_big, d)), rng.normal(6.0, 0.3, (n_small, d))]
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", KERNELS, ids=repr)
def test_exact_scores_match_oracle(kernel, dtype):
    X = clustered(120, 5, dtype=dtype)
    got = ridge_leverage_scores(kernel, X, regularization=0.3, method="exact")
    # computed in float64 from the same (representable) inputs, so float64 tolerances,
    # loosened only by the conditioning of K + λI (||K|| / λ <= n / λ)
    want = oracle_scores(kernel, X, 0.3)
    tol = TOLERANCES[np.float64]
    np.testing.assert_allclose(got, want, rtol=tol["rtol"] * len(X) / 0.3,
                               atol=tol["atol"] * len(X) / 0.3)
    assert got.dtype == np.float64 and got.shape == (len(X),)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lam", [0.05, 2.0])
@pytest.mark.parametrize("kernel", KERNELS, ids=repr)
def test_approximate_scores_within_factor_three(kernel, lam, dtype):
    """Every approximate score within a factor 3 of the exact one; the sum (d_eff) within
    25 %. Levels of 256 points are exact, so n = 600 gives two recursive levels."""
    X = clustered(585, 15, dtype=dtype)
    exact = oracle_scores(kernel, X.astype(np.float64), lam)
    for seed in range(2):
        approx = ridge_leverage_scores(kernel, X, regularization=lam, random_state=seed)
        ratio = approx / exact
        assert ratio.min() > 1 / 3 and ratio.max() < 3, (ratio.min(), ratio.max())
        assert abs(approx.sum() / exact.sum() - 1) < 0.25


def test_small_input_is_exact():
    """Up to 256 points the dictionary is every point with unit weight: exact scores."""
    X = clustered(100, 10)
    approx = ridge_leverage_scores(Gaussian(), X, regularization=0.5, random_state=0)
    np.testing.assert_allclose(approx, oracle_scores(Gaussian(), X, 0.5), rtol=1e-8)


def test_rls_sample_prefers_small_cluster():
    """Two equally tight clusters of 2000 and 20 points; 3 x 40 draws. Uniform sampling
    expects 1.2 draws from the small cluster in all and 9 or more with probability ~1e-5;
    the small cluster holds ~15 % of the exact leverage, so RLS expects ~18."""
    X = clustered(2000, 20, seed=1, big_sd=0.3)
    counts = []
    for seed in range(3):
        idx = rls_sample(Gaussian(), X, 40, regularization=1.0, random_state=seed)
        assert idx.dtype == np.int64 and idx.shape == (40,)
        assert len(np.unique(idx)) == 40 and idx.min() >= 0 and idx.max() < len(X)
        counts.append(int((idx >= 2000).sum()))
    assert sum(counts) >= 9, counts


def test_weighted_draws_follow_weights():
    """First draws land on index i with probability w_i / sum(w) (binomial 5-sigma bound);
    the second draw never repeats the first."""
    rng = np.random.default_rng(0)
    w = np.array([8.0, 4.0, 2.0, 1.0, 1.0, 0.0])
    trials = 4000
    draws = np.array([weighted_sample_without_replacement(w, 2, rng) for _ in range(trials)])
    assert np.all(draws[:, 0] != draws[:, 1])
    counts = np.bincount(draws[:, 0], minlength=len(w))
    p = w / w.sum()
    assert np.all(np.abs(counts - trials * p) <= 5 * np.sqrt(trials * p * (1 - p)) + 1e-9)


def test_rls_sample_all_rows_and_reproducible():
    X = clustered(50, 5)
    a = rls_sample(Gaussian(), X, len(X), regularization=0.1, random_state=3)
    assert sorted(a.tolist()) == list(range(len(X)))
    b = rls_sample(Gaussian(), X, 10, regularization=0.1, random_state=3)
    c = rls_sample(Gaussian(), X, 10, regularization=0.1, random_state=3)
    np.testing.assert_array_equal(b, c)


def test_inputs_not_mutated():
    X = clustered(300, 10)
    before = X.copy()
    rls_sample(Gaussian(), X, 5, regularization=1.0, random_state=0)
    ridge_leverage_scores(Gaussian(), X, regularization=1.0, method="exact")
    np.testing.assert_array_equal(X, before)


def test_bad_input():
    X = clustered(30, 3)
    with pytest.raises(ParameterError, match="n_samples"):
        rls_sample(Gaussian(), X, 34, regularization=1.0)
    with pytest.raises(ParameterError, match="n_samples"):
        rls_sample(Gaussian(), X, 0, regularization=1.0)
    with pytest.raises(ParameterError, match="regularization"):
        rls_sample(Gaussian(), X, 3, regularization=0.0)
    with pytest.raises(ParameterError, match="regularization"):
        ridge_leverage_scores(Gaussian(), X, regularization=-1.0)
    with pytest.raises(InputTypeError, match="kernel"):
        rls_sample("rbf", X, 3, regularization=1.0)
    with pytest.raises(ParameterError, match="method"):
        ridge_leverage_scores(Gaussian(), X, regularization=1.0, method="dense")
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputValueError, match="NaN"):
        rls_sample(Gaussian(), bad, 3, regularization=1.0)
    with kernelkit.config_context(working_memory=0.01):
        with pytest.raises(MemoryBudgetError, match="approximate"):
            ridge_leverage_scores(Gaussian(), X, regularization=1.0, method="exact")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", KERNELS + [Gaussian(bandwidth=[0.5, 1.0, 2.0]),
                                              Periodic(), 2.0 * Gaussian(), Linear()], ids=repr)
def test_kernel_block_matches_oracle(kernel, dtype):
    """The block evaluation agrees with the dense oracle away from coincident pairs (the
    compiled rows for kernels the engine compiles, the numpy paths for the others)."""
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(30, 3)).astype(dtype), rng.normal(size=(20, 3)).astype(dtype)
    got = kernel_block(kernel, A, B)
    assert got.dtype == np.float64
    assert_close(got, naive_kernel_matrix(kernel, A, B), dtype=np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", KERNELS + [2.0 * Gaussian(), Linear()], ids=repr)
def test_kernel_block_with_many_features_matches_oracle(kernel, dtype):
    """Beyond _COMPILED_MAX_FEATURES the numpy path (BLAS cross term) is used."""
    rng = np.random.default_rng(0)
    d = 130
    A = (rng.normal(size=(30, d)) / np.sqrt(d / 3)).astype(dtype)  # kernel values ~ O(1)
    B = (rng.normal(size=(20, d)) / np.sqrt(d / 3)).astype(dtype)
    got = kernel_block(kernel, A, B)
    assert got.dtype == np.float64
    assert_close(got, naive_kernel_matrix(kernel, A, B), dtype=np.float64)


def test_kernel_block_dispatch_and_coincident_pairs(monkeypatch):
    """Supported kernels with few features use the compiled rows; they are accurate at
    (near-)coincident pairs, where the numpy path's distance expansion is not."""
    import kernelkit.approx._common as common

    calls = []
    real = common.compiled_gram
    monkeypatch.setattr(common, "compiled_gram",
                        lambda *a, **k: calls.append(a[1].shape) or real(*a, **k))
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3)) * 1e3
    Y = X + 1e-9  # near-coincident pairs at large norm
    got = kernel_block(Laplace(bandwidth=1.0), X, Y)
    np.testing.assert_allclose(np.diag(got), np.exp(-np.sqrt(3) * 1e-9), rtol=1e-12)
    assert calls == [(40, 3)]
    kernel_block(Laplace(bandwidth=1.0), rng.normal(size=(5, 200)), rng.normal(size=(4, 200)))
    kernel_block(Periodic(), X, Y)  # no compiled profile: numpy path
    assert calls == [(40, 3)]

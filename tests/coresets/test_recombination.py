"""Recombination: exact moment matching against dense numpy, validity, quality, errors."""

from __future__ import annotations

import numpy as np
import pytest

import kernelkit
from kernelkit.coresets import recombination
from kernelkit.coresets._recombination import _caratheodory, recombine
from kernelkit.exceptions import InputTypeError, InputValueError, MemoryBudgetError, ParameterError
from kernelkit.kernels import Gaussian, Laplace


def _check_reduction(A, w, out):
    D = A.shape[0]
    assert (out >= 0).all()
    assert np.count_nonzero(out) <= D
    np.testing.assert_allclose(A @ out, A @ w, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("N", [7, 40, 1000])
def test_recombine_keeps_every_mean_with_at_most_D_points(N):
    rng = np.random.default_rng(N)
    A = np.vstack([np.ones(N), rng.normal(size=(5, N))])
    w = rng.uniform(0.5, 1.5, size=N)
    w /= w.sum()
    _check_reduction(A, w, recombine(A, w))  # recursive (N > 2D) and direct paths
    _check_reduction(A, w, _caratheodory(A, w))  # slow twin: direct elimination only


def _dense_weighted_mmd(X, idx, w, bandwidth):
    def k(A, B):
        return np.exp(-((A[:, None] - B[None]) ** 2).sum(-1) / (2 * bandwidth**2))
    mmd2 = k(X, X).mean() - 2 * w @ k(X[idx], X).mean(1) + w @ k(X[idx], X[idx]) @ w
    return np.sqrt(max(mmd2, 0.0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recombination_matches_kernel_means_at_the_landmarks(dtype):
    # dense oracle: the landmarks are the rows drawn by the same generator; with a
    # well-conditioned landmark Gram matrix, keeping the Nystrom feature means keeps the
    # sample mean of k(., landmark) for every landmark exactly
    X = np.random.default_rng(0).normal(size=(600, 2)).astype(dtype)
    X0 = X.copy()
    size, bw = 12, 0.3
    idx, w = recombination(X, size, Gaussian(bandwidth=bw), random_state=5)
    np.testing.assert_array_equal(X, X0)  # not modified
    assert idx.dtype == np.int64 and len(idx) <= size
    assert (np.diff(idx) > 0).all() and (w > 0).all()
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    Xd = X.astype(np.float64)
    L = Xd[np.random.default_rng(5).choice(600, size - 1, replace=False)]
    K = np.exp(-((Xd[:, None] - L[None]) ** 2).sum(-1) / (2 * bw**2))
    np.testing.assert_allclose(w @ K[idx], K.mean(axis=0), rtol=1e-8, atol=1e-12)


def test_recombination_beats_uniform_subsampling():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1000, 2))
    idx, w = recombination(X, 32, Gaussian(bandwidth=1.0), random_state=0)
    ours = _dense_weighted_mmd(X, idx, w, 1.0)
    uniform = [_dense_weighted_mmd(X, rng.choice(1000, 32, replace=False), np.full(32, 1 / 32),
                                   1.0) for _ in range(5)]
    assert ours < np.median(uniform) / 3


def test_recombination_other_kernel_and_size_one():
    X = np.random.default_rng(2).normal(size=(300, 3))
    idx, w = recombination(X, 10, Laplace(bandwidth=1.0), random_state=0)
    assert 1 <= len(idx) <= 10 and w.sum() == pytest.approx(1.0)
    idx1, w1 = recombination(X, 1, random_state=0)
    assert idx1.shape == (1,) and w1.tolist() == [1.0]


def test_recombination_bad_input():
    X = np.random.default_rng(3).normal(size=(50, 2))
    for size in (0, 51, 2.5):
        with pytest.raises(ParameterError, match="size"):
            recombination(X, size)
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(InputValueError):
        recombination(Xn, 5)
    with pytest.raises(InputTypeError, match="kernel"):
        recombination(X, 5, kernel="gaussian")
    with kernelkit.config_context(working_memory=0.001), \
            pytest.raises(MemoryBudgetError, match="working_memory"):
        recombination(X, 40)

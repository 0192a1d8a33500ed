"""Nystroem, LowRankOperator and sample_dpp against dense numpy oracles."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from kernelkit.approx import LowRankOperator, Nystroem, sample_dpp
from kernelkit.approx._nystroem import SAMPLINGS
from kernelkit.exceptions import ParameterError
from kernelkit.kernels import Gaussian, Laplace, Polynomial
from kernelkit.testing import TOLERANCES, naive_kernel_matrix


def _oracle(kernel, X, C):
    """K(X, C) K(C, C)^+ K(C, X) from dense float64 matrices."""
    X, C = X.astype(np.float64), C.astype(np.float64)
    KxC = naive_kernel_matrix(kernel, X, C)
    return KxC @ np.linalg.pinv(naive_kernel_matrix(kernel, C, C), rcond=1e-10) @ KxC.T


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sampling", SAMPLINGS)
def test_matches_dense_oracle(sampling, dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3)).astype(dtype)
    kernel = Laplace(bandwidth=2.0)
    ny = Nystroem(kernel=kernel, n_components=25, sampling=sampling, random_state=0).fit(X)
    Z = ny.transform(X)
    assert Z.dtype == dtype and Z.shape == (80, ny.n_components_)
    tol = TOLERANCES[dtype]
    got = Z.astype(np.float64) @ Z.T.astype(np.float64)
    np.testing.assert_allclose(got, _oracle(kernel, X, ny.components_),
                               rtol=tol["rtol"], atol=100 * tol["atol"])
    if ny.component_indices_ is not None:
        assert len(np.unique(ny.component_indices_)) == ny.n_components_
        np.testing.assert_array_equal(ny.components_, X[ny.component_indices_])


@pytest.mark.parametrize("sampling", ["uniform", "rls", "greedy", "dpp"])
def test_all_points_reproduce_kernel(sampling):
    X = np.random.default_rng(1).normal(size=(30, 2))
    with pytest.warns(UserWarning, match="n_components"):
        ny = Nystroem(kernel=Laplace(), n_components=40, sampling=sampling,
                      random_state=0).fit(X)
    assert ny.n_components_ == 30
    Z = ny.transform(X)
    np.testing.assert_allclose(Z @ Z.T, naive_kernel_matrix(Laplace(), X), atol=1e-8)


def test_rls_beats_uniform_on_unequal_clusters():
    """600 + 2 x 10 points: uniform centres miss the small clusters (spectral error ~ their
    own kernel mass); leverage centres cover them with the same budget."""
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 0.3, (600, 2)), rng.normal(5, 0.3, (10, 2)),
              rng.normal(-5, 0.3, (10, 2))]
    kernel = Gaussian(bandwidth=0.5)
    K = naive_kernel_matrix(kernel, X)

    def err(sampling, seed):
        Z = Nystroem(kernel=kernel, n_components=30, sampling=sampling,
                     random_state=seed).fit_transform(X)
        with threadpool_limits(1):
            return np.linalg.eigvalsh(K - Z @ Z.T)[-1]

    uniform = np.median([err("uniform", s) for s in range(3)])
    rls = np.median([err("rls", s) for s in range(3)])
    assert rls < 0.5 * uniform, (rls, uniform)


def test_low_rank_operator_solve_matches_dense():
    rng = np.random.default_rng(2)
    Phi = rng.normal(size=(40, 6))
    op = LowRankOperator(Phi)
    B = rng.normal(size=(40, 3))
    dense = Phi @ Phi.T
    np.testing.assert_allclose(op.solve(B, 0.3), np.linalg.solve(dense + 0.3 * np.eye(40), B),
                               rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(op.matvec(B[:, 0]), dense @ B[:, 0], rtol=1e-12)
    np.testing.assert_allclose(op.diag(), np.diag(dense), rtol=1e-12)
    assert op.rank == 6
    with pytest.raises(ParameterError, match="alpha"):
        op.solve(B, 0.0)
    ny = Nystroem(n_components=10, random_state=0).fit(rng.normal(size=(40, 2)))
    assert ny.operator(rng.normal(size=(7, 2))).shape == (7, 7)


def test_any_kernel_works():
    X = np.random.default_rng(3).normal(size=(50, 3))
    Z = Nystroem(kernel=Polynomial(degree=2), n_components=10, random_state=0).fit_transform(X)
    assert Z.shape == (50, 10)


def test_k_dpp_matches_enumerated_law():
    """Empirical law of a 2-DPP on 5 items vs det(L_S) / e_2(λ), within 5 sigma."""
    x = np.array([[0.0], [0.3], [0.5], [2.0], [4.0]])
    L = naive_kernel_matrix(Gaussian(), x)
    subsets = list(itertools.combinations(range(5), 2))
    p = np.array([np.linalg.det(L[np.ix_(s, s)]) for s in subsets])
    p /= p.sum()
    trials = 1500
    rng = np.random.default_rng(0)
    counts = dict.fromkeys(subsets, 0)
    for _ in range(trials):
        counts[tuple(sorted(sample_dpp(L, k=2, random_state=rng).tolist()))] += 1
    freq = np.array([counts[s] for s in subsets])
    assert np.all(np.abs(freq - trials * p) <= 5 * np.sqrt(trials * p * (1 - p)) + 1)


def test_dpp_size_mean():
    L = 0.5 * np.eye(6)
    sizes = [len(sample_dpp(L, random_state=s)) for s in range(300)]
    # each item independently with probability 0.5 / 1.5
    assert abs(np.mean(sizes) - 2.0) < 5 * np.sqrt(6 * (1 / 3) * (2 / 3) / 300)


def test_bad_input_not_mutated():
    X = np.random.default_rng(4).normal(size=(20, 2))
    before = X.copy()
    Nystroem(n_components=5, sampling="rls", random_state=0).fit_transform(X)
    np.testing.assert_array_equal(X, before)
    with pytest.raises(ValueError, match="sampling"):
        Nystroem(sampling="random").fit(X)
    with pytest.raises(ValueError, match="regularization"):
        Nystroem(regularization=-1.0).fit(X)
    with pytest.raises(ValueError, match="square"):
        sample_dpp(np.ones((3, 2)))
    with pytest.raises(ParameterError, match="k="):
        sample_dpp(np.eye(3), k=4)


@parametrize_with_checks([Nystroem(sampling=s, n_components=5, random_state=0)
                          for s in SAMPLINGS])
def test_sklearn_compatible(estimator, check):
    check(estimator)

"""SequentialNystroem against dense oracles: dictionary size vs d_eff, spectral error."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from kernelkit.approx import SequentialNystroem
from kernelkit.kernels import Gaussian, Laplace
from kernelkit.testing import TOLERANCES, naive_kernel_matrix


@pytest.fixture(autouse=True)
def _one_blas_thread():
    """Dense oracles on one BLAS thread: threaded eigh is 30x slower on a busy machine."""
    with threadpool_limits(1):
        yield


def _deff(K, gamma):
    ev = np.linalg.eigvalsh(K.astype(np.float64))
    return float((ev / (ev + gamma)).sum())


def test_dictionary_tracks_deff_and_stops_growing():
    """Size within [1, 4.5] x d_eff (oversampling 3) at every checkpoint; n grows 4x while
    the dictionary grows by at most 1.5x."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, size=(800, 1))
    kernel, gamma = Gaussian(bandwidth=1.0), 0.1
    sn = SequentialNystroem(kernel=kernel, regularization=gamma, oversampling=3.0,
                            random_state=0)
    sizes = []
    for stop in (200, 400, 800):
        sn.partial_fit(X[sn.n_samples_seen_ if hasattr(sn, "n_samples_seen_") else 0:stop])
        deff = _deff(naive_kernel_matrix(kernel, X[:stop], X[:stop]), gamma)
        assert sn.n_samples_seen_ == stop
        assert deff <= sn.n_components_ <= 4.5 * deff, (stop, sn.n_components_, deff)
        assert 0.4 * deff <= sn.effective_dimension_ <= 2.0 * deff  # rough estimate
        sizes.append(sn.n_components_)
    assert sizes[-1] <= 1.5 * sizes[0]
    assert np.all(np.diff(sn.component_indices_) > 0) and sn.component_indices_[-1] < 800


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spectral_error_below_gamma_and_matches_oracle(dtype):
    """||K − K̃||₂ ≤ 2γ on the rows seen (theory: γ/(1 − ε) for an ε-accurate dictionary;
    measured 0.52-1.10 γ over 10 seeds here), and Z Zᵀ equals the dense Nyström oracle."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 2)).astype(dtype)
    X0 = X.copy()
    kernel, gamma = Laplace(bandwidth=2.0), 2.0
    sn = SequentialNystroem(kernel=kernel, regularization=gamma, batch_size=100,
                            random_state=0).fit(X)
    np.testing.assert_array_equal(X, X0)
    Z = sn.transform(X)
    assert Z.dtype == dtype and Z.shape == (500, sn.n_components_)
    assert sn.components_.dtype == dtype
    K = naive_kernel_matrix(kernel, X.astype(np.float64), X.astype(np.float64))
    Kt = Z.astype(np.float64) @ Z.T.astype(np.float64)
    assert np.linalg.norm(K - Kt, 2) <= 2 * gamma
    assert sn.n_components_ < 500 / 2
    C = sn.components_.astype(np.float64)
    KxC = naive_kernel_matrix(kernel, X.astype(np.float64), C)
    oracle = KxC @ np.linalg.pinv(naive_kernel_matrix(kernel, C, C), rcond=1e-10) @ KxC.T
    tol = TOLERANCES[dtype]
    np.testing.assert_allclose(Kt, oracle, rtol=tol["rtol"], atol=100 * tol["atol"])


def test_uniform_dictionary_of_same_size_is_worse():
    """The leverage-score dictionary beats uniform centres of the same size on data with a
    small far cluster (so the error test above can fail for a bad dictionary)."""
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(size=(570, 2)), rng.normal(size=(30, 2)) * 0.3 + 8.0])
    X = X[rng.permutation(600)]
    kernel, gamma = Gaussian(bandwidth=0.7), 0.3
    sn = SequentialNystroem(kernel=kernel, regularization=gamma, random_state=0).fit(X)
    K = naive_kernel_matrix(kernel, X, X)
    Z = sn.transform(X)
    err_seq = np.linalg.norm(K - Z @ Z.T, 2)
    C = X[rng.choice(600, sn.n_components_, replace=False)]
    KxC = naive_kernel_matrix(kernel, X, C)
    err_uni = np.linalg.norm(K - KxC @ np.linalg.pinv(kernel(C), rcond=1e-10) @ KxC.T, 2)
    assert err_seq <= 2 * gamma < err_uni  # measured ~0.03 γ vs 3-7 γ over 8 seeds


def test_fit_equals_partial_fit_in_batches():
    X = np.random.default_rng(3).normal(size=(450, 3))
    a = SequentialNystroem(batch_size=150, random_state=7).fit(X)
    b = SequentialNystroem(batch_size=150, random_state=7)
    for s in (0, 150, 300):
        b.partial_fit(X[s:s + 150])
    np.testing.assert_array_equal(a.component_indices_, b.component_indices_)
    np.testing.assert_array_equal(a.transform(X[:5]), b.transform(X[:5]))
    c = SequentialNystroem(batch_size=150, random_state=7).fit(X[:10]).fit(X)  # fit resets
    np.testing.assert_array_equal(a.component_indices_, c.component_indices_)


def test_bad_input():
    X = np.random.default_rng(4).normal(size=(30, 2))
    with pytest.raises(InvalidParameterError, match="regularization"):
        SequentialNystroem(regularization=0.0).fit(X)
    with pytest.raises(InvalidParameterError, match="oversampling"):
        SequentialNystroem(oversampling=-1.0).fit(X)
    sn = SequentialNystroem().partial_fit(X)
    with pytest.raises(ValueError, match="features"):
        sn.partial_fit(X[:, :1])
    with pytest.raises(ValueError, match="NaN"):
        SequentialNystroem().fit(np.full((5, 2), np.nan))


@parametrize_with_checks([SequentialNystroem(random_state=0, batch_size=16)])
def test_sklearn_compatible(estimator, check):
    check(estimator)

"""KernelDensity against scikit-learn and against a dense numpy oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logsumexp as dense_lse
from sklearn.neighbors import KernelDensity as SkKDE
from sklearn.utils.estimator_checks import parametrize_with_checks

from kernelkit.density import SKLEARN_KERNELS, KernelDensity
from kernelkit.exceptions import InputValueError, ParameterError
from kernelkit.kernels import Matern
from kernelkit.testing._tolerances import TOLERANCES

#: Agreement with scikit-learn's tree code (float64, rtol=0) promised by the issue.
SKLEARN_RTOL = 1e-10


def _oracle_gaussian(X, Q, h, w=None):
    """Dense float64 Gaussian log-density with per-feature bandwidths h."""
    X, Q = np.asarray(X, np.float64), np.asarray(Q, np.float64)
    h = np.broadcast_to(np.asarray(h, np.float64), (X.shape[1],))
    diff = (Q[:, None, :] - X[None, :, :]) / h
    logk = -0.5 * np.einsum("ijk,ijk->ij", diff, diff)
    w = np.ones(X.shape[0]) if w is None else np.asarray(w, np.float64)
    return (dense_lse(logk, b=w[None, :], axis=1) - math.log(w.sum())
            - np.sum(np.log(h)) - 0.5 * X.shape[1] * math.log(2 * math.pi))


@pytest.mark.parametrize("kernel", SKLEARN_KERNELS)
@pytest.mark.parametrize("d", [1, 3])
def test_matches_sklearn(kernel, d, rng):
    X = rng.normal(size=(300, d))
    Q = rng.normal(size=(40, d)) * 0.7
    w = rng.uniform(0.1, 2.0, size=300)
    for weights in (None, w):
        ours = KernelDensity(kernel=kernel, bandwidth=0.6).fit(X, sample_weight=weights)
        ref = SkKDE(kernel=kernel, bandwidth=0.6).fit(X, sample_weight=weights)
        a, b = ours.score_samples(Q), ref.score_samples(Q)
        finite = np.isfinite(b)
        np.testing.assert_array_equal(np.isfinite(a), finite)
        np.testing.assert_allclose(a[finite], b[finite], rtol=SKLEARN_RTOL)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_per_feature_bandwidth_against_oracle(dtype, rng):
    X = rng.normal(size=(200, 3)).astype(dtype)
    Q = rng.normal(size=(30, 3)).astype(dtype)
    h = np.array([0.3, 1.0, 2.5])
    out = KernelDensity(bandwidth=h).fit(X).score_samples(Q)
    assert out.dtype == dtype
    tol = TOLERANCES[dtype]
    np.testing.assert_allclose(out, _oracle_gaussian(X, Q, h), rtol=tol["rtol"],
                               atol=tol["atol"] * 10)


@pytest.mark.parametrize("pruned", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tiny_bandwidth_is_stable(dtype, pruned, rng, request):
    if pruned:
        request.getfixturevalue("force_pruning")
    X = rng.normal(size=(50, 2)).astype(dtype)
    Q = (X[:5] + 0.5).astype(dtype)  # every kernel value underflows
    out = KernelDensity(bandwidth=1e-3).fit(X).score_samples(Q)
    assert np.all(np.isfinite(out))
    expected = _oracle_gaussian(X, Q, 1e-3)
    np.testing.assert_allclose(out, expected, rtol=TOLERANCES[dtype]["rtol"])


_PROFILES = {  # log f(r) written out independently of the kernel classes
    "gaussian": lambda r: -0.5 * r * r,
    "exponential": lambda r: -r,
    "epanechnikov": lambda r: np.log(np.clip(1 - r * r, 0, None)),
}


@pytest.mark.parametrize("d", [1, 2, 5])  # 5: cells over two principal directions
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", sorted(_PROFILES))
def test_pruned_exact_path_is_exact(force_pruning, kernel, dtype, d, rng):
    X = np.concatenate([rng.normal(size=(300, d)), rng.normal(6, 0.3, size=(100, d))])
    X = X.astype(dtype)
    Q = np.concatenate([rng.normal(size=(40, d)) * 2, np.full((1, d), 30.0)]).astype(dtype)
    kde = KernelDensity(kernel=kernel, bandwidth=0.2).fit(X)
    ours = kde.score_samples(Q)
    r = np.linalg.norm(Q.astype(np.float64)[:, None] - X.astype(np.float64)[None], axis=2)
    with np.errstate(divide="ignore"):
        sums = dense_lse(_PROFILES[kernel](r / 0.2), axis=1)
    # The normaliser is checked against scikit-learn in test_matches_sklearn.
    ref = sums + kde._log_norm()
    finite = np.isfinite(ref)
    np.testing.assert_array_equal(np.isfinite(ours), finite)
    rtol = 1e-12 if dtype == np.float64 else TOLERANCES[dtype]["rtol"]
    np.testing.assert_allclose(ours[finite], ref[finite], rtol=rtol)


def test_pruning_skips_work_and_respects_rtol(force_pruning, rng, monkeypatch):
    from kernelkit.density import _exact

    calls = []
    original = _exact._reduce

    def counting(dk, Q, X, w):
        calls.append(Q.shape[0] * X.shape[0])
        return original(dk, Q, X, w)

    monkeypatch.setattr(_exact, "_reduce", counting)
    X = rng.uniform(-20, 20, size=(2000, 2))
    Q = rng.uniform(-20, 20, size=(200, 2))
    exact = _oracle_gaussian(X, Q, 0.5)
    for rtol in (0.0, 1e-3):
        calls.clear()
        out = KernelDensity(bandwidth=0.5, rtol=rtol).fit(X).score_samples(Q)
        assert sum(calls) < 0.5 * X.shape[0] * Q.shape[0]  # most pairs were skipped
        err = np.max(np.abs(np.expm1(out - exact)))  # relative error of the density
        assert err <= max(rtol, 1e-12)


def test_matern_kernel_normalised(rng):
    """A kernelkit kernel with a numeric normaliser integrates to one (1-D quadrature)."""
    X = rng.normal(size=(50, 1))
    kde = KernelDensity(kernel=Matern(nu=1.5), bandwidth=0.4).fit(X)
    grid = np.linspace(-12, 12, 20001)[:, None]
    mass = np.trapezoid(np.exp(kde.score_samples(grid)), grid[:, 0])
    assert abs(mass - 1) < 1e-6


def test_score_is_sum_and_inputs_not_mutated(rng):
    X = rng.normal(size=(100, 2))
    w = rng.uniform(size=100)
    X0, w0 = X.copy(), w.copy()
    kde = KernelDensity(bandwidth="scott").fit(X, sample_weight=w)
    Q = rng.normal(size=(10, 2))
    assert math.isclose(kde.score(Q), kde.score_samples(Q).sum(), rel_tol=1e-12)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("kernel", ["gaussian", "tophat", "epanechnikov", "exponential"])
def test_sample_moments(kernel):
    X = np.array([[0.0, 0.0], [10.0, 0.0]])
    kde = KernelDensity(kernel=kernel, bandwidth=0.5).fit(X, sample_weight=[3.0, 1.0])
    S = kde.sample(20000, random_state=0)
    assert S.shape == (20000, 2)
    near_first = np.linalg.norm(S - X[0], axis=1) < 5
    assert abs(near_first.mean() - 0.75) < 0.02
    if kernel in ("tophat", "epanechnikov"):
        dist = np.minimum(np.linalg.norm(S - X[0], axis=1), np.linalg.norm(S - X[1], axis=1))
        assert dist.max() <= 0.5 + 1e-12


@pytest.mark.parametrize("bad", [0.0, -1.0, np.inf, np.nan, [1.0, -1.0], "nope"])
def test_bad_bandwidth(bad, rng):
    with pytest.raises(ParameterError, match="bandwidth"):
        KernelDensity(bandwidth=bad).fit(rng.normal(size=(10, 2)))


def test_bad_sample_weight(rng):
    X = rng.normal(size=(10, 2))
    with pytest.raises(ValueError, match="[Nn]egative"):
        KernelDensity().fit(X, sample_weight=-np.ones(10))
    with pytest.raises(InputValueError, match="sums to zero"):
        KernelDensity().fit(X, sample_weight=np.zeros(10))


def test_grid_method_rejects_high_dimension(rng):
    with pytest.raises(ParameterError, match="method='exact'"):
        KernelDensity(method="grid").fit(rng.normal(size=(10, 4)))


def test_grid_method_close_to_exact(rng):
    X = rng.normal(size=(500, 2))
    Q = rng.normal(size=(50, 2)) * 0.5
    exact = KernelDensity(bandwidth=0.4).fit(X).score_samples(Q)
    grid = KernelDensity(bandwidth=0.4, method="grid", grid_size=128).fit(X).score_samples(Q)
    np.testing.assert_allclose(np.exp(grid), np.exp(exact), rtol=0.02)


def test_isj_on_constant_data_names_remedy():
    with pytest.raises(InputValueError, match="numeric bandwidth"):
        KernelDensity(bandwidth="isj").fit(np.ones((20, 1)))


@parametrize_with_checks([KernelDensity(), KernelDensity(kernel="epanechnikov"),
                          KernelDensity(bandwidth="scott", rtol=1e-6)])
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_no_n_by_m_memory(rng):
    """Scoring 2000 queries against 20000 points stays far below the 320 MB of K."""
    import tracemalloc

    X = rng.normal(size=(20_000, 2))
    Q = rng.normal(size=(2_000, 2))
    kde = KernelDensity(bandwidth=0.2).fit(X)
    kde.score_samples(Q[:10])
    tracemalloc.start()
    kde.score_samples(Q)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20 * 2**20


def test_atol_bounds_absolute_density_error(force_pruning, rng):
    X = rng.uniform(-20, 20, size=(2000, 2))
    Q = rng.uniform(-25, 25, size=(200, 2))
    exact = np.exp(_oracle_gaussian(X, Q, 0.5))
    atol = 1e-6 * exact.max()
    out = np.exp(KernelDensity(bandwidth=0.5, atol=atol).fit(X).score_samples(Q))
    assert np.max(np.abs(out - exact)) <= atol

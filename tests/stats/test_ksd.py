"""KSD, its wild-bootstrap test and the perturbation, against finite-difference oracles."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from kernelkit.exceptions import InputValueError, ParameterError, ShapeError
from kernelkit.kernels import IMQ, Gaussian, Laplace
from kernelkit.stats import MetropolisJump, ksd, ksd_test
from kernelkit.stats._ksd import stein_matvec
from kernelkit.testing import naive_kernel_matrix

KERNELS = [Gaussian(bandwidth=1.3), IMQ(c=1.0, beta=0.5, bandwidth=0.9),
           IMQ(c=0.7, beta=1.3, bandwidth=1.6)]


def _k(kernel, x, y):
    return float(naive_kernel_matrix(kernel, x[None], y[None])[0, 0])


def dense_stein_matrix(kernel, X, S, eps=1e-4):
    """u_p(x_i, x_j) with kernel gradients by central finite differences (the oracle)."""
    n, d = X.shape
    U = np.empty((n, n))
    E = np.eye(d) * eps
    for i in range(n):
        for j in range(n):
            x, y = X[i], X[j]
            gx = np.array([(_k(kernel, x + e, y) - _k(kernel, x - e, y)) / (2 * eps) for e in E])
            gy = np.array([(_k(kernel, x, y + e) - _k(kernel, x, y - e)) / (2 * eps) for e in E])
            tr = sum((_k(kernel, x + e, y + e) - _k(kernel, x + e, y - e)
                      - _k(kernel, x - e, y + e) + _k(kernel, x - e, y - e)) / (4 * eps**2)
                     for e in E)
            U[i, j] = _k(kernel, x, y) * S[i] @ S[j] + S[i] @ gy + S[j] @ gx + tr
    return U


@pytest.mark.parametrize("kernel", KERNELS, ids=repr)
def test_stein_kernel_matches_finite_differences(rng, kernel):
    X = rng.normal(size=(9, 2))
    S = rng.normal(size=(9, 2))
    W = rng.normal(size=(9, 3))
    UW, diag = stein_matvec(kernel, X, S, W)
    U = dense_stein_matrix(kernel, X, S)
    # finite differences with eps=1e-4 are accurate to ~1e-8 relative on these O(10) values
    np.testing.assert_allclose(UW, U @ W, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(diag, np.diag(U), rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ksd_estimators_match_dense(rng, dtype):
    kernel = IMQ(bandwidth=1.1)
    X = rng.normal(0.3, size=(12, 2)).astype(dtype)
    S = -X.astype(np.float64)
    U = dense_stein_matrix(kernel, X.astype(np.float64), S)
    v = U.sum() / 144
    u = (U.sum() - np.trace(U)) / (12 * 11)
    score = lambda x: -np.asarray(x, dtype=np.float64)  # noqa: E731
    assert ksd(X, score, kernel, "biased") == pytest.approx(v, abs=1e-6)
    assert ksd(X, score, kernel) == pytest.approx(u, abs=1e-6)
    # scores given as an array are the same as a callable
    assert ksd(X, S, kernel) == pytest.approx(ksd(X, score, kernel), abs=1e-12)


def test_blocked_tiles_agree(rng):
    import kernelkit

    X, S, W = rng.normal(size=(40, 3)), rng.normal(size=(40, 3)), rng.normal(size=(40, 5))
    full = stein_matvec(IMQ(), X, S, W)[0]
    with kernelkit.config_context(working_memory=0.001):
        tiled = stein_matvec(IMQ(), X, S, W)[0]
    np.testing.assert_allclose(tiled, full, rtol=1e-12, atol=1e-12)


def test_bootstrap_null_matches_quadratic_forms(rng):
    X = rng.normal(size=(15, 2))
    kernel = Gaussian(bandwidth=1.0)
    res = ksd_test(X, lambda x: -x, kernel, n_bootstrap=20, random_state=5)
    U = dense_stein_matrix(kernel, X, -X)
    np.fill_diagonal(U, 0)
    gen = np.random.default_rng(5)
    W = gen.choice(np.array([-1.0, 1.0]), size=(15, 20))
    want = np.einsum("ij,ij->j", W, U @ W) / (15 * 14)
    np.testing.assert_allclose(res.null_samples, want, rtol=0, atol=1e-6)
    assert res.statistic == pytest.approx(U.sum() / (15 * 14), abs=1e-6)


def _binomial_upper(n, alpha, conf=1e-4):
    return int(sps.binom.ppf(1 - conf, n, alpha))


def test_calibration_under_the_null():
    rng = np.random.default_rng(21)
    n_rep, rej = 60, 0
    for _ in range(n_rep):
        X = rng.normal(size=(40, 2))
        rej += ksd_test(X, lambda x: -x, n_bootstrap=99, random_state=rng).reject
    assert rej <= _binomial_upper(n_rep, 0.05)


def _mixture(wp, delta):
    m = np.array([[0.0], [delta]])

    def logp(x):
        a = np.log(wp) - 0.5 * (x[:, 0] - m[0, 0]) ** 2
        b = np.log(1 - wp) - 0.5 * (x[:, 0] - m[1, 0]) ** 2
        return np.logaddexp(a, b)

    def score(x):
        a = np.log(wp) - 0.5 * (x[:, 0] - m[0, 0]) ** 2
        b = np.log(1 - wp) - 0.5 * (x[:, 0] - m[1, 0]) ** 2
        r = 1 / (1 + np.exp(b - a))
        return (-(x[:, 0] - m[0, 0]) * r - (x[:, 0] - m[1, 0]) * (1 - r))[:, None]

    return logp, score, m


def test_perturbation_keeps_the_target_invariant():
    """A p-sample stays a p-sample: moments after many jump steps match."""
    logp, _, m = _mixture(0.3, 5.0)
    rng = np.random.default_rng(3)
    n = 20000
    z = rng.uniform(size=n) < 0.3
    X = rng.normal(size=(n, 1)) + np.where(z, 0.0, 5.0)[:, None]
    Xp = MetropolisJump(logp, m, theta=0.7, n_steps=5)(X, rng)
    se = X.std() / np.sqrt(n)
    assert abs(Xp.mean() - X.mean()) < 6 * se
    assert abs(np.mean(Xp[:, 0] < 2.5) - 0.3) < 6 * np.sqrt(0.21 / n)


def test_perturbation_raises_power_for_wrong_weights():
    """The seed paper's claim on a tiny scale: wrong mixing weights, same modes."""
    logp, score, m = _mixture(0.5, 6.0)
    rng = np.random.default_rng(4)
    jump = MetropolisJump(logp, m, theta=0.7, n_steps=10)
    plain = pert = 0
    for _ in range(8):
        z = rng.uniform(size=200) < 0.8
        X = rng.normal(size=(200, 1)) + np.where(z, 0.0, 6.0)[:, None]
        plain += ksd_test(X, score, n_bootstrap=99, random_state=rng).reject
        pert += ksd_test(X, score, n_bootstrap=99, random_state=rng,
                         perturbation=jump).reject
    assert pert >= 6 and plain <= 3


def test_inputs_not_mutated(rng):
    X = rng.normal(size=(20, 2))
    X0 = X.copy()
    logp = lambda x: -0.5 * (x**2).sum(1)  # noqa: E731
    ksd_test(X, lambda x: -x, n_bootstrap=5, random_state=0,
             perturbation=MetropolisJump(logp, [[-1, 0], [1, 0]], n_steps=2))
    np.testing.assert_array_equal(X, X0)


def test_bad_inputs(rng):
    X = rng.normal(size=(10, 2))
    with pytest.raises(ShapeError, match=r"shape \(10,\)"):
        ksd(X, lambda x: x.sum(1))
    with pytest.raises(ShapeError, match="one column per feature"):
        ksd(X, lambda x: x[:, :1])
    with pytest.raises(InputValueError, match="NaN or infinite at 1 of 10"):
        ksd(X, lambda x: np.where(np.arange(10)[:, None] == 3, np.nan, -x))
    with pytest.raises(InputValueError, match="at least 2"):
        ksd(X[:1], lambda x: -x)
    with pytest.raises(ParameterError, match="Gaussian and IMQ"):
        ksd(X, lambda x: -x, Laplace())
    with pytest.raises(ParameterError, match="scalar bandwidth"):
        ksd(X, lambda x: -x, Gaussian(bandwidth=[1.0, 2.0]))
    with pytest.raises(ParameterError, match="callable"):
        ksd_test(X, -X, perturbation=lambda x, r: x)
    with pytest.raises(InputValueError, match="identical"):
        ksd(np.ones((5, 2)), lambda x: -x)
    with pytest.raises(ParameterError, match="method"):
        ksd_test(X, lambda x: -x, method="permutation")

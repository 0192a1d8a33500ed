"""The matrix-free GP path (CG + SLQ + Hutchinson + pivoted Cholesky) against dense oracles."""

from __future__ import annotations

import math
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.linalg

import kernelkit
from kernelkit.exceptions import ConvergenceWarning
from kernelkit.kernels import IMQ, Gaussian, Laplace, Matern, RationalQuadratic
from kernelkit.regression import GaussianProcessRegressor
from kernelkit.regression import _gp_iterative as it
from kernelkit.regression._gp import _profile_slope
from kernelkit.testing._tolerances import TOLERANCES

#: the brief's accuracy of the CG mean at a tight cg_tol
MEAN_RTOL = 1e-6
TIGHT_CG = 1e-10
#: standard errors a stochastic estimate may deviate by (a 4-sigma event has p < 1e-4)
N_SIGMA = 4.0


@pytest.fixture
def gp_data(rng):
    X = rng.normal(size=(250, 3))
    y = np.sin(X).sum(axis=1) + 0.1 * rng.normal(size=250)
    return X, y, rng.normal(size=(12, 3))


def _dense_khat(kernel, X, scale, noise):
    K = scale * kernel(X, X)
    return K + noise * np.eye(len(X))


def _naive_pivoted_cholesky(A, rank):
    """Textbook pivoted Cholesky on a dense matrix (the oracle)."""
    R = A.copy()
    n = len(A)
    L = np.zeros((n, rank))
    piv = []
    for m in range(rank):
        i = int(np.argmax(np.diag(R)))
        piv.append(i)
        L[:, m] = R[:, i] / math.sqrt(R[i, i])
        R = R - np.outer(L[:, m], L[:, m])
    return L, np.array(piv)


def test_pivoted_cholesky_matches_dense_oracle(rng):
    X = rng.normal(size=(60, 2))
    A = 1.3 * Gaussian(bandwidth=0.9)(X, X)
    L, piv = it.pivoted_cholesky(np.diag(A), lambda i: A[:, i], 15)
    L0, piv0 = _naive_pivoted_cholesky(A, 15)
    np.testing.assert_array_equal(piv, piv0)
    np.testing.assert_allclose(L, L0, rtol=1e-10, atol=1e-12)
    resid = A - L @ L.T
    assert np.linalg.eigvalsh(resid).min() > -1e-10       # A - L Lᵀ stays PSD
    assert np.trace(resid) < np.trace(A)
    # full rank reproduces A (stops early once the residual is round-off)
    Lf, _ = it.pivoted_cholesky(np.diag(A), lambda i: A[:, i], 60)
    np.testing.assert_allclose(Lf @ Lf.T, A, atol=1e-8)
    # the estimator's version (kernel columns) equals the dense one
    pre = it.make_preconditioner(Gaussian(bandwidth=0.9), X, 1.3, 0.1, 15)
    np.testing.assert_allclose(pre.L, L0, rtol=1e-10, atol=1e-12)


def test_preconditioner_woodbury_logdet_and_samples(rng):
    X = rng.normal(size=(50, 2))
    pre = it.make_preconditioner(Matern(nu=2.5, bandwidth=1.1), X, 2.0, 0.05, 10)
    P = pre.L @ pre.L.T + 0.05 * np.eye(50)
    V = rng.normal(size=(50, 3))
    np.testing.assert_allclose(pre.solve(V), np.linalg.solve(P, V), rtol=1e-9, atol=1e-9)
    assert pre.logdet() == pytest.approx(np.linalg.slogdet(P)[1], rel=1e-12)
    # z = L ε₁ + √noise ε₂ has covariance P for any ε with identity covariance
    F = pre.sample(np.hstack([np.eye(10), np.zeros((10, 50))]),
                   np.hstack([np.zeros((50, 10)), np.eye(50)]))
    np.testing.assert_allclose(F @ F.T, P, atol=1e-12)
    # rank 0 is noise I
    p0 = it.PivotedCholeskyPreconditioner(np.zeros((50, 0)), 0.5)
    np.testing.assert_allclose(p0.solve(V), V / 0.5)
    assert p0.logdet() == pytest.approx(50 * math.log(0.5))


@pytest.mark.parametrize("rank", [0, 8])
def test_lanczos_from_cg_gives_exact_quadrature_at_full_length(rng, rank):
    n = 30
    X = rng.normal(size=(n, 2))
    A = _dense_khat(Gaussian(bandwidth=1.5), X, 1.0, 0.3)
    pre = it.make_preconditioner(Gaussian(bandwidth=1.5), X, 1.0, 0.3, rank)
    P = pre.L @ pre.L.T + 0.3 * np.eye(n)
    B = rng.normal(size=(n, 2))
    sol, info = it.lanczos_cg(lambda V: A @ V, B, apply_M=pre.solve, tol=1e-13,
                              max_iter=n)
    np.testing.assert_allclose(sol, np.linalg.solve(A, B), rtol=1e-9, atol=1e-10)
    # oracle: wᵀ log(P^{-1/2} A P^{-1/2}) w with w = P^{-1/2} b
    Pih = scipy.linalg.fractional_matrix_power(P, -0.5).real
    lam, U = np.linalg.eigh(Pih @ A @ Pih)
    W = Pih @ B
    want = np.einsum("ij,ij->j", W, U @ (np.log(lam)[:, None] * (U.T @ W)))
    got = it.slq_quadratic_forms(info, np.arange(2))
    np.testing.assert_allclose(got, want, rtol=1e-7)
    # m = 1 already integrates f(x) = x exactly
    _, info1 = it.lanczos_cg(lambda V: A @ V, B, apply_M=pre.solve, tol=1e-13, max_iter=1)
    lin = it.slq_quadratic_forms(info1, np.arange(2), f=lambda x: x)
    np.testing.assert_allclose(lin, np.einsum("ij,ij->j", W, Pih @ A @ Pih @ W), rtol=1e-10)


@pytest.mark.parametrize("kernel", [
    Gaussian(bandwidth=0.9), Gaussian(bandwidth=[0.8, 1.2, 1.5]), Laplace(bandwidth=1.2),
    Matern(nu=1.5, bandwidth=1.1), Matern(nu=2.5, bandwidth=[1.0, 2.0, 0.7]),
    RationalQuadratic(alpha=1.5, bandwidth=0.7), IMQ(c=1.0, beta=0.5, bandwidth=0.8),
])
def test_bandwidth_derivative_products_match_dense(rng, kernel):
    X = rng.normal(size=(80, 3)) + 4.0   # off-centre: the expansion must not cancel
    B = rng.normal(size=(80, 2))
    bw = np.atleast_1d(kernel.bandwidth)
    S = kernel._sqdist(X, X, np)
    G = _profile_slope(kernel, S)
    got = it.bandwidth_derivative_products(kernel, X, B)
    assert len(got) == (1 if np.ndim(kernel.bandwidth) == 0 else 3)
    fd = isinstance(kernel, Laplace)
    for j, prod in enumerate(got):
        if len(got) == 1:
            D = G * S
        else:
            xj = X[:, j] / bw[j]
            D = G * (xj[:, None] - xj[None, :]) ** 2
        want = D @ B
        # exact expansion: round-off; Laplace: central difference, O(FD_STEP²)
        tol = 10 * it.FD_STEP ** 2 if fd else 1e-12
        np.testing.assert_allclose(prod, want, rtol=0, atol=tol * np.abs(want).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mean_std_cov_match_exact_path(gp_data, dtype):
    X, y, Xq = gp_data
    X, Xq = X.astype(dtype), Xq.astype(dtype)
    Y = np.column_stack([y, np.cos(X[:, 0])])
    kw = dict(kernel=Matern(nu=2.5, bandwidth=1.2), noise=0.02, output_scale=1.3,
              optimizer=None)
    ex = GaussianProcessRegressor(**kw, solver="cholesky").fit(X, Y)
    itr = GaussianProcessRegressor(**kw, solver="iterative", cg_tol=TIGHT_CG,
                                   random_state=0).fit(X, Y)
    assert itr.solver_ == "iterative" and itr.L_ is None and itr.n_cg_iter_ > 0
    rtol = max(MEAN_RTOL, TOLERANCES[dtype]["rtol"])
    m1, s1 = ex.predict(Xq, return_std=True)
    m2, s2 = itr.predict(Xq, return_std=True)
    np.testing.assert_allclose(m2, m1, rtol=rtol, atol=rtol * np.abs(m1).max())
    np.testing.assert_allclose(s2, s1, rtol=rtol, atol=rtol * s1.max())
    _, c1 = ex.predict(Xq, return_cov=True)
    _, c2 = itr.predict(Xq, return_cov=True)
    np.testing.assert_allclose(c2, c1, rtol=rtol, atol=rtol * np.abs(c1).max())
    S = itr.sample_y(Xq[:3], n_samples=2, random_state=0)
    assert S.shape == (3, 2, 2)


def test_slq_logdet_and_lml_within_statistical_bound(gp_data):
    X, y, _ = gp_data
    kernel, scale, noise = Gaussian(bandwidth=1.0), 1.5, 0.1
    exact = np.linalg.slogdet(_dense_khat(kernel, X, scale, noise))[1]
    Y = y[:, None]
    theta = np.log([1.0, scale, noise])

    def estimate(n_probes, seed):
        return it.IterativeMarginalLikelihood(
            kernel, X, Y, n_probes=n_probes, preconditioner_rank=10, cg_tol=1e-7,
            rng=np.random.RandomState(seed))(theta, eval_gradient=False)

    ev = estimate(160, 0)
    se = ev.logdet_probes.std(ddof=1) / math.sqrt(160)
    assert se > 0
    assert abs(ev.logdet - exact) <= N_SIGMA * se
    ref = GaussianProcessRegressor(kernel=kernel, output_scale=scale, noise=noise,
                                   optimizer=None, solver="cholesky").fit(X, y)
    assert abs(ev.lml - ref.log_marginal_likelihood_value_) <= N_SIGMA * 0.5 * se + 1e-5
    # unbiased-ish: the average of many independent 4-probe estimates
    runs = [estimate(4, s).logdet for s in range(1, 21)]
    assert abs(np.mean(runs) - exact) <= N_SIGMA * np.std(runs, ddof=1) / math.sqrt(20)
    # the estimator reports the standard error of its LML and reproduces its own value
    gp = GaussianProcessRegressor(kernel=kernel, output_scale=scale, noise=noise,
                                  optimizer=None, solver="iterative", n_probes=16,
                                  preconditioner_rank=10, cg_tol=1e-7, random_state=3
                                  ).fit(X, y)
    ev16 = estimate(16, 3)
    assert gp.log_marginal_likelihood_std_ == pytest.approx(
        0.5 * ev16.logdet_probes.std(ddof=1) / 4.0, rel=1e-6)
    assert gp.log_marginal_likelihood() == pytest.approx(gp.log_marginal_likelihood_value_,
                                                         rel=1e-10)


@pytest.mark.parametrize("kernel", [Gaussian(bandwidth=0.9), Matern(nu=1.5, bandwidth=[0.8, 1.3,
                                                                                        1.1])])
def test_gradient_matches_exact_within_statistical_bound(gp_data, kernel):
    X, y, _ = gp_data
    ex = GaussianProcessRegressor(kernel=kernel, output_scale=1.4, noise=0.05,
                                  optimizer=None, solver="cholesky").fit(X, y)
    _, g_exact = ex.log_marginal_likelihood(ex.theta_, eval_gradient=True)
    grads = np.array([
        it.IterativeMarginalLikelihood(kernel, X, y[:, None], n_probes=16,
                                       preconditioner_rank=30, cg_tol=1e-8,
                                       rng=np.random.RandomState(s))(ex.theta_).grad
        for s in range(8)])
    se = grads.std(axis=0, ddof=1) / math.sqrt(len(grads))
    assert np.all(np.abs(grads.mean(axis=0) - g_exact) <= N_SIGMA * se + 1e-6 * np.abs(g_exact))
    # and a single 16-probe estimate is already close (relative to the gradient's size)
    assert np.abs(grads[0] - g_exact).max() <= 0.1 * np.abs(g_exact).max()


def test_preconditioner_reduces_cg_iterations(gp_data):
    X, y, _ = gp_data
    counts = {}
    for rank in (0, 50):
        _, info = it.solve(Gaussian(bandwidth=1.0), X, 1.5, 0.01, y[:, None], rank=rank,
                           tol=1e-8)
        assert info.converged
        counts[rank] = info.n_products
    assert counts[50] * 3 <= counts[0], counts


def test_iterative_optimisation_reaches_exact_optimum(gp_data):
    X, y, _ = gp_data
    ex = GaussianProcessRegressor(kernel=Gaussian(bandwidth=1.0), noise=0.05,
                                  solver="cholesky").fit(X, y)
    itr = GaussianProcessRegressor(kernel=Gaussian(bandwidth=1.0), noise=0.05,
                                   solver="iterative", random_state=0).fit(X, y)
    exact_at_iter = ex.log_marginal_likelihood(itr.theta_)
    # the iterative optimum, scored exactly, is within 0.1 nats of the exact optimum
    assert exact_at_iter >= ex.log_marginal_likelihood_value_ - 0.1
    np.testing.assert_allclose(itr.theta_, ex.theta_, atol=0.1)
    assert abs(itr.log_marginal_likelihood_value_ - exact_at_iter) <= \
        N_SIGMA * itr.log_marginal_likelihood_std_ + 1e-3


def test_auto_switches_by_the_krr_memory_rule(gp_data):
    X, y, _ = gp_data
    gp = GaussianProcessRegressor(optimizer=None, noise=0.1).fit(X, y)
    assert gp.solver_ == "cholesky"
    with kernelkit.config_context(working_memory=0.01):   # 8 n² > 16 × 0.01 MiB
        gp = GaussianProcessRegressor(optimizer=None, noise=0.1, random_state=0).fit(X, y)
    assert gp.solver_ == "iterative" and gp.L_ is None


def test_memory_never_holds_an_n_by_n_matrix(rng):
    n = 4000   # one n × n float64 matrix: 128 MB
    X = rng.normal(size=(n, 3))
    y = np.sin(X).sum(axis=1) + 0.1 * rng.normal(size=n)
    gp = GaussianProcessRegressor(kernel=Gaussian(bandwidth=2.0), noise=0.3, optimizer=None,
                                  solver="iterative", n_probes=4, preconditioner_rank=50,
                                  cg_tol=1e-3, random_state=0)
    tracemalloc.start()
    try:
        gp.fit(X, y)
        gp.predict(X[:4], return_std=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.1 * 8 * n * n, peak / 2**20


def test_bad_input_and_warnings(gp_data):
    X, y, Xq = gp_data
    for bad in (dict(solver="lu"), dict(n_probes=0), dict(cg_tol=0.0),
                dict(preconditioner_rank=-1)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            GaussianProcessRegressor(**bad).fit(X, y)
    with pytest.warns(ConvergenceWarning, match="cg_tol"):
        GaussianProcessRegressor(optimizer=None, solver="iterative", noise=1e-6,
                                 preconditioner_rank=0, cg_tol=1e-300,
                                 random_state=0).fit(X[:40], y[:40])
    copies = X.copy(), y.copy(), Xq.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gp = GaussianProcessRegressor(optimizer=None, solver="iterative",
                                      random_state=0).fit(X, y)
        gp.predict(Xq, return_std=True)
    for a, b in zip((X, y, Xq), copies, strict=True):
        np.testing.assert_array_equal(a, b)


def test_save_load_round_trip(gp_data, tmp_path):
    from kernelkit.io import load, save

    X, y, Xq = gp_data
    gp = GaussianProcessRegressor(optimizer=None, solver="iterative", random_state=0,
                                  cg_tol=TIGHT_CG).fit(X, y)
    save(gp, tmp_path / "gp.kk")
    back = load(tmp_path / "gp.kk")
    np.testing.assert_allclose(back.predict(Xq, return_std=True),
                               gp.predict(Xq, return_std=True), rtol=1e-12)

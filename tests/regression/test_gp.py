"""GaussianProcessRegressor against scikit-learn and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessRegressor as SkGPR
from sklearn.gaussian_process.kernels import RBF, WhiteKernel
from sklearn.gaussian_process.kernels import ConstantKernel as Const
from sklearn.gaussian_process.kernels import Matern as SkMatern

from kernelkit.exceptions import NotPSDError, ParameterError
from kernelkit.kernels import IMQ, Gaussian, Laplace, Matern, Polynomial, RationalQuadratic
from kernelkit.regression import GaussianProcessRegressor

#: the issue's promise: same mean, std and log marginal likelihood as scikit-learn
SKLEARN_RTOL = 1e-8


@pytest.fixture
def data(rng):
    X = rng.normal(size=(70, 2))
    y = np.sin(X).sum(axis=1) + 0.1 * rng.normal(size=70)
    return X, y, rng.normal(size=(15, 2))


@pytest.mark.parametrize("ours, theirs", [
    (Gaussian(bandwidth=0.8), RBF(0.8)),
    (Matern(nu=1.5, bandwidth=1.1), SkMatern(1.1, nu=1.5)),
    (Matern(nu=2.5, bandwidth=[0.7, 1.4]), SkMatern([0.7, 1.4], nu=2.5)),
])
def test_matches_sklearn_fixed_hyperparameters(data, ours, theirs):
    X, y, Xq = data
    sk = SkGPR(kernel=Const(1.7) * theirs, alpha=0.05, optimizer=None).fit(X, y)
    gp = GaussianProcessRegressor(kernel=ours, output_scale=1.7, noise=0.05,
                                  optimizer=None).fit(X, y)
    m1, s1 = sk.predict(Xq, return_std=True)
    m2, s2 = gp.predict(Xq, return_std=True)
    np.testing.assert_allclose(m2, m1, rtol=SKLEARN_RTOL, atol=SKLEARN_RTOL * np.abs(m1).max())
    np.testing.assert_allclose(s2, s1, rtol=SKLEARN_RTOL, atol=SKLEARN_RTOL * s1.max())
    _, c1 = sk.predict(Xq, return_cov=True)
    _, c2 = gp.predict(Xq, return_cov=True)
    np.testing.assert_allclose(c2, c1, rtol=SKLEARN_RTOL, atol=SKLEARN_RTOL * np.abs(c1).max())
    assert abs(gp.log_marginal_likelihood_value_ - sk.log_marginal_likelihood_value_) \
        <= SKLEARN_RTOL * abs(sk.log_marginal_likelihood_value_)
    assert abs(gp.log_marginal_likelihood() - sk.log_marginal_likelihood_value_) \
        <= SKLEARN_RTOL * abs(sk.log_marginal_likelihood_value_)


@pytest.mark.parametrize("kernel", [
    Gaussian(bandwidth=0.8), Gaussian(bandwidth=[0.8, 1.3]), Laplace(bandwidth=1.2),
    Matern(nu=1.5, bandwidth=0.9), Matern(nu=2.5, bandwidth=0.9),
    RationalQuadratic(alpha=1.5, bandwidth=0.7), IMQ(c=1.0, beta=0.5, bandwidth=0.8),
])
def test_gradient_matches_finite_differences(data, kernel):
    X, y, _ = data
    Y = np.column_stack([y, np.cos(X[:, 0])])
    gp = GaussianProcessRegressor(kernel=kernel, output_scale=1.7, noise=0.05,
                                  optimizer=None).fit(X, Y)
    theta = gp.theta_
    lml, grad = gp.log_marginal_likelihood(theta, eval_gradient=True)
    assert lml == pytest.approx(gp.log_marginal_likelihood_value_, rel=1e-12)
    eps = 1e-6
    fd = np.array([(gp.log_marginal_likelihood(theta + e) - gp.log_marginal_likelihood(theta - e))
                   / (2 * eps) for e in eps * np.eye(len(theta))])
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * np.abs(grad).max())


def test_optimiser_reaches_sklearn_optimum(data):
    X, y, _ = data
    sk = SkGPR(kernel=Const(1.0, (1e-5, 1e5)) * RBF(1.0, (1e-5, 1e5))
               + WhiteKernel(1e-2, (1e-8, 1e5)), alpha=1e-12, random_state=0).fit(X, y)
    gp = GaussianProcessRegressor(kernel=Gaussian(bandwidth=1.0), noise=1e-2).fit(X, y)
    assert gp.log_marginal_likelihood_value_ >= sk.log_marginal_likelihood_value_ - 1e-3
    assert gp.kernel_.bandwidth == pytest.approx(sk.kernel_.k1.k2.length_scale, rel=1e-2)
    assert gp.noise_ == pytest.approx(sk.kernel_.k2.noise_level, rel=1e-2)
    # restarts never end lower than the plain run
    gp5 = GaussianProcessRegressor(kernel=Gaussian(bandwidth=1.0), noise=1e-2, n_restarts=2,
                                   random_state=0).fit(X, y)
    assert gp5.log_marginal_likelihood_value_ >= gp.log_marginal_likelihood_value_ - 1e-6


def test_sample_y_statistics(data):
    X, y, Xq = data
    gp = GaussianProcessRegressor(kernel=Gaussian(bandwidth=0.8), noise=0.05,
                                  optimizer=None).fit(X, y)
    S = gp.sample_y(Xq[:4], n_samples=4000, random_state=0)
    mean, cov = gp.predict(Xq[:4], return_cov=True)
    assert S.shape == (4, 4000)
    se = np.sqrt(np.diag(cov) / 4000)
    assert np.all(np.abs(S.mean(axis=1) - mean) < 5 * se + 1e-12)
    np.testing.assert_allclose(np.cov(S), cov, atol=0.1 * np.abs(cov).max())
    assert np.array_equal(S, gp.sample_y(Xq[:4], n_samples=4000, random_state=0))


def test_bad_input(data):
    X, y, Xq = data
    with pytest.raises(ParameterError, match="optimizer=None"):
        GaussianProcessRegressor(kernel=Polynomial()).fit(X, y)
    with pytest.raises(ValueError, match="noise"):
        GaussianProcessRegressor(noise=0.0).fit(X, y)
    with pytest.raises(NotPSDError, match="increase noise"):
        GaussianProcessRegressor(kernel=Gaussian(bandwidth=100.0), noise=1e-300,
                                 optimizer=None).fit(np.repeat(X[:3], 10, axis=0), y[:30])
    gp = GaussianProcessRegressor(optimizer=None).fit(X, y)
    with pytest.raises(ParameterError, match="at most one"):
        gp.predict(Xq, return_std=True, return_cov=True)
    with pytest.raises(ParameterError, match="theta"):
        gp.log_marginal_likelihood([0.0])
    copies = X.copy(), y.copy()
    GaussianProcessRegressor().fit(X, y).predict(Xq, return_std=True)
    np.testing.assert_array_equal(X, copies[0])
    np.testing.assert_array_equal(y, copies[1])

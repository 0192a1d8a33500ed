"""Spectral filters: closed forms against the iterative procedures."""

from __future__ import annotations

import numpy as np
import pytest

from kernelkit.exceptions import ParameterError
from kernelkit.kernels import Gaussian, Matern
from kernelkit.regression import KernelRidge, SpectralFilterRegressor, filter_values


@pytest.mark.parametrize("kind, n_iter", [("landweber", 0), ("landweber", 1),
                                          ("landweber", 37), ("distillation", 0),
                                          ("distillation", 3), ("tikhonov", 5)])
@pytest.mark.parametrize("kernel", [Gaussian(bandwidth=0.7), Matern(nu=1.5)])
def test_closed_form_matches_iteration(problem, kind, n_iter, kernel):
    X, Y, _, Xq = problem
    kw = dict(kernel=kernel, filter=kind, alpha=0.3, n_iter=n_iter)
    closed = SpectralFilterRegressor(method="eigh", **kw).fit(X, Y)
    iterated = SpectralFilterRegressor(method="iterate", **kw).fit(X, Y)
    np.testing.assert_allclose(closed.predict(Xq), iterated.predict(Xq), rtol=1e-8,
                               atol=1e-9)
    assert closed.step_size_ == iterated.step_size_


def test_landweber_filter_is_gradient_descent():
    lam = np.array([0.0, 1e-14, 0.1, 1.0, 1.9])
    eta, t = 1.0, 7
    # scalar recursion c <- c + eta (1 - lam c) from c = 0
    c = np.zeros_like(lam)
    for _ in range(t):
        c = c + eta * (1.0 - lam * c)
    np.testing.assert_allclose(filter_values(lam, "landweber", n_iter=t, step_size=eta), c,
                               rtol=1e-12)


def test_tikhonov_and_distillation_limits(problem):
    X, Y, _, Xq = problem
    k = Gaussian(bandwidth=0.7)
    krr = KernelRidge(kernel=k, alpha=0.3).fit(X, Y)
    tik = SpectralFilterRegressor(kernel=k, filter="tikhonov", alpha=0.3).fit(X, Y)
    np.testing.assert_allclose(tik.predict(Xq), krr.predict(Xq), rtol=1e-8, atol=1e-9)
    # distillation shrinks every direction more with each round: norms decrease
    lam = np.linspace(0.01, 5, 50)
    g = [filter_values(lam, "distillation", alpha=0.3, n_iter=t) for t in range(5)]
    assert all(np.all(b < a) for a, b in zip(g[:-1], g[1:], strict=True))
    # and relative shrinkage is strongest in the small-eigenvalue directions
    ratio = g[4] / g[0]
    assert np.all(np.diff(ratio) > 0)


def test_landweber_with_many_steps_interpolates(problem):
    X, Y, _, _ = problem
    k = Gaussian(bandwidth=0.3)
    short = SpectralFilterRegressor(kernel=k, n_iter=5).fit(X, Y)
    long = SpectralFilterRegressor(kernel=k, n_iter=5000).fit(X, Y)
    assert np.abs(long.predict(X) - Y).mean() < np.abs(short.predict(X) - Y).mean()


def test_bad_input(problem):
    X, Y, _, _ = problem
    with pytest.raises(ParameterError, match="kind"):
        filter_values([1.0], "spectral-cut")
    with pytest.raises(ValueError, match="filter"):
        SpectralFilterRegressor(filter="cut").fit(X, Y)
    with pytest.raises(ValueError, match="step_size"):
        SpectralFilterRegressor(step_size=-1.0).fit(X, Y)

"""Kernels (and the naive oracles) against independent implementations in scipy/sklearn."""

import numpy as np
import pytest
from scipy.special import gamma as gamma_fn
from scipy.special import kv
from sklearn.gaussian_process import kernels as gp
from sklearn.metrics import pairwise

from kernelkit.kernels import (
    IMQ,
    Cosine,
    Gaussian,
    Laplace,
    Linear,
    Matern,
    Periodic,
    Polynomial,
    RationalQuadratic,
)
from kernelkit.testing import naive_kernel_matrix

rng = np.random.default_rng(7)
X = rng.normal(size=(9, 3))
Y = rng.normal(size=(6, 3))


def both(kernel):
    """The kernel's matrix and the oracle's, which must agree with the reference."""
    return kernel(X, Y), naive_kernel_matrix(kernel, X, Y)


@pytest.mark.parametrize("nu", [0.5, 1.5, 2.5])
def test_matern_closed_forms_match_the_bessel_formula(nu):
    h = 0.8
    r = np.sqrt(((X[:, None] - Y[None]) ** 2).sum(-1)) / h
    z = np.sqrt(2 * nu) * r
    general = 2 ** (1 - nu) / gamma_fn(nu) * z**nu * kv(nu, z)
    for K in both(Matern(nu=nu, bandwidth=h)):
        np.testing.assert_allclose(K, general, rtol=1e-10)


@pytest.mark.parametrize("nu", [0.5, 1.5, 2.5])
def test_matern_matches_sklearn(nu):
    ref = gp.Matern(length_scale=[0.5, 1.0, 2.0], nu=nu)(X, Y)
    for K in both(Matern(nu=nu, bandwidth=[0.5, 1.0, 2.0])):
        np.testing.assert_allclose(K, ref, rtol=1e-12)


def test_gaussian_and_laplace_match_sklearn():
    for K in both(Gaussian(bandwidth=0.7)):
        np.testing.assert_allclose(K, pairwise.rbf_kernel(X, Y, gamma=1 / (2 * 0.49)),
                                   rtol=1e-12)
    ref = np.exp(-np.sqrt(((X[:, None] - Y[None]) ** 2).sum(-1)) / 1.5)
    for K in both(Laplace(bandwidth=1.5)):
        np.testing.assert_allclose(K, ref, rtol=1e-12)


def test_rational_quadratic_matches_sklearn():
    ref = gp.RationalQuadratic(length_scale=1.3, alpha=0.7)(X, Y)
    for K in both(RationalQuadratic(alpha=0.7, bandwidth=1.3)):
        np.testing.assert_allclose(K, ref, rtol=1e-12)


def test_rational_quadratic_tends_to_gaussian():
    np.testing.assert_allclose(RationalQuadratic(alpha=1e8)(X, Y), Gaussian()(X, Y),
                               rtol=1e-6)


def test_periodic_matches_sklearn_exp_sine_squared():
    ref = gp.ExpSineSquared(length_scale=0.8, periodicity=1.7)(X, Y)
    for K in both(Periodic(period=1.7, bandwidth=0.8)):
        np.testing.assert_allclose(K, ref, rtol=1e-12)


def test_imq_matches_its_formula():
    sq = ((X[:, None] - Y[None]) ** 2 / np.array([0.5, 1.0, 2.0]) ** 2).sum(-1)
    ref = (0.49 + sq) ** -1.3
    for K in both(IMQ(c=0.7, beta=1.3, bandwidth=[0.5, 1.0, 2.0])):
        np.testing.assert_allclose(K, ref, rtol=1e-12)


def test_dot_product_kernels_match_sklearn():
    for K in both(Linear()):
        np.testing.assert_allclose(K, pairwise.linear_kernel(X, Y), rtol=1e-12, atol=1e-14)
    ref = pairwise.polynomial_kernel(X, Y, degree=3, gamma=0.5, coef0=1.5)
    for K in both(Polynomial(degree=3, gamma=0.5, coef0=1.5)):
        np.testing.assert_allclose(K, ref, rtol=1e-12)
    for K in both(Cosine()):
        np.testing.assert_allclose(K, pairwise.cosine_similarity(X, Y), rtol=1e-12,
                                   atol=1e-14)

"""Property tests: Gram matrices of random small point sets are symmetric and PSD."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

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
from kernelkit.testing import PSD_RTOL, assert_close, naive_kernel_matrix

KERNELS = [
    Gaussian(bandwidth=0.5),
    Laplace(bandwidth=2.0),
    Matern(nu=1.5),
    Matern(nu=2.5, bandwidth=0.3),
    IMQ(c=0.5, beta=2.0),
    RationalQuadratic(alpha=0.5),
    Linear(),
    Polynomial(degree=3, gamma=0.2, coef0=1.0),
    Cosine(),
    2.0 * Gaussian() + Matern(nu=2.5),
    Laplace() * Polynomial(degree=2),
]
ONE_FEATURE_KERNELS = [Periodic(period=1.3, bandwidth=0.7), Gaussian() * Periodic()]


@st.composite
def point_sets(draw, n_features=None):
    d = draw(st.integers(1, 4)) if n_features is None else n_features
    n = draw(st.integers(1, 12))
    coords = st.floats(-5, 5, allow_nan=False, allow_subnormal=False)
    X = draw(arrays(np.float64, (n, d), elements=coords))
    # repeat some rows exactly: duplicates make the Gram matrix singular
    repeats = draw(st.lists(st.integers(0, n - 1), max_size=3))
    X = np.concatenate([X, X[repeats]])
    # rows with no direction are outside the cosine kernel's domain
    zero = np.abs(X).max(axis=1) == 0
    X[zero, 0] = 1.0
    return X


def _check_gram(kernel, X):
    K = kernel(X)
    assert K.shape == (len(X), len(X))
    assert np.all(np.isfinite(K))
    np.testing.assert_array_equal(K, kernel(X, X))
    assert_close(K, K.T)
    assert_close(K, naive_kernel_matrix(kernel, X))
    smallest = np.linalg.eigvalsh((K + K.T) / 2)[0]
    assert smallest >= -PSD_RTOL[np.float64] * len(K) * max(np.abs(K).max(), 1.0), smallest


@settings(max_examples=60, deadline=None)
@given(kernel=st.sampled_from(KERNELS), X=point_sets())
def test_gram_matrix_is_symmetric_psd(kernel, X):
    _check_gram(kernel, X)


@settings(max_examples=30, deadline=None)
@given(kernel=st.sampled_from(ONE_FEATURE_KERNELS), X=point_sets(n_features=1))
def test_periodic_gram_matrix_is_symmetric_psd_on_the_line(kernel, X):
    _check_gram(kernel, X)


STATIONARY = [k for k in KERNELS + ONE_FEATURE_KERNELS if k.stationary]


@settings(max_examples=40, deadline=None)
@given(kernel=st.sampled_from(STATIONARY), X=point_sets(n_features=1),
       shift=st.floats(-1e4, 1e4))
def test_stationary_kernels_are_accurate_far_from_the_origin(kernel, X, shift):
    # Without centring, ||x||^2 + ||y||^2 - 2<x, y> would lose ~8 digits here.
    X = X + shift
    assert_close(kernel(X), naive_kernel_matrix(kernel, X))

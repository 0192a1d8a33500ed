"""Property-based tests of the engine (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import kernelkit
from kernelkit.kernels import Gaussian, Laplace, Matern, RationalQuadratic

KERNELS = st.sampled_from([Gaussian(bandwidth=0.7), Laplace(bandwidth=1.5),
                           Matern(nu=2.5, bandwidth=1.1), RationalQuadratic(alpha=0.8)])
finite = st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=64)


@st.composite
def problems(draw):
    n = draw(st.integers(1, 12))
    m = draw(st.integers(1, 12))
    d = draw(st.sampled_from([1, 2, 5, 16]))
    X = draw(arrays(np.float64, (n, d), elements=finite))
    Y = draw(arrays(np.float64, (m, d), elements=finite))
    return X, Y


@settings(max_examples=60, deadline=None)
@given(problems(), KERNELS, st.data())
def test_matvec_is_linear_in_v(problem, kernel, data):
    X, Y = problem
    m = Y.shape[0]
    V1 = data.draw(arrays(np.float64, (m, 2), elements=finite))
    V2 = data.draw(arrays(np.float64, (m, 2), elements=finite))
    a, b = data.draw(finite), data.draw(finite)
    lhs = kernelkit.matvec(kernel, X, Y, a * V1 + b * V2)
    rhs = a * kernelkit.matvec(kernel, X, Y, V1) + b * kernelkit.matvec(kernel, X, Y, V2)
    scale = 1.0 + (abs(a) * np.abs(V1) + abs(b) * np.abs(V2)).sum()
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-12 * scale)


@settings(max_examples=60, deadline=None)
@given(problems(), KERNELS, st.data())
def test_bilinear_form_is_symmetric(problem, kernel, data):
    """u . K(X, Y) v == v . K(Y, X) u: the transpose is the swapped reduction."""
    X, Y = problem
    u = data.draw(arrays(np.float64, X.shape[0], elements=finite))
    v = data.draw(arrays(np.float64, Y.shape[0], elements=finite))
    left = u @ kernelkit.matvec(kernel, X, Y, v)
    right = v @ kernelkit.matvec(kernel, Y, X, u)
    scale = 1.0 + np.abs(u).sum() * np.abs(v).sum()
    assert abs(left - right) <= 1e-12 * scale


@settings(max_examples=40, deadline=None)
@given(problems(), KERNELS)
def test_gram_quadratic_forms_are_non_negative(problem, kernel):
    X, _ = problem
    v = np.random.default_rng(0).normal(size=X.shape[0])
    assert v @ kernelkit.matvec(kernel, X, X, v) >= -1e-10 * np.abs(v).sum() ** 2


@settings(max_examples=40, deadline=None)
@given(problems(), KERNELS)
def test_logsumexp_agrees_with_log_of_kernel_sum(problem, kernel):
    X, Y = problem
    sums = kernelkit.kernel_sum(kernel, X, Y)
    lse = kernelkit.logsumexp(kernel, X, Y)
    ok = sums > 1e-300
    np.testing.assert_allclose(lse[ok], np.log(sums[ok]), rtol=0, atol=1e-10)

"""Parameter validation and input errors specific to individual kernels."""

import numpy as np
import pytest

from kernelkit.exceptions import InputValueError, ParameterError, ShapeError
from kernelkit.kernels import (
    IMQ,
    Cosine,
    DotProductKernel,
    Gaussian,
    Kernel,
    Laplace,
    Linear,
    Matern,
    Periodic,
    Polynomial,
    RationalQuadratic,
    StationaryKernel,
)

BANDWIDTH_KERNELS = [Gaussian, Laplace, Matern, IMQ, RationalQuadratic]
ALL_KERNELS = BANDWIDTH_KERNELS + [Periodic, Linear, Polynomial, Cosine]


@pytest.mark.parametrize("cls", BANDWIDTH_KERNELS + [Periodic])
@pytest.mark.parametrize("bandwidth", [0, -1.0, np.nan, np.inf, "1", None, True, [[1.0]], []])
def test_bad_bandwidth_is_rejected(cls, bandwidth):
    with pytest.raises(ParameterError, match="bandwidth"):
        cls(bandwidth=bandwidth)


@pytest.mark.parametrize("cls", BANDWIDTH_KERNELS)
@pytest.mark.parametrize("bandwidth", [[1.0, -1.0], [1.0, np.nan], [0.0, 1.0]])
def test_bad_per_feature_bandwidth_is_rejected(cls, bandwidth):
    with pytest.raises(ParameterError, match="bandwidth"):
        cls(bandwidth=bandwidth)


@pytest.mark.parametrize("cls", BANDWIDTH_KERNELS)
def test_per_feature_bandwidth_length_is_checked_at_call_time(cls):
    kernel = cls(bandwidth=[1.0, 2.0, 3.0])
    X = np.ones((4, 2))
    for call in (lambda: kernel(X), lambda: kernel.diag(X), lambda: kernel.log(X)):
        with pytest.raises(ShapeError, match="3 per-feature bandwidths.*2 features"):
            call()
    assert kernel(np.ones((4, 3))).shape == (4, 4)


def test_per_feature_bandwidth_is_stored_as_a_float_array_copy():
    bw = [1, 2]
    kernel = Gaussian(bandwidth=bw)
    assert isinstance(kernel.bandwidth, np.ndarray) and kernel.bandwidth.dtype == np.float64
    source = np.array([1.0, 2.0])
    kernel = Gaussian(bandwidth=source)
    source[0] = 100.0
    assert kernel.bandwidth[0] == 1.0


def test_periodic_bandwidth_is_scalar_only():
    with pytest.raises(ParameterError, match="bandwidth"):
        Periodic(bandwidth=[1.0, 2.0])


@pytest.mark.parametrize("nu", [1.0, 0, -0.5, 3.5, "1.5", None, True, np.nan])
def test_matern_nu_must_be_a_closed_form_value(nu):
    with pytest.raises(ParameterError, match=r"0\.5, 1\.5 or 2\.5"):
        Matern(nu=nu)


@pytest.mark.parametrize("nu, profile", [(0.5, "laplace"), (1.5, "matern32"), (2.5, "matern52"),
                                         (np.float32(2.5), "matern52"), (1, None)])
def test_matern_profile_follows_nu(nu, profile):
    if profile is None:
        with pytest.raises(ParameterError):
            Matern(nu=nu)
        return
    kernel = Matern(nu=nu)
    assert kernel.nu == float(nu) and isinstance(kernel.nu, float)
    assert kernel._fused().profile == profile and kernel._fused().params == ()


def test_matern_profile_changes_with_set_params():
    kernel = Matern(nu=0.5)
    kernel.set_params(nu=2.5)
    assert kernel._fused().profile == "matern52"
    with pytest.raises(ParameterError):
        kernel.set_params(nu=2.0)
    assert kernel.nu == 2.5 and kernel._fused().profile == "matern52"


@pytest.mark.parametrize("kwargs, name", [
    ({"c": 0}, "c"), ({"c": -1.0}, "c"), ({"beta": 0}, "beta"), ({"beta": np.nan}, "beta"),
])
def test_imq_parameters(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        IMQ(**kwargs)


@pytest.mark.parametrize("alpha", [0, -2.0, np.inf])
def test_rq_alpha(alpha):
    with pytest.raises(ParameterError, match="alpha"):
        RationalQuadratic(alpha=alpha)


@pytest.mark.parametrize("period", [0, -1.0, np.nan])
def test_periodic_period(period):
    with pytest.raises(ParameterError, match="period"):
        Periodic(period=period)


@pytest.mark.parametrize("kwargs, name", [
    ({"degree": 0}, "degree"), ({"degree": -2}, "degree"), ({"degree": 2.0}, "degree"),
    ({"degree": 2.5}, "degree"), ({"degree": True}, "degree"), ({"degree": "3"}, "degree"),
    ({"gamma": 0}, "gamma"), ({"gamma": -1.0}, "gamma"), ({"coef0": -0.1}, "coef0"),
    ({"coef0": np.nan}, "coef0"),
])
def test_polynomial_parameters(kwargs, name):
    with pytest.raises(ParameterError, match=name):
        Polynomial(**kwargs)


def test_polynomial_accepts_numpy_integer_degree_and_zero_coef0():
    kernel = Polynomial(degree=np.int64(2), coef0=0)
    assert kernel.degree == 2 and type(kernel.degree) is int
    assert kernel._fused().params == (1.0, 0.0, 2.0)


@pytest.mark.parametrize("zero_in", ["X", "Y"])
def test_cosine_rejects_all_zero_rows(zero_in):
    X = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]])
    Y = np.array([[1.0, 1.0]])
    A, B = (X, Y) if zero_in == "X" else (Y, X)
    with pytest.raises(InputValueError, match=f"{zero_in} row 1 is all zeros"):
        Cosine()(A, B)
    with pytest.raises(InputValueError, match="all zeros"):
        Cosine().diag(X)


def test_cosine_rejects_all_zero_rows_in_torch():
    torch = pytest.importorskip("torch")
    with pytest.raises(InputValueError, match="row 0 is all zeros"):
        Cosine()(torch.zeros((2, 3)), torch.ones((1, 3)))


def test_cosine_handles_tiny_and_huge_rows():
    X = np.array([[1e-200, 2e-200], [3e200, -1e200]])
    expected = np.array([[1.0, 1 / np.sqrt(50)], [1 / np.sqrt(50), 1.0]])
    np.testing.assert_allclose(Cosine()(X), expected, rtol=1e-15)


@pytest.mark.parametrize("cls", ALL_KERNELS)
def test_every_kernel_has_a_closed_form_diagonal(cls):
    assert cls._diag is not Kernel._diag


@pytest.mark.parametrize("cls", [Linear, Polynomial, Cosine])
def test_dot_product_kernels_are_not_positive(cls):
    kernel = cls()
    assert isinstance(kernel, DotProductKernel)
    assert not kernel.positive and not kernel.stationary
    with pytest.raises(ParameterError, match="no logarithm"):
        kernel.log(np.ones((2, 2)))


@pytest.mark.parametrize("cls", BANDWIDTH_KERNELS + [Periodic])
def test_stationary_kernels_are_positive(cls):
    kernel = cls()
    assert isinstance(kernel, StationaryKernel) and kernel.positive and kernel.stationary


def test_linear_and_polynomial_can_be_negative():
    X, Y = np.array([[1.0, 0.0]]), np.array([[-2.0, 0.0]])
    assert Linear()(X, Y)[0, 0] == -2.0
    assert Polynomial(degree=3, gamma=1.0, coef0=0.5)(X, Y)[0, 0] == -3.375


def test_kinked_kernels_are_exact_on_the_diagonal():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 5)) * 10 + 1000  # far from the origin: cancellation-prone
    for kernel in (Laplace(), Matern(nu=1.5), Matern(nu=2.5, bandwidth=0.1)):
        np.testing.assert_array_equal(np.diag(kernel(X)), 1.0)
        np.testing.assert_array_equal(np.diag(kernel(X.astype(np.float32))), 1.0)


def test_close_but_distinct_points_keep_their_distance():
    X = np.array([[1000.0, -1000.0]])
    Y = X + np.array([[3e-9, 4e-9]])  # distance about 5e-9
    exact = np.sqrt(((Y - X) ** 2).sum())  # the subtraction of these doubles is exact
    # the expansion ||x||^2 + ||y||^2 - 2<x, y> alone would give 0 or ~1e-5 here
    np.testing.assert_allclose(-Laplace().log(X, Y)[0, 0], exact, rtol=1e-14)

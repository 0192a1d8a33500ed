"""Conformance and behaviour of kernel sums, products and scaling."""

import numpy as np
import pytest

from kernelkit.exceptions import ParameterError
from kernelkit.kernels import (
    IMQ,
    Gaussian,
    Laplace,
    Linear,
    Matern,
    Periodic,
    Product,
    RationalQuadratic,
    Scaled,
    Sum,
)
from kernelkit.testing import KernelTestCase


class TestScaledSum(KernelTestCase):
    grad_params = ("bandwidth", "scale")

    def make_kernel(self, n_features):
        return 2.0 * Gaussian(bandwidth=0.9) + Matern(nu=2.5)


class TestProductWithPeriodic(KernelTestCase):
    psd_n_features = (1,)

    def make_kernel(self, n_features):
        return Gaussian() * Periodic(period=2.0)


class TestScaled(KernelTestCase):
    fused_profile = "laplace"
    grad_params = ("bandwidth", "scale")

    def make_kernel(self, n_features):
        return 3.0 * Laplace(bandwidth=np.linspace(1.0, 2.0, n_features))


class TestNested(KernelTestCase):
    grad_params = ("bandwidth", "scale", "beta")

    def make_kernel(self, n_features):
        return 0.5 * (Gaussian() * IMQ(beta=0.8)) + RationalQuadratic(alpha=2.0) * 1.5


class TestLinearPlusGaussian(KernelTestCase):
    """Not positive (no log) and not stationary, but PSD."""

    def make_kernel(self, n_features):
        return Linear() + Gaussian(bandwidth=2.0)


def test_operators_build_the_expected_tree():
    g, m = Gaussian(), Matern()
    assert isinstance(g + m, Sum)
    assert isinstance(g * m, Product)
    for scaled in (2 * g, g * 2, 2.0 * g, np.float64(2.0) * g, g * np.float32(2.0)):
        assert isinstance(scaled, Scaled) and float(scaled.scale) == 2.0


@pytest.mark.parametrize("scale", [-1, -0.5, 0, float("nan"), float("inf")])
def test_non_positive_scale_is_rejected(scale):
    with pytest.raises(ParameterError, match="scale"):
        scale * Gaussian()


@pytest.mark.parametrize("other", [3, 3.0, "a", None, np.ones(2)])
def test_adding_a_non_kernel_is_a_type_error(other):
    with pytest.raises(TypeError):
        Gaussian() + other
    with pytest.raises(TypeError):
        other + Gaussian()


def test_multiplying_by_a_non_number_is_a_type_error():
    with pytest.raises(TypeError):
        Gaussian() * "2"
    with pytest.raises(TypeError):
        True * Gaussian()


def test_positive_and_stationary_propagate():
    assert (Gaussian() + Periodic()).positive
    assert not (Gaussian() + Linear()).positive
    assert not (Gaussian() * Linear()).positive
    assert (2 * Gaussian()).stationary
    assert not (Gaussian() * Linear()).stationary


def test_nested_set_params_rolls_back_every_level():
    kernel = 2.0 * Gaussian(bandwidth=1.0) + Matern(nu=1.5, bandwidth=2.0)
    with pytest.raises(ParameterError, match="nu"):
        kernel.set_params(k1__kernel__bandwidth=5.0, k1__scale=3.0, k2__nu=1.0)
    assert repr(kernel) == "2 * Gaussian(bandwidth=1) + Matern(nu=1.5, bandwidth=2)"


@pytest.mark.parametrize("kernel, text", [
    (Gaussian() + (Laplace() + Matern()),
     "Gaussian(bandwidth=1) + (Laplace(bandwidth=1) + Matern(nu=1.5, bandwidth=1))"),
    (Gaussian() * (2 * Laplace()), "Gaussian(bandwidth=1) * (2 * Laplace(bandwidth=1))"),
    (3 * (2 * Gaussian()), "3 * (2 * Gaussian(bandwidth=1))"),
    ((Gaussian() + Laplace()) * Linear(), "(Gaussian(bandwidth=1) + Laplace(bandwidth=1)) * "
     "Linear()"),
    (Gaussian(bandwidth=0.1 + 0.2), "Gaussian(bandwidth=0.30000000000000004)"),
])
def test_repr_rebuilds_the_same_tree(kernel, text):
    import kernelkit.kernels as kk

    assert repr(kernel) == text
    rebuilt = eval(text, dict(vars(kk)))
    assert rebuilt == kernel


def test_fused_spec_of_scaled_kernel_carries_the_scale():
    spec = (2.5 * (4.0 * Matern(nu=2.5, bandwidth=0.5)))._fused()
    assert spec.profile == "matern52" and spec.scale == 10.0 and spec.inv_bandwidth == 2.0
    assert (Gaussian() + Laplace())._fused() is None
    assert (Gaussian() * Laplace())._fused() is None


def test_log_of_sum_is_stable_far_away():
    kernel = Gaussian() + 2.0 * Laplace()
    X, Y = np.array([[0.0]]), np.array([[60.0]])
    # Gaussian underflows (exp(-1800)); the log must equal log(2) - 60.
    assert kernel(X, Y)[0, 0] > 0
    np.testing.assert_allclose(kernel.log(X, Y)[0, 0], np.log(2.0) - 60.0, rtol=1e-15)
    np.testing.assert_allclose((Gaussian() * Laplace()).log(X, Y)[0, 0], -1860.0, rtol=1e-15)

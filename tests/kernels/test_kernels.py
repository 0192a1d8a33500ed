"""Conformance tests of every built-in kernel (see kernelkit.testing.KernelTestCase)."""

import numpy as np

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
from kernelkit.testing import KernelTestCase


def per_feature(n_features):
    return np.linspace(0.5, 2.0, n_features)


class TestGaussian(KernelTestCase):
    fused_profile = "gaussian"

    def make_kernel(self, n_features):
        return Gaussian(bandwidth=0.8)


class TestGaussianPerFeature(KernelTestCase):
    fused_profile = "gaussian"

    def make_kernel(self, n_features):
        return Gaussian(bandwidth=per_feature(n_features))


class TestLaplace(KernelTestCase):
    fused_profile = "laplace"

    def make_kernel(self, n_features):
        return Laplace(bandwidth=1.3)


class TestLaplacePerFeature(KernelTestCase):
    fused_profile = "laplace"

    def make_kernel(self, n_features):
        return Laplace(bandwidth=per_feature(n_features))


class TestMatern05(KernelTestCase):
    fused_profile = "laplace"

    def make_kernel(self, n_features):
        return Matern(nu=0.5, bandwidth=0.7)


class TestMatern15(KernelTestCase):
    fused_profile = "matern32"

    def make_kernel(self, n_features):
        return Matern(nu=1.5, bandwidth=1.2)


class TestMatern25PerFeature(KernelTestCase):
    fused_profile = "matern52"

    def make_kernel(self, n_features):
        return Matern(nu=2.5, bandwidth=per_feature(n_features))


class TestIMQ(KernelTestCase):
    fused_profile = "imq"
    grad_params = ("c", "beta", "bandwidth")

    def make_kernel(self, n_features):
        return IMQ(c=0.7, beta=1.3, bandwidth=per_feature(n_features))


class TestRationalQuadratic(KernelTestCase):
    fused_profile = "rq"
    grad_params = ("alpha", "bandwidth")

    def make_kernel(self, n_features):
        return RationalQuadratic(alpha=0.6, bandwidth=0.9)


class TestRationalQuadraticPerFeature(KernelTestCase):
    fused_profile = "rq"

    def make_kernel(self, n_features):
        return RationalQuadratic(alpha=3.0, bandwidth=per_feature(n_features))


class TestPeriodic(KernelTestCase):
    fused_profile = None
    psd_n_features = (1,)  # not PSD with several features (see the docstring)
    grad_params = ("period", "bandwidth")

    def make_kernel(self, n_features):
        return Periodic(period=1.7, bandwidth=0.8)


class TestLinear(KernelTestCase):
    fused_profile = "linear"

    def make_kernel(self, n_features):
        return Linear()


class TestPolynomial(KernelTestCase):
    fused_profile = "poly"
    grad_params = ("gamma", "coef0")

    def make_kernel(self, n_features):
        return Polynomial(degree=3, gamma=0.5, coef0=1.5)


class TestPolynomialHomogeneous(KernelTestCase):
    fused_profile = "poly"

    def make_kernel(self, n_features):
        return Polynomial(degree=2, gamma=2.0, coef0=0.0)


class TestCosine(KernelTestCase):
    fused_profile = "linear"

    def make_kernel(self, n_features):
        return Cosine()

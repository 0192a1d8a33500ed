"""Kernels inside scikit-learn estimators survive ``clone`` (grid searches, pipelines)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from kernelkit.testing import example_kernels


@pytest.mark.parametrize("name", sorted(example_kernels(3)))
def test_clone_gives_an_equal_independent_kernel(name):
    kernel = example_kernels(3)[name]
    copy = clone(kernel)
    assert copy is not kernel
    assert repr(copy) == repr(kernel)
    X = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_array_equal(copy(X), kernel(X))


def test_cloned_estimator_parameter_is_not_shared():
    from kernelkit.kernels import Gaussian
    from kernelkit.regression import KernelRidge

    est = KernelRidge(kernel=Gaussian(bandwidth=0.5), alpha=0.1)
    copy = clone(est)
    assert copy.kernel is not est.kernel
    copy.kernel.set_params(bandwidth=2.0)
    assert est.kernel.bandwidth == 0.5

"""The tests never allocate an n × n matrix: tracemalloc peaks stay far below n² floats."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import kernelkit
from kernelkit.kernels import IMQ, Gaussian, Laplace
from kernelkit.stats import hsic_test, ksd_test, mmd_test

N = 1500
DENSE = N * N * 8  # one float64 n × n matrix: 18 MB


@pytest.fixture(scope="module", autouse=True)
def _warm():
    """Load the compiled engine outside the traced calls."""
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 3)), rng.normal(size=(40, 3))
    mmd_test(a, b, Gaussian(), n_permutations=5)
    hsic_test(a, b, Laplace(), Laplace(), n_permutations=2, approximation="exact")


def _peak(fn):
    with kernelkit.config_context(working_memory=2):
        tracemalloc.start()
        try:
            fn()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, 3)), rng.normal(size=(N, 3))


def test_mmd_test_memory(data):
    X, Y = data
    peak = _peak(lambda: mmd_test(X[:750], Y[:750], Gaussian(), n_permutations=20,
                                  random_state=0))
    assert peak < DENSE / 4


def test_hsic_streamed_memory(data):
    X, Y = data
    peak = _peak(lambda: hsic_test(X, Y, Laplace(), Laplace(),
                                   n_permutations=1, approximation="exact", random_state=0))
    assert peak < DENSE / 4
    # explicit kernels: the median heuristic itself uses a fixed <= 8 MB (1000-row subsample)
    peak = _peak(lambda: hsic_test(X, Y, Gaussian(), Gaussian(), n_permutations=20,
                                   approximation="nystrom",
                                   n_components=50, random_state=0))
    assert peak < DENSE / 4


def test_ksd_memory(data):
    X, _ = data
    peak = _peak(lambda: ksd_test(X, lambda x: -x, IMQ(), n_bootstrap=20, random_state=0))
    assert peak < DENSE / 4

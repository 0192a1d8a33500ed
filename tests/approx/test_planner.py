"""The planner: meets rtol on fresh probes, reports what it reached, rejects bad rtol."""

from __future__ import annotations

import numpy as np
import pytest

import kernelkit
from kernelkit.approx import approximate
from kernelkit.exceptions import MemoryBudgetError, ParameterError
from kernelkit.kernels import Gaussian, Polynomial
from kernelkit.testing import naive_kernel_matrix


def test_meets_rtol_on_fresh_probes_in_95_percent_of_trials():
    """20 independent trials (new data subsample, seeds and probes). If the per-trial
    success probability were below 0.95, at most 16 successes would have probability
    > 98 %; we require 18 (so a planner at exactly 0.95 passes with probability 92 %)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    kernel = Gaussian(bandwidth=1.0)
    ok = 0
    for trial in range(20):
        approx = approximate(kernel, X, rtol=2e-2, random_state=trial)
        v = rng.standard_normal(len(X))
        exact = kernelkit.matvec(kernel, X, X, v)
        ok += np.linalg.norm(approx.matvec(v) - exact) / np.linalg.norm(exact) <= 2e-2
    assert ok >= 18, ok


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matvec_matches_dense_oracle(dtype):
    X = np.random.default_rng(1).normal(size=(300, 3)).astype(dtype)
    approx = approximate(Gaussian(bandwidth=2.0), X, rtol=1e-2, random_state=0)
    v = np.random.default_rng(2).standard_normal(300)
    K = naive_kernel_matrix(Gaussian(bandwidth=2.0), X.astype(np.float64))
    err = np.linalg.norm(approx.matvec(v) - K @ v) / np.linalg.norm(K @ v)
    assert err <= 3e-2  # rtol on one fresh probe (planner rtol 1e-2; slack for the tail)
    np.testing.assert_allclose(approx.transform(X[:5]) @ approx.features.T,
                               approx.features[:5] @ approx.features.T, rtol=1e-4, atol=1e-5)
    assert approx.error_estimate <= 1e-2 and 0.9 < approx.confidence < 1
    assert approx.method in ("rff-orthogonal", "nystroem-rls")
    assert approx.rank == approx.features.shape[1]


def test_tasks_and_any_kernel():
    X = np.random.default_rng(3).normal(size=(400, 2))
    a = approximate(Polynomial(degree=2), X, rtol=1e-3, random_state=0)
    assert a.method == "nystroem-rls"  # no spectral density: Nyström only
    d = approximate(Gaussian(), X, rtol=1e-2, task="density", random_state=0)
    sums = kernelkit.kernel_sum(Gaussian(), X, X)
    assert np.quantile(np.abs(d.matvec(np.ones(400)) - sums) / sums, 0.9) <= 5e-2
    s = approximate(Gaussian(), X, rtol=1e-2, task="solve", alpha=1.0, random_state=0)
    b = np.random.default_rng(4).standard_normal(400)
    K = naive_kernel_matrix(Gaussian(), X)
    x = np.linalg.solve(K + np.eye(400), b)
    assert np.linalg.norm(s.operator.solve(b, 1.0) - x) / np.linalg.norm(x) <= 5e-2


def test_unreachable_rtol_says_what_it_reached():
    X = np.random.default_rng(5).normal(size=(300, 3))
    with pytest.raises(MemoryBudgetError, match=r"error .* at rank 16"):
        approximate(Gaussian(bandwidth=0.3), X, rtol=1e-6, max_rank=16, random_state=0)


@pytest.mark.parametrize("rtol", [0.0, -0.1, 1.0, 2.0])
def test_bad_rtol(rtol):
    with pytest.raises(ParameterError, match="rtol"):
        approximate(Gaussian(), np.ones((5, 2)), rtol=rtol)


def test_bad_task():
    with pytest.raises(ParameterError, match="task"):
        approximate(Gaussian(), np.ones((5, 2)), task="sample")
    with pytest.raises(ParameterError, match="alpha"):
        approximate(Gaussian(), np.ones((5, 2)), task="solve")

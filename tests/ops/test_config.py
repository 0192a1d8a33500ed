"""config_context, thread-locality, and the memory budget measured for real."""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest

import kernelkit
from kernelkit.exceptions import ParameterError
from kernelkit.kernels import Gaussian, Periodic
from kernelkit.ops.plan import DIRECT_MAX_FEATURES, make_plan


def test_config_context_restores_and_validates():
    before = kernelkit.get_config()
    with kernelkit.config_context(working_memory=32, backend="numpy", n_jobs=1):
        assert kernelkit.get_config() == {"working_memory": 32.0, "backend": "numpy",
                                          "n_jobs": 1}
    assert kernelkit.get_config() == before
    for bad in ({"working_memory": 0}, {"working_memory": "big"}, {"backend": "cuda"},
                {"n_jobs": 0}, {"n_jobs": 1.5}, {"colour": "red"}):
        with pytest.raises(ParameterError):
            with kernelkit.config_context(**bad):
                pass
    assert kernelkit.get_config() == before


def test_config_is_thread_local():
    seen = {}

    def worker():
        seen["backend"] = kernelkit.get_config()["backend"]

    with kernelkit.config_context(backend="numpy"):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen["backend"] == "auto"


@pytest.mark.parametrize("budget", [0.5, 4, 64])
@pytest.mark.parametrize("d", [3, 64])
def test_plan_scratch_stays_within_budget(budget, d):
    with kernelkit.config_context(working_memory=budget, n_jobs=2):
        plan = make_plan(200_000, 300_000, d, 4, needs_tile=d > DIRECT_MAX_FEATURES)
    assert plan.scratch_bytes <= budget * 2**20
    assert plan.mode == ("direct" if d <= DIRECT_MAX_FEATURES else "gemm")


def _peak_extra_bytes(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak - base


@pytest.mark.parametrize("budget_mib", [2, 16])
@pytest.mark.parametrize("d,k,kernel", [(3, 1, Gaussian(bandwidth=2.0)),
                                        (40, 1, Gaussian(bandwidth=6.0)),
                                        (3, 8, Gaussian(bandwidth=2.0)),
                                        (2, 1, Periodic())],
                         ids=["direct", "gemm", "many-rhs", "numpy-backend"])
def test_peak_memory_is_bounded_by_the_budget(d, k, kernel, budget_mib):
    """Peak extra memory ≤ working_memory + O((n + m)(d + k)), never O(n m)."""
    rng = np.random.default_rng(0)
    n = m = 6000
    X = rng.normal(size=(n, d)).astype(np.float32)
    V = rng.normal(size=(m, k)).astype(np.float32)
    with kernelkit.config_context(working_memory=budget_mib, n_jobs=2):
        kernelkit.matvec(kernel, X[:10], X[:10], V[:10])  # compile outside the measurement
        peak = _peak_extra_bytes(lambda: kernelkit.matvec(kernel, X, X, V))
    linear = 8 * (n + m) * (d + k) * 4  # prepared copies, transposes, float64 accumulators
    dense = n * m * 4
    assert peak <= budget_mib * 2**20 + linear, (peak, budget_mib * 2**20 + linear)
    assert peak < dense / 4


def test_engine_works_in_a_forked_child_after_using_threads():
    """The worker pool does not survive fork; the child must build its own, not hang."""
    import multiprocessing as mp

    X = np.random.default_rng(0).normal(size=(3000, 3))
    with kernelkit.config_context(n_jobs=2):
        expected = kernelkit.kernel_sum(Gaussian(), X)  # starts the parent's pool
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        result = pool.apply_async(_child_kernel_sum, (X,))
        got = result.get(timeout=120)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def _child_kernel_sum(X):
    with kernelkit.config_context(n_jobs=2):
        return kernelkit.kernel_sum(Gaussian(), X)

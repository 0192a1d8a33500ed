"""KernelOperator over Dask arrays (CG unchanged) and engine settings on the workers."""

from __future__ import annotations

import tracemalloc

import dask.array as da
import numpy as np
import pytest
from scipy.sparse.linalg import LinearOperator, cg

import kernelkit
from kernelkit import KernelOperator
from kernelkit.distributed import map_row_chunks, task_config
from kernelkit.exceptions import MemoryBudgetError, ShapeError
from kernelkit.kernels import Gaussian
from kernelkit.testing import naive_kernel_matrix
from kernelkit.testing._tolerances import REDUCTION_RTOL, assert_close


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_operator_products_diag_transpose_and_dense(client, rng, dtype):
    X = rng.normal(size=(300, 3)).astype(dtype)
    Y = rng.normal(size=(120, 3)).astype(dtype)
    kernel = Gaussian(bandwidth=0.9)
    Xd = da.from_array(X, chunks=(80, 3))
    K = KernelOperator(kernel, Xd, da.from_array(Y, chunks=(50, 3)))
    assert K.shape == (300, 120) and K.dtype == dtype
    v = rng.normal(size=120).astype(dtype)
    U = rng.normal(size=(300, 2)).astype(dtype)
    out, outT = K @ v, K.T @ U
    assert isinstance(out, np.ndarray) and out.dtype == dtype
    dense = naive_kernel_matrix(kernel, X, Y)
    assert_close(out, dense @ v)
    assert_close(outT, dense.T @ U)
    np.testing.assert_allclose(out, KernelOperator(kernel, X, Y) @ v,
                               rtol=REDUCTION_RTOL[dtype], atol=REDUCTION_RTOL[dtype] * 10)
    assert_close(K.to_dense(), dense)
    # In-memory X with a Dask Y (what K.T of K(X_dask, Y) gives): X is split for Dask.
    K2 = KernelOperator(kernel, X, da.from_array(Y, chunks=(50, 3)))
    assert_close(K2 @ v, dense @ v)
    S = KernelOperator(kernel, Xd)
    assert S.symmetric
    assert_close(S.diag(), np.ones(300))


def test_solve_and_scipy_cg_work_unchanged(client, rng):
    # Well conditioned (alpha = 5), so CG needs few round trips to the cluster.
    X = rng.normal(size=(250, 2))
    b = rng.normal(size=250)
    kernel = Gaussian(bandwidth=0.3)
    K = KernelOperator(kernel, da.from_array(X, chunks=(70, 2)))
    x = K.solve(b, alpha=5.0, tol=1e-8)
    x_mem = KernelOperator(kernel, X).solve(b, alpha=5.0, tol=1e-8)
    dense = naive_kernel_matrix(kernel, X) + 5.0 * np.eye(250)
    assert np.linalg.norm(dense @ x - b) <= 1e-7 * np.linalg.norm(b)
    np.testing.assert_allclose(x, x_mem, rtol=1e-6, atol=1e-8)
    # Any scipy solver: the operator is a LinearOperator with numpy in, numpy out.
    A = LinearOperator(K.shape, matvec=lambda v: K @ v + 5.0 * v, dtype=K.dtype)
    y, info = cg(A, b, rtol=1e-8, atol=0.0)
    assert info == 0
    np.testing.assert_allclose(y, x_mem, rtol=1e-6, atol=1e-8)


def test_operator_errors_stay_clear(client, rng):
    X = da.from_array(rng.normal(size=(50, 2)), chunks=(20, 2))
    K = KernelOperator(Gaussian(), X, rng.normal(size=(30, 2)))
    with pytest.raises(ValueError, match="dimension mismatch"):  # scipy's own check
        K @ np.ones((29, 1))
    with pytest.raises(ShapeError, match="square"):
        K.solve(np.ones(50))
    with kernelkit.config_context(working_memory=0.001):
        with pytest.raises(MemoryBudgetError):
            K.to_dense()


# ------------------------------------------------------------------ settings on workers
def _settings_seen(X_chunk):
    cfg = kernelkit.get_config()
    return np.array([[cfg["working_memory"], cfg["n_jobs"], cfg["backend"] == "numpy"]]
                    * X_chunk.shape[0])


def test_callers_settings_reach_every_task(client):
    X = da.zeros((40, 2), chunks=(10, 2))
    with kernelkit.config_context(working_memory=8, backend="numpy", n_jobs=2):
        assert task_config() == {"working_memory": 8.0, "backend": "numpy", "n_jobs": 1}
        lazy = map_row_chunks(_settings_seen, X, dtype=float, tail=(3,))
    # Computed outside the context: the settings travel inside the tasks.
    seen = lazy.compute()
    # One thread per worker, so the whole budget goes to the one task it runs.
    np.testing.assert_array_equal(seen, np.tile([8.0, 1.0, 1.0], (40, 1)))


def _peak_of_engine_call(X_chunk, Y, V):
    kernelkit.matvec(Gaussian(bandwidth=6.0), X_chunk[:8], Y[:8], V[:8])  # warm
    tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    kernelkit.matvec(Gaussian(bandwidth=6.0), X_chunk, Y, V)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return np.full(X_chunk.shape[0], float(peak - base))


@pytest.mark.parametrize("budget_mib", [1, 8])
def test_worker_memory_is_bounded_by_working_memory(client, budget_mib):
    """Peak scratch memory of each task ≤ working_memory + O((rows + m)(d + k)) — never
    O(rows · m) — measured inside the worker process (BLAS path, d = 40)."""
    rng = np.random.default_rng(0)
    rows, m, d = 3000, 6000, 40
    X = da.from_array(rng.normal(size=(2 * rows, d)).astype(np.float32), chunks=(rows, d))
    Y = rng.normal(size=(m, d)).astype(np.float32)
    V = rng.normal(size=(m, 1)).astype(np.float32)
    with kernelkit.config_context(working_memory=budget_mib):
        peaks = map_row_chunks(_peak_of_engine_call, X, Y, V, dtype=float).compute()
    linear = 8 * (rows + m) * (d + 1) * 4
    assert peaks.max() <= budget_mib * 2**20 + linear, (peaks.max(), budget_mib)
    assert peaks.max() < rows * m * 4 / 4


def test_row_chunks_splits_rows_only(client):
    from kernelkit.distributed import row_chunks

    X = np.zeros((10_000, 3))
    assert row_chunks(X).chunks == ((2000,) * 5, (3,))  # 4 per thread, >= 2000 rows
    assert row_chunks(da.from_array(X, chunks=(3000, 1)), rows=4000).chunks == (
        (4000, 4000, 2000), (3,))
    with pytest.raises(ValueError, match="rows must be a positive integer"):
        row_chunks(X, rows=0)


def test_map_row_chunks_checks_its_inputs_and_outputs(client):
    with pytest.raises(TypeError, match="X must be a dask array"):
        map_row_chunks(np.sum, np.zeros((4, 2)), dtype=float)
    with pytest.raises(ShapeError, match="X must be 2-D"):
        map_row_chunks(np.sum, da.zeros(4), dtype=float)
    wrong = map_row_chunks(lambda Xc: np.zeros(3), da.zeros((8, 2), chunks=(4, 2)),
                           dtype=float)
    with pytest.raises(ShapeError, match=r"returned shape \(3,\).*expected \(4,\)"):
        wrong.compute()
    # A Dask array passed as a shared value arrives whole in every task (not aligned
    # block-by-block with X).
    whole = map_row_chunks(lambda Xc, Y: np.full(Xc.shape[0], Y.sum()),
                           da.ones((6, 2), chunks=(2, 2)), da.ones((9, 2), chunks=(3, 2)),
                           dtype=float)
    np.testing.assert_array_equal(whole.compute(), np.full(6, 18.0))
    # Plain (unshared) values are shared for the caller; (n, a, b) outputs via tail.
    out = map_row_chunks(lambda Xc, c: np.broadcast_to(Xc.sum(1)[:, None, None] + c,
                                                       (Xc.shape[0], 2, 3)),
                         da.ones((6, 2), chunks=(4, 2)), np.arange(6.0).reshape(2, 3),
                         dtype=float, tail=(2, 3))
    assert out.shape == (6, 2, 3) and out.chunks == ((4, 2), (2,), (3,))
    np.testing.assert_array_equal(out.compute(), 2 + np.tile(np.arange(6.0).reshape(2, 3),
                                                             (6, 1, 1)))

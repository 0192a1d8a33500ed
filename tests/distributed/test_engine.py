"""The engine on a real Dask cluster: same results as in memory, lazy, Y shared once."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time

import dask
import dask.array as da
import numpy as np
import pytest

import kernelkit
from kernelkit.exceptions import InputTypeError, InputValueError, ParameterError, ShapeError
from kernelkit.kernels import Gaussian, Laplace, Periodic
from kernelkit.testing import naive_knn, naive_logsumexp, naive_matvec
from kernelkit.testing._tolerances import REDUCTION_RTOL, TOLERANCES, assert_close

DTYPES = [np.float32, np.float64]


def _data(rng, dtype, n=700, m=300, d=3):
    X = rng.normal(size=(n, d)).astype(dtype)
    Y = rng.normal(size=(m, d)).astype(dtype)
    V = rng.normal(size=(m, 2)).astype(dtype)
    w = rng.uniform(0.1, 1.0, size=m).astype(dtype)
    return X, Y, V, w


def _same(got, expected, dtype):
    """The cluster must agree with the in-memory engine (≤ 1e-12 relative in float64)."""
    rtol = REDUCTION_RTOL[dtype]
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("y_kind", ["numpy", "dask", "none"])
def test_reductions_equal_the_in_memory_engine(client, rng, dtype, y_kind):
    X, Y, V, w = _data(rng, dtype)
    kernel = Gaussian(bandwidth=0.8)
    Xd = da.from_array(X, chunks=(150, 3))
    Yarg = {"numpy": Y, "dask": da.from_array(Y, chunks=(70, 3)), "none": None}[y_kind]
    Ymem = X if Yarg is None else Y
    m = Ymem.shape[0]
    V, w = (V, w) if Yarg is not None else (
        rng.normal(size=(m, 2)).astype(dtype), rng.uniform(0.1, 1, m).astype(dtype))
    Vd = da.from_array(V, chunks=(100, 2))
    wd = da.from_array(w, chunks=100)

    lazy = {
        "matvec-1": kernelkit.matvec(kernel, Xd, Yarg, V[:, 0]),
        "matvec-dask-V": kernelkit.matvec(kernel, Xd, Yarg, Vd),
        "kernel_sum": kernelkit.kernel_sum(kernel, Xd, Yarg, wd),
        "logsumexp": kernelkit.logsumexp(kernel, Xd, Yarg, w),
        "knn": kernelkit.knn(Xd, Yarg, 4),
    }
    expected = {
        "matvec-1": kernelkit.matvec(kernel, X, Ymem, V[:, 0]),
        "matvec-dask-V": kernelkit.matvec(kernel, X, Ymem, V),
        "kernel_sum": kernelkit.kernel_sum(kernel, X, Ymem, w),
        "logsumexp": kernelkit.logsumexp(kernel, X, Ymem, w),
    }
    for name, out in lazy.items():
        for part in out if name == "knn" else (out,):
            assert isinstance(part, da.Array), name
            assert part.chunks[0] == Xd.chunks[0], name
    (got,) = dask.compute(lazy)  # one round trip to the cluster
    for name, value in expected.items():
        assert got[name].dtype == value.dtype == dtype, name
        _same(got[name], value, dtype)
    # ... and the slow twin: the dense float64 oracle.
    assert_close(got["matvec-dask-V"], naive_matvec(kernel, X, Ymem, V))
    assert_close(got["logsumexp"], naive_logsumexp(kernel, X, Ymem, w))
    dist, idx = got["knn"]
    d0, i0 = naive_knn(X, Ymem, 4)
    assert dist.dtype == dtype and idx.dtype == np.int64
    np.testing.assert_array_equal(idx, i0)
    assert_close(dist, d0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_many_rhs_and_compiled_fallback_kernels(client, rng, dtype):
    """k > 4 right-hand sides (tiles + BLAS), and a kernel without a compiled path."""
    X, Y, _, _ = _data(rng, dtype, n=400, m=250, d=5)
    V = rng.normal(size=(250, 7)).astype(dtype)
    Xd = da.from_array(X, chunks=(90, 5))
    for kernel in (Laplace(bandwidth=1.3), Periodic()):
        if kernel._fused() is None or isinstance(kernel, Periodic):
            X1, Y1 = X[:, :1], Y[:, :1]
            got = kernelkit.matvec(kernel, Xd[:, :1], Y1, V).compute()
            expected = kernelkit.matvec(kernel, X1, Y1, V)
        else:
            got = kernelkit.matvec(kernel, Xd, Y, V).compute()
            expected = kernelkit.matvec(kernel, X, Y, V)
        _same(got, expected, dtype)


def test_mixed_dtypes_and_integers_follow_the_engine_rules(client, rng):
    X = rng.integers(0, 5, size=(200, 2))
    Y = rng.normal(size=(50, 2)).astype(np.float32)
    out = kernelkit.kernel_sum(Gaussian(), da.from_array(X, chunks=(64, 2)), Y)
    assert out.dtype == np.float64
    _same(out.compute(), kernelkit.kernel_sum(Gaussian(), X, Y), np.float64)


def test_feature_axis_chunks_are_merged(client, rng):
    X, Y, V, _ = _data(rng, np.float64, d=4)
    Xd = da.from_array(X, chunks=(200, 1))  # chunked along the features
    out = kernelkit.matvec(Gaussian(), Xd, da.from_array(Y, chunks=(100, 2)), V)
    assert out.chunks == (Xd.chunks[0], (2,))
    _same(out.compute(), kernelkit.matvec(Gaussian(), X, Y, V), np.float64)


def test_y_is_placed_once_not_copied_into_each_task(client, rng):
    """The graph holds Y once (a broadcast future), so 40 tasks do not carry 40 copies."""
    X = rng.normal(size=(4000, 3))
    Y = rng.normal(size=(20_000, 3))  # 480 kB
    out = kernelkit.kernel_sum(Gaussian(), da.from_array(X, chunks=(100, 3)), Y)
    graph = dict(out.__dask_graph__())
    assert len(pickle.dumps(graph)) < X.nbytes + Y.nbytes / 2
    chunk_keys = {key for key in graph if key[0].startswith("array-")}
    tasks = [t for key, t in graph.items() if key[0].startswith("kernelkit-kernel_sum")]
    assert len(tasks) == 40
    shared = {frozenset(t.dependencies - chunk_keys) for t in tasks}
    assert len(shared) == 1  # every task depends on the same single Y key
    (y_key,) = shared.pop()
    # scattered once, a copy on each worker (the scheduler may report the second replica a
    # moment later on a loaded machine)
    deadline = time.monotonic() + 10
    while len(client.who_has()[y_key]) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(client.who_has()[y_key]) == 2
    _same(out.compute(), kernelkit.kernel_sum(Gaussian(), X, Y), np.float64)


def test_without_a_client_y_is_one_graph_key(monkeypatch):
    """Local schedulers: Y is a single key every task depends on (not embedded per task)."""
    from kernelkit.distributed import _map

    monkeypatch.setattr(_map, "active_client", lambda: None)  # as if no Client existed
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(1000, 2)), rng.normal(size=(5000, 2))
    out = kernelkit.kernel_sum(Gaussian(), da.from_array(X, chunks=(100, 2)), Y)
    graph = dict(out.__dask_graph__())
    assert len(pickle.dumps(graph)) < X.nbytes + 2 * Y.nbytes
    tasks = [t for key, t in graph.items() if key[0].startswith("kernelkit-kernel_sum")]
    y_keys = [key for key in graph if isinstance(key, str) and key.startswith("ndarray-")]
    assert len(tasks) == 10 and len(y_keys) == 1
    assert all(y_keys[0] in t.dependencies for t in tasks)
    _same(out.compute(scheduler="threads"), kernelkit.kernel_sum(Gaussian(), X, Y), np.float64)


def test_inputs_are_not_mutated(client, rng):
    X, Y, V, w = _data(rng, np.float32)
    copies = [A.copy() for A in (X, Y, V, w)]
    Xd = da.from_array(X, chunks=(100, 3))
    kernelkit.matvec(Gaussian(), Xd, Y, V).compute()
    kernelkit.logsumexp(Gaussian(), Xd, Y, w).compute()
    for A, B in zip((X, Y, V, w), copies, strict=True):
        np.testing.assert_array_equal(A, B)


# --------------------------------------------------------------------------- bad input
def test_numpy_x_with_dask_y_or_v_says_to_make_x_dask(rng):
    X, Y, V, _ = _data(rng, np.float64, n=50, m=40)
    with pytest.raises(InputTypeError, match=r"Y is a Dask array but X is a ndarray.*"
                       r"from_array"):
        kernelkit.kernel_sum(Gaussian(), X, da.from_array(Y))
    with pytest.raises(InputTypeError, match="V is a Dask array"):
        kernelkit.matvec(Gaussian(), X, Y, da.from_array(V))
    with pytest.raises(TypeError):  # InputTypeError is a TypeError
        kernelkit.knn(X, da.from_array(Y), 2)


def test_dask_x_with_torch_y_is_rejected(rng):
    # Tensors are recognised by their type's module (importing torch here costs seconds).
    tensor_type = type("Tensor", (), {"__module__": "torch", "shape": (40, 3)})
    X = rng.normal(size=(50, 3))
    with pytest.raises(InputTypeError, match="Y is a torch tensor"):
        kernelkit.kernel_sum(Gaussian(), da.from_array(X), tensor_type())


def test_bad_dask_inputs_fail_before_any_computation(rng):
    X, Y, V, w = _data(rng, np.float64, n=60, m=40)
    Xd = da.from_array(X, chunks=(20, 3))
    with pytest.raises(ShapeError, match="X must be 2-D"):
        kernelkit.kernel_sum(Gaussian(), Xd[:, 0], Y)
    with pytest.raises(ShapeError, match="X has 3 features but Y has 2"):
        kernelkit.kernel_sum(Gaussian(), Xd, Y[:, :2])
    with pytest.raises(ShapeError, match="V has 39 rows but Y has 40"):
        kernelkit.matvec(Gaussian(), Xd, Y, da.from_array(V[:39]))
    with pytest.raises(ParameterError, match="k=41"):
        kernelkit.knn(Xd, Y, 41)
    with pytest.raises(InputValueError, match="negative"):
        kernelkit.logsumexp(Gaussian(), Xd, Y, -w)
    with pytest.raises(InputValueError, match="compute_chunk_sizes"):
        kernelkit.kernel_sum(Gaussian(), Xd[Xd[:, 0] > 0], Y)
    with pytest.raises(InputTypeError, match="not numeric"):
        kernelkit.kernel_sum(Gaussian(), da.from_array(X.astype(str)), Y)
    with pytest.raises(InputTypeError, match="not numeric"):
        kernelkit.kernel_sum(Gaussian(), Xd, Y.astype(object))


def test_nan_in_a_chunk_raises_when_computed(client, rng):
    X, Y, _, _ = _data(rng, np.float64, n=60, m=40)
    X[45, 1] = np.nan
    out = kernelkit.kernel_sum(Gaussian(), da.from_array(X, chunks=(20, 3)), Y)
    with pytest.raises(InputValueError, match="NaN"):
        out.compute()


def test_kernel_call_on_dask_points_to_the_engine(rng):
    X = da.from_array(rng.normal(size=(10, 2)))
    with pytest.raises(InputTypeError, match="accepted by the engine"):
        Gaussian()(X, X)


def test_import_kernelkit_does_not_import_dask():
    code = ("import sys, numpy as np, kernelkit\n"
            "kernelkit.kernel_sum(kernelkit.kernels.Gaussian(), np.ones((3, 2)))\n"
            "print('dask' in sys.modules, 'distributed' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_tolerances_in_use_are_the_shared_ones():
    assert TOLERANCES[np.float64]["rtol"] == REDUCTION_RTOL[np.float64] == 1e-12

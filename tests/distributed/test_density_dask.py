"""KernelDensity scoring Dask queries on the session's real LocalCluster (2 processes)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy.special import logsumexp as dense_lse

from kernelkit.density import KernelDensity, KernelDensityTransformer
from kernelkit.exceptions import InputTypeError, InputValueError, ShapeError
from kernelkit.testing._tolerances import REDUCTION_RTOL, TOLERANCES

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

#: Fitted points: above the pruning threshold (kernelkit.density._exact.MIN_POINTS = 4096),
#: so the pruned path and its index are what runs on the workers.
M = 5000
N = 1000
ROWS = 250  # 4 tasks
RTOLS = (0.0, 1e-3)


def _data(rng, dtype, d=2):
    X = rng.normal(size=(M, d)).astype(dtype)
    Q = (rng.normal(size=(N, d)) * 1.3).astype(dtype)
    w = rng.uniform(0.2, 2.0, size=M).astype(dtype)
    return X, Q, w


def _oracle(kernel, X, Q, h, w):
    """Dense float64 log-density in 2-D: Gaussian or Epanechnikov (1 - r^2/h^2)_+."""
    X, Q, w = (np.asarray(a, np.float64) for a in (X, Q, w))
    r2 = ((Q[:, None, :] - X[None, :, :]) ** 2).sum(axis=-1) / h ** 2
    if kernel == "gaussian":
        return dense_lse(-0.5 * r2, b=w, axis=1) - np.log(w.sum() * 2 * np.pi * h ** 2)
    with np.errstate(divide="ignore"):  # integral of (1 - |u|^2)_+ over the plane: pi/2
        return np.log(np.maximum(1 - r2, 0.0) @ w / (w.sum() * h ** 2 * np.pi / 2))


def _log_close(actual, expected, atol, what):
    """Equal -inf pattern; finite log-densities within atol (= relative density error)."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    np.testing.assert_array_equal(np.isfinite(actual), np.isfinite(expected), err_msg=what)
    finite = np.isfinite(expected)
    err = np.max(np.abs(actual[finite] - expected[finite]), initial=0.0)
    assert err <= atol, f"{what}: max |log-density difference| {err:.3g} > {atol:.3g}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", ["gaussian", "epanechnikov"])
def test_score_samples_on_the_cluster_equals_in_memory(client, rng, kernel, dtype):
    X, Q, w = _data(rng, dtype)
    X0, Q0, w0 = X.copy(), Q.copy(), w.copy()
    Qd = da.from_array(Q, chunks=(ROWS, -1))
    models, lazy = {}, {}
    for rtol in RTOLS:
        models[rtol] = KernelDensity(kernel=kernel, bandwidth=0.3, rtol=rtol).fit(
            X, sample_weight=w)
        lazy[rtol] = models[rtol].score_samples(Qd)
        assert isinstance(lazy[rtol], da.Array)  # lazy
        assert lazy[rtol].chunks == (Qd.chunks[0],) and lazy[rtol].dtype == dtype
    results = dict(zip(RTOLS, dask.compute(*lazy.values()), strict=True))
    tol = REDUCTION_RTOL[dtype]
    oracle = _oracle(kernel, X, Q[::10], 0.3, w)
    for rtol, got in results.items():
        kde, what = models[rtol], f"rtol={rtol}"
        assert got.dtype == dtype
        # Each task is exactly the in-memory estimator on its chunk.
        by_chunk = np.concatenate([kde.score_samples(Q[i:i + ROWS])
                                   for i in range(0, N, ROWS)])
        _log_close(got, by_chunk, tol, f"{what}: vs in-memory chunk by chunk")
        # Against one in-memory call on all queries: pruning decisions depend on the query
        # batch, so with rtol > 0 each side may skip up to rtol/2 of a density (both within
        # the guarantee); with rtol = 0 they agree to the engine's accuracy.
        _log_close(got, kde.score_samples(Q), tol + 0.5 * rtol,
                   f"{what}: vs in-memory, all queries")
        # Against a dense float64 oracle, on a subset of the queries.
        _log_close(got[::10], oracle, TOLERANCES[dtype]["rtol"] + 0.5 * rtol,
                   f"{what}: vs dense oracle")
    np.testing.assert_array_equal(X, X0)  # inputs untouched
    np.testing.assert_array_equal(Q, Q0)
    np.testing.assert_array_equal(w, w0)


def test_score_is_a_lazy_scalar(client, rng):
    X, Q, _ = _data(rng, np.float64)
    kde = KernelDensity(kernel="exponential", bandwidth=0.4).fit(X)
    total = kde.score(da.from_array(Q, chunks=(ROWS, -1)))
    assert isinstance(total, da.Array) and total.shape == ()
    np.testing.assert_allclose(float(total), kde.score(Q), rtol=REDUCTION_RTOL[np.float64])


def test_fitted_state_is_placed_once_not_copied_into_each_task(client, rng):
    X, Q, _ = _data(rng, np.float64)
    kde = KernelDensity(bandwidth=0.3).fit(X)
    assert kde._state.prepared is not None  # the pruning index is part of the state
    state_bytes = len(pickle.dumps(kde._state))
    out = kde.score_samples(da.from_array(Q, chunks=(100, -1)))  # 10 tasks
    graph = dict(out.__dask_graph__())
    assert len(pickle.dumps(graph)) < Q.nbytes + state_bytes / 2
    chunk_keys = {key for key in graph if key[0].startswith("array-")}
    tasks = [t for key, t in graph.items() if key[0].startswith("kde-score")]
    assert len(tasks) == 10
    shared = {frozenset(t.dependencies - chunk_keys) for t in tasks}
    assert len(shared) == 1  # every task depends on the same single state key
    (state_key,) = shared.pop()
    assert len(client.who_has()[state_key]) == 2  # scattered once, a copy on each worker
    _log_close(out.compute(), kde.score_samples(Q), REDUCTION_RTOL[np.float64], "shared")


def test_grid_method_and_mixed_dtypes(client, rng):
    X, Q, _ = _data(rng, np.float32)
    kde = KernelDensity(bandwidth=0.3, method="grid", grid_size=64).fit(X)
    _log_close(kde.score_samples(da.from_array(Q, chunks=(ROWS, -1))).compute(),
               kde.score_samples(Q), REDUCTION_RTOL[np.float32], "grid")
    exact = KernelDensity(bandwidth=0.3).fit(X)  # float32 model, float64 / int queries
    for queries in (Q.astype(np.float64), np.round(Q * 3).astype(np.int64)):
        out = exact.score_samples(da.from_array(queries, chunks=(ROWS, -1)))
        assert out.dtype == np.float64
        expected = exact.score_samples(queries)
        assert expected.dtype == np.float64
        _log_close(out.compute(), expected, REDUCTION_RTOL[np.float64], "mixed dtypes")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_transformer_on_the_cluster_equals_in_memory(client, rng, dtype):
    X, Q, _ = _data(rng, dtype, d=3)
    X = X[:1000]
    Q0 = Q.copy()
    tr = KernelDensityTransformer(bandwidth=0.2, kernel="epanechnikov").fit(X)
    out = tr.transform(da.from_array(Q, chunks=(ROWS, -1)))
    assert isinstance(out, da.Array) and out.chunks == ((ROWS,) * 4, (3,))
    got = out.compute()
    assert got.dtype == dtype
    # Each row is transformed independently: identical to the in-memory transform.
    np.testing.assert_allclose(got, tr.transform(Q), rtol=0, atol=REDUCTION_RTOL[dtype])
    np.testing.assert_array_equal(Q, Q0)
    with pytest.raises(InputTypeError, match=r"X\.compute\(\)"):
        KernelDensityTransformer().fit(da.from_array(X, chunks=(1000, -1)))


def test_fit_on_dask_raises_a_clear_error(rng):
    X, _, w = _data(rng, np.float64)
    with pytest.raises(InputTypeError, match=r"X\.compute\(\)"):
        KernelDensity().fit(da.from_array(X, chunks=(1000, -1)))
    with pytest.raises(InputTypeError, match="sample_weight"):
        KernelDensity().fit(X, sample_weight=da.from_array(w, chunks=1000))


def test_bad_dask_queries(client, rng):
    X, Q, _ = _data(rng, np.float64)
    kde = KernelDensity(bandwidth=0.3).fit(X)
    with pytest.raises(ShapeError, match="2 features"):
        kde.score_samples(da.from_array(np.ones((10, 3)), chunks=(5, -1)))
    Qd = da.from_array(Q, chunks=(ROWS, -1))
    with pytest.raises(InputValueError, match="compute_chunk_sizes"):
        kde.score_samples(Qd[Qd[:, 0] > 0])
    with pytest.raises(InputTypeError, match="real number"):
        kde.score_samples(Qd.astype(np.complex128))
    bad = Q.copy()
    bad[567, 1] = np.nan  # checked by the task that reads it, like the in-memory path
    out = kde.score_samples(da.from_array(bad, chunks=(ROWS, -1)))
    with pytest.raises(ValueError, match="NaN"):
        out.compute()


def test_without_a_client_the_state_is_one_graph_key(monkeypatch, rng):
    """Local schedulers: the state is one key every task depends on (not one per task)."""
    from kernelkit.distributed import _map

    monkeypatch.setattr(_map, "active_client", lambda: None)  # as if no Client existed
    X, Q, _ = _data(rng, np.float64)
    kde = KernelDensity(kernel="gaussian", bandwidth=0.3).fit(X)
    out = kde.score_samples(da.from_array(Q, chunks=(ROWS, -1)))
    graph = dict(out.__dask_graph__())
    tasks = [t for key, t in graph.items() if key[0].startswith("kde-score")]
    state_keys = {k for t in tasks for k in t.dependencies if not k[0].startswith("array-")}
    assert len(tasks) == 4 and len(state_keys) == 1
    got = out.compute(scheduler="sync")
    _log_close(got, kde.score_samples(Q), REDUCTION_RTOL[np.float64], "no client")

"""Kernel tests (mmd, mmd_test, hsic, hsic_test) on Dask samples, on the session's real
LocalCluster (2 worker processes): equal to the in-memory results with the same seed."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from kernelkit import config_context
from kernelkit.exceptions import InputTypeError, InputValueError, ShapeError
from kernelkit.kernels import Gaussian, Laplace
from kernelkit.stats import hsic, hsic_test, mmd, mmd_test
from kernelkit.stats._dask import mmd_terms
from kernelkit.testing._tolerances import REDUCTION_RTOL, assert_close

da = pytest.importorskip("dask.array")

NX, NY, ROWS = 700, 500, 200  # pooled N = 1200 > 1000: the median heuristic subsamples
B = 40


def _dask(A, rows=ROWS):
    return da.from_array(A, chunks=(rows, -1))


def _two_samples(rng, dtype):
    X = rng.normal(size=(NX, 2)).astype(dtype)
    Y = rng.normal(0.15, size=(NY, 2)).astype(dtype)
    return X, Y


def _assert_same_test(got, ref, dtype, what, scale=1.0):
    """Statistic ≤ REDUCTION_RTOL relative; null samples within REDUCTION_RTOL of the
    scale of the kernel terms they are differences of (``scale``: Gaussian / Laplace
    values are ≤ 1); p-values, decisions and kernels equal."""
    tol = REDUCTION_RTOL[dtype]
    np.testing.assert_allclose(got.statistic, ref.statistic, rtol=tol, err_msg=what)
    np.testing.assert_allclose(got.null_samples, ref.null_samples, rtol=tol,
                               atol=tol * scale, err_msg=what)
    assert got.pvalue == ref.pvalue and got.reject == ref.reject, what
    assert repr(got.kernel) == repr(ref.kernel), what
    assert isinstance(got.null_samples, np.ndarray)


def _dense_mmd_u(X, Y, kernel):
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    Kxx, Kyy, Kxy = (np.asarray(kernel(A, B_), np.float64) for A, B_ in
                     ((X, X), (Y, Y), (X, Y)))
    n, m = len(X), len(Y)
    return ((Kxx.sum() - np.trace(Kxx)) / (n * (n - 1)) + (Kyy.sum() - np.trace(Kyy))
            / (m * (m - 1)) - 2 * Kxy.mean())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mmd_test_on_the_cluster_equals_in_memory(client, rng, dtype):
    X, Y = _two_samples(rng, dtype)
    X0, Y0 = X.copy(), Y.copy()
    ref = mmd_test(X, Y, n_permutations=B, random_state=7)  # median heuristic kernel
    got = mmd_test(_dask(X), _dask(Y, 150), n_permutations=B, random_state=7)
    _assert_same_test(got, ref, dtype, "unbiased")
    # Slow twin: the statistic against a dense float64 oracle.
    assert_close(np.asarray(got.statistic), _dense_mmd_u(X, Y, got.kernel), dtype=dtype)
    kern = Laplace(bandwidth=1.5)
    ref = mmd_test(X, Y, kern, n_permutations=B, random_state=3, estimator="biased")
    got = mmd_test(_dask(X), _dask(Y), kern, n_permutations=B, random_state=3,
                   estimator="biased")
    _assert_same_test(got, ref, dtype, "biased, Laplace")
    np.testing.assert_array_equal(X, X0)  # inputs untouched
    np.testing.assert_array_equal(Y, Y0)


def test_mmdagg_and_progress_on_the_cluster(client, rng):
    X, Y = _two_samples(rng, np.float64)
    kernels = [Gaussian(bandwidth=0.5), Laplace(bandwidth=2.0)]
    kw = dict(method="aggregated", n_permutations=30, n_permutations_level=20,
              random_state=1)
    ref = mmd_test(X, Y, kernels, **kw)
    calls = []
    got = mmd_test(_dask(X), _dask(Y), kernels, progress=lambda d, t: calls.append((d, t)),
                   **kw)
    assert got.pvalue == ref.pvalue and got.reject == ref.reject
    np.testing.assert_allclose(got.details["mmd2"], ref.details["mmd2"],
                               rtol=REDUCTION_RTOL[np.float64])
    assert calls and calls[-1] == (NX + NY, NX + NY)


def test_mmd_estimators_on_the_cluster(client, rng, dtype=np.float64):
    X, Y = (A[:300] for A in _two_samples(rng, dtype))
    w = rng.uniform(0.5, 2.0, 300)
    for est in ("unbiased", "biased", "linear"):
        got = mmd(_dask(X), _dask(Y, 130), estimator=est)
        assert isinstance(got, float)
        np.testing.assert_allclose(got, mmd(X, Y, estimator=est),
                                   rtol=REDUCTION_RTOL[dtype], err_msg=est)
    got = mmd(_dask(X), _dask(Y), Gaussian(bandwidth=1.0), weights_x=w)
    np.testing.assert_allclose(got, mmd(X, Y, Gaussian(bandwidth=1.0), weights_x=w),
                               rtol=REDUCTION_RTOL[dtype])


def test_mmd_pass_is_one_task_per_chunk_with_state_shared_once(client, rng):
    X, Y = _two_samples(rng, np.float64)
    Z = da.concatenate([_dask(X), _dask(Y)])
    P = np.zeros((NX + NY, 101))
    P[:NX] = 1.0
    terms = mmd_terms(Gaussian(bandwidth=1.0), Z, P, NX, NY, True)
    graph = dict(terms.__dask_graph__())
    tasks = [t for key, t in graph.items() if key[0].startswith("kernelkit-mmd")]
    assert len(tasks) == Z.numblocks[0]
    driver = {key for key in graph  # the row-index chunks that drive the tasks
              if isinstance(key, tuple) and key[0].startswith(("arange", "getitem"))}
    shared = {frozenset(t.dependencies - driver) for t in tasks}
    assert len(shared) == 1  # every task reads the same pooled sample and label matrix
    assert len(pickle.dumps(graph)) < P.nbytes / 2  # P is not copied into the tasks
    got = terms.sum(axis=0).compute()  # 101 copies of the observed labelling
    np.testing.assert_allclose(got, mmd(X, Y, Gaussian(bandwidth=1.0)),
                               rtol=REDUCTION_RTOL[np.float64])


def _dense_hsic(X, Y, kx, ky):
    n = len(X)
    H = np.eye(n) - 1.0 / n
    K = np.asarray(kx(X.astype(np.float64)), np.float64)
    L = np.asarray(ky(Y.astype(np.float64)), np.float64)
    return float(np.trace(K @ H @ L @ H)) / n**2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hsic_test_exact_on_the_cluster_equals_in_memory(client, rng, dtype):
    n = 200
    X = rng.normal(size=(n, 2)).astype(dtype)
    Y = (np.sin(X) + rng.normal(size=(n, 2))).astype(dtype)
    Xd, Yd = _dask(X, 110), _dask(Y, 110)
    for kernels in ((None, None), (Laplace(bandwidth=1.0), Gaussian(bandwidth=0.7))):
        kw = dict(n_permutations=10, random_state=4, approximation="exact")
        got = hsic_test(Xd, Yd, *kernels, **kw)
        ref = hsic_test(X, Y, *kernels, **kw)  # dense centred Gram matrices
        with config_context(working_memory=0.25):  # one streamed pass per permutation
            streamed = hsic_test(X, Y, *kernels, **kw)
        for r, what in ((ref, "dense"), (streamed, "streamed")):
            _assert_same_test(got, r, dtype, f"{kernels}: {what}")
        kx, ky = got.kernel
        assert_close(np.asarray(got.statistic), _dense_hsic(X, Y, kx, ky), dtype=dtype)
        np.testing.assert_allclose(hsic(Xd, Yd, *kernels), ref.statistic,
                                   rtol=REDUCTION_RTOL[dtype])


def test_hsic_test_nystrom_on_the_cluster_equals_in_memory(client, rng):
    n = 900
    X = rng.normal(size=(n, 3))
    Y = X[:, :1] ** 2 + rng.normal(size=(n, 1))
    kw = dict(n_permutations=30, random_state=5, approximation="nystrom", n_components=40)
    got = hsic_test(_dask(X, 250), _dask(Y, 250), **kw)
    ref = hsic_test(X, Y, **kw)
    _assert_same_test(got, ref, np.float64, "nystrom")
    assert got.details == ref.details


def test_mixed_and_bad_dask_inputs(client, rng):
    X, Y = _two_samples(rng, np.float64)
    for fn in (mmd, mmd_test, hsic, hsic_test):
        with pytest.raises(InputTypeError, match="from_array"):
            fn(_dask(X), Y[:NX] if fn in (hsic, hsic_test) else Y)
        with pytest.raises(InputTypeError, match="both"):
            fn(X[:NY] if fn in (hsic, hsic_test) else X, _dask(Y))
    with pytest.raises(InputTypeError, match="gamma"):
        hsic_test(_dask(X[:NY]), _dask(Y), method="gamma")
    with pytest.raises(ShapeError, match="rows"):
        hsic(_dask(X), _dask(Y))
    with pytest.raises(ShapeError, match="features"):
        mmd(_dask(X), _dask(np.ones((NY, 3))))
    unknown = _dask(X)[_dask(X)[:, 0] > 0]
    with pytest.raises(InputValueError, match="compute_chunk_sizes"):
        mmd_test(unknown, _dask(Y))
    with pytest.raises(InputTypeError, match="real number"):
        mmd(_dask(X.astype(complex)), _dask(Y.astype(complex)))
    # Feature-axis chunks are merged; integer data becomes float64.
    Xf = da.from_array(X, chunks=(ROWS, 1))
    kern = Gaussian(bandwidth=1.0)
    np.testing.assert_allclose(mmd(Xf, _dask(Y), kern), mmd(X, Y, kern),
                               rtol=REDUCTION_RTOL[np.float64])
    Xi, Yi = np.round(3 * X).astype(np.int64), np.round(3 * Y).astype(np.int64)
    np.testing.assert_allclose(mmd(_dask(Xi), _dask(Yi), Gaussian(bandwidth=2.0)),
                               mmd(Xi, Yi, Gaussian(bandwidth=2.0)),
                               rtol=REDUCTION_RTOL[np.float64])
    # NaN inside a chunk is raised when the pass runs.
    Xn = X.copy()
    Xn[NX - 5, 1] = np.nan
    with pytest.raises(InputValueError):
        mmd_test(_dask(Xn), _dask(Y), Gaussian(bandwidth=1.0), n_permutations=5)


def test_functions_without_a_dask_path_refuse_dask_arrays(rng):
    from kernelkit.stats import MMDReference, cka, ksd

    X = rng.normal(size=(40, 2))
    Xd = _dask(X, 20)
    for call in (lambda: MMDReference(Xd), lambda: MMDReference(X).mmd(Xd),
                 lambda: cka(Xd, Xd), lambda: ksd(Xd, lambda x: -x)):
        with pytest.raises(InputTypeError, match=r"compute\(\)"):
            call()

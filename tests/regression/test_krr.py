"""KernelRidge against scikit-learn and a dense numpy oracle."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge as SkKernelRidge

import kernelkit
from kernelkit.exceptions import ConvergenceWarning, NotPSDError
from kernelkit.kernels import Gaussian, Laplace, Matern
from kernelkit.regression import KernelRidge, _krr
from kernelkit.testing._tolerances import TOLERANCES

#: the issue's promise: same predictions as scikit-learn to 1e-8 relative
SKLEARN_RTOL = 1e-8


def _dense_krr(kernel, X, Y, alpha, sw=None):
    K = kernel(X)
    w = np.ones(len(X)) if sw is None else sw
    return np.linalg.solve(np.sqrt(w)[:, None] * K * np.sqrt(w)[None, :]
                           + alpha * np.eye(len(X)), np.sqrt(w)[:, None] * Y) \
        * np.sqrt(w)[:, None]


@pytest.mark.parametrize("solver", ["cholesky", "dense_cg", "cg"])
@pytest.mark.parametrize("alpha", [1e-3, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_sklearn(problem, solver, alpha, weighted, monkeypatch):
    X, Y, sw, Xq = problem
    # no iteration budget: dense_cg itself must reach the promised accuracy (its fallback
    # to the factorisation is tested separately)
    monkeypatch.setattr(_krr, "dense_cg_budget", lambda n: 10_000)
    sw = sw if weighted else None
    h = 1.3
    ref = SkKernelRidge(kernel="rbf", gamma=1 / (2 * h * h), alpha=alpha).fit(X, Y, sw)
    model = KernelRidge(kernel=Gaussian(bandwidth=h), alpha=alpha, solver=solver,
                        tol=1e-13, max_iter=1000, preconditioner_rank=40,
                        random_state=0).fit(X, Y, sw)
    expected = ref.predict(Xq)
    got = model.predict(Xq)
    assert got.shape == expected.shape == (30, 2)
    scale = np.abs(expected).max()
    assert np.abs(got - expected).max() <= SKLEARN_RTOL * scale
    assert model.solver_ == solver
    # single target gives 1-D predictions
    one = KernelRidge(kernel=Gaussian(bandwidth=h), alpha=alpha, solver=solver,
                      tol=1e-13, max_iter=1000).fit(X, Y[:, 0], sw)
    assert one.predict(Xq).shape == (30,)
    np.testing.assert_allclose(one.predict(Xq), got[:, 0], rtol=1e-7,
                               atol=SKLEARN_RTOL * scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", [Laplace(bandwidth=2.0), Matern(nu=1.5, bandwidth=1.0)])
def test_dense_oracle(problem, dtype, kernel):
    X, Y, sw, Xq = problem
    X32 = X.astype(dtype)
    Xr = X32.astype(np.float64)  # the oracle sees exactly the representable inputs
    coef = _dense_krr(kernel, Xr, Y, 0.1, sw)
    expected = kernel(Xq.astype(dtype).astype(np.float64), Xr) @ coef
    for solver in ("cholesky", "dense_cg", "cg"):
        model = KernelRidge(kernel=kernel, alpha=0.1, solver=solver, tol=1e-13,
                            max_iter=1000).fit(X32, Y, sample_weight=sw)
        np.testing.assert_allclose(model.dual_coef_, coef, rtol=1e-8, atol=1e-9)
        np.testing.assert_allclose(model.predict(Xq.astype(dtype)), expected,
                                   **TOLERANCES[np.float64])


def test_auto_rule_and_cg_without_dense(problem):
    X, Y, _, Xq = problem
    with kernelkit.config_context(working_memory=0.001):
        model = KernelRidge(kernel=Gaussian(), alpha=0.5, tol=1e-12).fit(X, Y)
    assert model.solver_ == "cg" and model.n_iter_ > 0
    assert KernelRidge(kernel=Gaussian(), alpha=0.5).fit(X, Y).solver_ == "cholesky"
    ref = KernelRidge(kernel=Gaussian(), alpha=0.5, solver="cholesky").fit(X, Y)
    np.testing.assert_allclose(model.predict(Xq), ref.predict(Xq), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("mixed, bound", [(True, 0.7), (False, 1.35)])
def test_cholesky_memory_is_one_matrix(rng, mixed, bound):
    import tracemalloc

    n = 1500
    X = rng.normal(size=(n, 4))
    y = rng.normal(size=n)
    model = KernelRidge(kernel=Gaussian(), alpha=1.0, solver="cholesky",
                        mixed_precision=mixed)
    kernelkit.matvec(Gaussian(), X[:50], X[:50], y[:50])  # load the compiled engine first
    tracemalloc.start()
    with kernelkit.config_context(working_memory=2):  # engine tiles well below n x n
        model.fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # one n x n matrix (float32 when mixed) plus tiles and O(n) vectors; sklearn: 3 float64
    assert peak < bound * 8 * n * n
    assert (model.n_iter_ > 0) == mixed


def test_mixed_precision_matches_float64_and_falls_back(problem):
    X, Y, sw, Xq = problem
    k = Gaussian(bandwidth=2.0)
    for alpha in (1e-1, 1e-9):  # 1e-9: float32 factor fails or stalls -> float64 factor
        mixed = KernelRidge(kernel=k, alpha=alpha).fit(X, Y, sw)
        exact = KernelRidge(kernel=k, alpha=alpha, mixed_precision=False).fit(X, Y, sw)
        scale = np.abs(exact.predict(Xq)).max()
        np.testing.assert_allclose(mixed.predict(Xq), exact.predict(Xq), rtol=0,
                                   atol=1e-8 * scale)
    assert exact.n_iter_ == 0


def test_not_psd_error_names_remedy(rng):
    X = np.repeat(rng.normal(size=(5, 2)), 20, axis=0)  # many duplicated rows
    with pytest.raises(NotPSDError, match="increase alpha"):
        KernelRidge(kernel=Gaussian(bandwidth=50.0), alpha=1e-300,
                    solver="cholesky").fit(X, np.ones(100))


def test_cg_convergence_warning(problem):
    X, Y, _, _ = problem
    with pytest.warns(ConvergenceWarning, match="relative residual"):
        KernelRidge(kernel=Gaussian(bandwidth=3.0), alpha=1e-9, solver="cg", max_iter=2,
                    preconditioner_rank=3, random_state=0).fit(X, Y)


def test_bad_input(problem):
    X, Y, _, _ = problem
    with pytest.raises(ValueError, match="alpha"):
        KernelRidge(alpha=0.0).fit(X, Y)
    y = Y[:, 0].copy()
    y[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KernelRidge().fit(X, y)
    with pytest.raises(ValueError, match="kernel"):
        KernelRidge(kernel="rbf").fit(X, Y)


def test_inputs_not_mutated(problem):
    X, Y, sw, Xq = problem
    copies = [a.copy() for a in (X, Y, sw, Xq)]
    for solver in ("cholesky", "dense_cg", "cg"):
        KernelRidge(solver=solver, alpha=0.1).fit(X, Y, sw).predict(Xq)
    for a, c in zip((X, Y, sw, Xq), copies, strict=True):
        np.testing.assert_array_equal(a, c)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_cg_matches_float64_oracle(rng, dtype, monkeypatch):
    """dense_cg (float32 K in memory + float64 refinement) against np.linalg.solve."""
    monkeypatch.setattr(_krr, "dense_cg_budget", lambda n: 10_000)
    X = rng.normal(size=(400, 3)).astype(dtype)
    Xr = X.astype(np.float64)
    y = np.sin(Xr).sum(axis=1) + 0.1 * rng.normal(size=400)
    k = Gaussian(bandwidth=1.5)
    for alpha in (1e-3, 1e-1):
        model = KernelRidge(kernel=k, alpha=alpha, solver="dense_cg", random_state=0)
        model.fit(X, y)
        assert model.solver_ == "dense_cg" and model.n_iter_ > 0 and model.n_refine_ >= 1
        coef = np.linalg.solve(k(Xr) + alpha * np.eye(400), y)
        scale = np.abs(coef).max()
        np.testing.assert_allclose(model.dual_coef_, coef, rtol=0, atol=SKLEARN_RTOL * scale)


def test_dense_cg_falls_back_to_factorisation(problem, monkeypatch):
    X, Y, sw, Xq = problem
    k = Gaussian(bandwidth=1.3)
    exact = KernelRidge(kernel=k, alpha=1e-2, mixed_precision=False).fit(X, Y, sw)
    scale = np.abs(exact.predict(Xq)).max()
    # budget exhausted -> factorisation of the K already in memory
    monkeypatch.setattr(_krr, "dense_cg_budget", lambda n: 1)
    for mixed in (True, False):
        model = KernelRidge(kernel=k, alpha=1e-2, solver="dense_cg",
                            mixed_precision=mixed).fit(X, Y, sw)
        assert model.solver_ == "cholesky" and model.n_refine_ == 0
        np.testing.assert_allclose(model.predict(Xq), exact.predict(Xq), rtol=0,
                                   atol=1e-8 * scale)
    # alpha far below the float32 rounding of K: refinement stalls -> float64 factor
    monkeypatch.setattr(_krr, "dense_cg_budget", lambda n: 10_000)
    tiny = KernelRidge(kernel=Gaussian(bandwidth=2.0), alpha=1e-9, solver="dense_cg")
    tiny.fit(X, Y, sw)
    ref = KernelRidge(kernel=Gaussian(bandwidth=2.0), alpha=1e-9,
                      mixed_precision=False).fit(X, Y, sw)
    assert tiny.solver_ == "cholesky"
    scale = np.abs(ref.predict(Xq)).max()
    np.testing.assert_allclose(tiny.predict(Xq), ref.predict(Xq), rtol=0, atol=1e-8 * scale)


def test_auto_picks_dense_cg_by_cost(problem, monkeypatch):
    X, Y, _, _ = problem
    n = len(X)
    assert _krr.choose_dense_solver(n, 1.0, 1.0) == "cholesky"           # small n
    assert _krr.choose_dense_solver(20_000, 1e-2, 1.0) == "dense_cg"
    assert _krr.choose_dense_solver(20_000, 1e-6, 1.0) == "cholesky"     # alpha tiny
    monkeypatch.setattr(_krr, "DENSE_CG_MIN_N", 100)
    monkeypatch.setattr(_krr, "dense_cg_budget", lambda n: 10_000)
    model = KernelRidge(kernel=Gaussian(), alpha=0.5).fit(X, Y)
    assert model.solver_ == "dense_cg"
    model = KernelRidge(kernel=Gaussian(), alpha=1e-9).fit(X, Y)
    assert model.solver_ == "cholesky"


def test_dense_cg_memory_is_one_float32_matrix(rng):
    import tracemalloc

    n = 1500
    X = rng.normal(size=(n, 4))
    y = rng.normal(size=n)
    model = KernelRidge(kernel=Gaussian(), alpha=1.0, solver="dense_cg", random_state=0,
                        preconditioner_rank=50)
    kernelkit.matvec(Gaussian(), X[:50], X[:50], y[:50])
    tracemalloc.start()
    with kernelkit.config_context(working_memory=2):
        model.fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert model.solver_ == "dense_cg"
    # one float32 n x n (0.5 of a float64 one) + the rank-150 preconditioner (float32)
    assert peak < 0.7 * 8 * n * n

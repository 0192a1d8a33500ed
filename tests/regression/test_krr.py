"""KernelRidge against scikit-learn and a dense numpy oracle."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge as SkKernelRidge

import kernelkit
from kernelkit.exceptions import ConvergenceWarning, NotPSDError
from kernelkit.kernels import Gaussian, Laplace, Matern
from kernelkit.regression import KernelRidge
from kernelkit.testing._tolerances import TOLERANCES

#: the issue's promise: same predictions as scikit-learn to 1e-8 relative
SKLEARN_RTOL = 1e-8


def _dense_krr(kernel, X, Y, alpha, sw=None):
    K = kernel(X)
    w = np.ones(len(X)) if sw is None else sw
    return np.linalg.solve(np.sqrt(w)[:, None] * K * np.sqrt(w)[None, :]
                           + alpha * np.eye(len(X)), np.sqrt(w)[:, None] * Y) \
        * np.sqrt(w)[:, None]


@pytest.mark.parametrize("solver", ["cholesky", "cg"])
@pytest.mark.parametrize("alpha", [1e-3, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_matches_sklearn(problem, solver, alpha, weighted):
    X, Y, sw, Xq = problem
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
    for solver in ("cholesky", "cg"):
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
    for solver in ("cholesky", "cg"):
        KernelRidge(solver=solver, alpha=0.1).fit(X, Y, sw).predict(Xq)
    for a, c in zip((X, Y, sw, Xq), copies, strict=True):
        np.testing.assert_array_equal(a, c)

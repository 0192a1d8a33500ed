"""FalkonRegressor / FalkonClassifier against dense Nyström oracles."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from kernelkit.exceptions import ConvergenceWarning, NumericalWarning
from kernelkit.kernels import Gaussian
from kernelkit.regression import FalkonClassifier, FalkonRegressor, KernelRidge
from kernelkit.regression._falkon import nystrom_normal_product
from kernelkit.testing._tolerances import TOLERANCES


def _dense_nystrom(kernel, X, C, Y, alpha, w=None):
    Kxc = kernel(X, C)
    w = np.ones(len(X)) if w is None else w
    H = Kxc.T @ (w[:, None] * Kxc) + alpha * kernel(C)
    return np.linalg.solve(H, Kxc.T @ (w[:, None] * Y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_product_matches_dense(rng, dtype):
    X = rng.normal(size=(300, 2)).astype(dtype)
    C = X[:17]
    U = rng.normal(size=(17, 3))
    w = rng.uniform(size=300)
    k = Gaussian(bandwidth=0.7)
    Xr, Cr = X.astype(np.float64), C.astype(np.float64)
    expected = k(Cr, Xr) @ (w[:, None] * (k(Xr, Cr) @ U))
    got = nystrom_normal_product(k, X.astype(np.float64), C.astype(np.float64), U, w)
    np.testing.assert_allclose(got, expected, **TOLERANCES[np.float64])


@pytest.mark.parametrize("weighted", [False, True])
def test_matches_dense_nystrom(problem, weighted):
    X, Y, sw, Xq = problem
    sw = sw if weighted else None
    k = Gaussian(bandwidth=0.8)
    model = FalkonRegressor(kernel=k, alpha=1.0, n_centers=40, max_iter=200, tol=1e-12,
                            random_state=0).fit(X, Y, sample_weight=sw)
    coef = _dense_nystrom(k, X, model.centers_, Y, 1.0, sw)
    # the centres are training rows, drawn without replacement
    assert len({tuple(r) for r in model.centers_}) == 40
    assert all((X == c).all(axis=1).any() for c in model.centers_)
    np.testing.assert_allclose(model.predict(Xq), k(Xq, model.centers_) @ coef,
                               rtol=1e-7, atol=1e-8)


def test_all_centres_is_exact_krr(problem):
    X, Y, _, Xq = problem
    k = Gaussian(bandwidth=0.8)
    model = FalkonRegressor(kernel=k, alpha=0.5, n_centers=len(X), max_iter=300,
                            tol=1e-12, random_state=0).fit(X, Y)
    krr = KernelRidge(kernel=k, alpha=0.5).fit(X, Y)
    np.testing.assert_allclose(model.predict(Xq), krr.predict(Xq), rtol=1e-6, atol=1e-7)


def test_float32_input(problem):
    X, Y, _, Xq = problem
    k = Gaussian(bandwidth=0.8)
    m64 = FalkonRegressor(kernel=k, alpha=1.0, n_centers=30, tol=1e-12, max_iter=200,
                          random_state=0).fit(X.astype(np.float32), Y)
    coef = _dense_nystrom(k, X.astype(np.float32).astype(np.float64), m64.centers_, Y, 1.0)
    np.testing.assert_allclose(m64.coef_, coef, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("weighted", [False, True])
def test_kernel_dtype_float32_matches_dense_nystrom(problem, weighted):
    """float32 kernel values in the CG pass: the dense float64 Nyström solution within
    what float32 kernel values allow (a well-conditioned problem, alpha = 1)."""
    X, Y, sw, Xq = problem
    sw = sw if weighted else None
    k = Gaussian(bandwidth=0.8)
    model = FalkonRegressor(kernel=k, alpha=1.0, n_centers=40, max_iter=200, tol=1e-9,
                            random_state=0, kernel_dtype="float32").fit(X, Y, sample_weight=sw)
    assert model.coef_.dtype == np.float64
    coef = _dense_nystrom(k, X, model.centers_, Y, 1.0, sw)
    expected = k(Xq, model.centers_) @ coef
    tol = TOLERANCES[np.float32]
    np.testing.assert_allclose(model.predict(Xq), expected, rtol=tol["rtol"],
                               atol=tol["atol"] * np.abs(expected).max())


def _ill_conditioned(n=2000, d=3):
    """Smooth targets on N(0, I_3) with 100 centres and a small ridge: float32 kernel
    values alone miss the float64 Nyström solution by 1e-4-ish (relative)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d))
    y = np.sin(X).sum(axis=1) + 0.1 * rng.normal(size=n)
    return X, np.column_stack([y, np.cos(X[:, 0])]), rng.normal(size=(50, d))


def test_kernel_dtype_mixed_reaches_float64_accuracy():
    from kernelkit.exceptions import NumericalWarning

    X, Y, Xq = _ill_conditioned()
    k = Gaussian(bandwidth=1.0)
    kw = dict(kernel=k, alpha=0.1, n_centers=100, max_iter=400, tol=1e-9, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NumericalWarning)  # no fallback to float64 here
        fits = {dt: FalkonRegressor(kernel_dtype=dt, **kw).fit(X, Y) for dt in
                ("float32", "mixed")}
    C = fits["mixed"].centers_
    expected = k(Xq, C) @ _dense_nystrom(k, X, C, Y, 0.1)
    err = {dt: np.abs(m.predict(Xq) - expected).max() / np.abs(expected).max()
           for dt, m in fits.items()}
    assert err["float32"] > 1e-5  # the system float32 alone solves is another one
    assert err["mixed"] < 1e-6 and err["mixed"] < 1e-2 * err["float32"]
    mixed = fits["mixed"]
    assert mixed.coef_.dtype == np.float64 and mixed.residuals_.shape == (mixed.n_iter_ + 1, 2)
    assert (mixed.residuals_[-1] <= 1e-9).all()


def test_kernel_dtype_mixed_callback_and_warm_start(problem):
    X, Y, _, _ = problem
    seen = []
    kw = dict(kernel=Gaussian(bandwidth=0.5), alpha=1e-4, n_centers=60, tol=1e-14,
              random_state=0, kernel_dtype="mixed")
    with pytest.warns(ConvergenceWarning, match="relative residual"):
        cold = FalkonRegressor(max_iter=12, callback=lambda i, c, r: seen.append((i, c, r)),
                               **kw).fit(X, Y)
    assert [s[0] for s in seen] == list(range(1, 13))
    np.testing.assert_allclose(seen[-1][1], cold.coef_)
    assert cold.residuals_.shape == (13, 2)
    # the recorded last residual is the float64 one of the returned coefficients
    from kernelkit.regression._falkon import _FalkonSolver

    solver = _FalkonSolver(Gaussian(bandwidth=0.5), X, cold.centers_, 1e-4, None)
    b = solver.rhs(Y)
    R = b - solver.apply_BtHB(solver.from_coef(cold.coef_), exact=True)
    np.testing.assert_allclose(cold.residuals_[-1],
                               np.linalg.norm(R, axis=0) / np.linalg.norm(b, axis=0),
                               rtol=1e-6)
    warm = FalkonRegressor(max_iter=12, warm_start=True, **kw)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X, Y)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X, Y)
    long = FalkonRegressor(max_iter=400, **{**kw, "tol": 1e-10}).fit(X, Y)
    assert (np.abs(warm.coef_ - long.coef_).max()
            < 0.5 * np.abs(cold.coef_ - long.coef_).max())


def test_kernel_dtype_mixed_falls_back_to_float64(monkeypatch):
    """A float32 product far off the float64 one: the float64 residual does not halve at
    the first check, and every later product is float64."""
    from kernelkit.exceptions import NumericalWarning
    from kernelkit.regression import _falkon

    X, Y, Xq = _ill_conditioned(n=800)
    k = Gaussian(bandwidth=0.7)
    exact_calls = []
    original = _falkon._FalkonSolver.apply_BtHB

    def skewed(self, gamma, exact=False):
        exact_calls.append(exact)
        out = original(self, gamma, exact)
        return out if exact else 3.0 * out  # a float32 operator far off the true one

    monkeypatch.setattr(_falkon._FalkonSolver, "apply_BtHB", skewed)
    with pytest.warns(NumericalWarning, match="too coarse"):
        model = FalkonRegressor(kernel=k, alpha=1e-2, n_centers=60, max_iter=300, tol=1e-9,
                                random_state=0, kernel_dtype="mixed").fit(X, Y)
    assert (model.residuals_[-1] <= 1e-9).all()
    C = model.centers_
    expected = k(Xq, C) @ _dense_nystrom(k, X, C, Y, 1e-2)
    np.testing.assert_allclose(model.predict(Xq), expected, rtol=1e-7,
                               atol=1e-7 * np.abs(expected).max())
    first_exact = exact_calls.index(True)
    assert 0 < first_exact <= _falkon.MIXED_CHECK_EVERY
    assert all(exact_calls[first_exact:])


def test_kernel_dtype_mixed_on_a_system_float32_cannot_resolve():
    """Well-separated clusters at alpha / n = 1e-6: float32 CG alone ends far from the
    float64 solution; "mixed" notices, warns and ends where float64 CG does."""
    from kernelkit.datasets import make_gaussian_mixture
    from kernelkit.exceptions import NumericalWarning

    X, labels = make_gaussian_mixture(1000, n_components=3, cluster_std=0.6, random_state=1)
    y = np.where(labels == 1, 1.0, -1.0)
    k = Gaussian(bandwidth=1.0)
    kw = dict(kernel=k, alpha=1e-3, n_centers=100, max_iter=60, tol=1e-10, random_state=0)
    with pytest.warns(ConvergenceWarning):
        f32 = FalkonRegressor(kernel_dtype="float32", **kw).fit(X, y)
    with pytest.warns(NumericalWarning, match="too coarse"), pytest.warns(ConvergenceWarning):
        mixed = FalkonRegressor(kernel_dtype="mixed", **kw).fit(X, y)
    C = mixed.centers_
    expected = k(X, C) @ _dense_nystrom(k, X, C, y[:, None], 1e-3)[:, 0]
    err = {name: np.abs(m.predict(X) - expected).max() / np.abs(expected).max()
           for name, m in (("float32", f32), ("mixed", mixed))}
    assert err["mixed"] < 0.2 * err["float32"]


def test_callback_warm_start_and_progress(problem):
    X, Y, _, _ = problem
    seen = []
    kw = dict(kernel=Gaussian(bandwidth=0.5), alpha=1e-4, n_centers=60, tol=1e-14,
              random_state=0)
    with pytest.warns(ConvergenceWarning, match="relative residual"):
        cold = FalkonRegressor(max_iter=3, callback=lambda i, c, r: seen.append((i, c, r)),
                               **kw).fit(X, Y)
    assert [s[0] for s in seen] == [1, 2, 3]
    assert seen[-1][1].shape == (60, 2) and seen[-1][2].shape == (2,)
    np.testing.assert_allclose(seen[-1][1], cold.coef_)
    assert cold.residuals_.shape == (4, 2)
    warm = FalkonRegressor(max_iter=3, warm_start=True, **kw)
    with pytest.warns(ConvergenceWarning):
        warm.fit(X, Y)
    centres = warm.centers_.copy()
    with pytest.warns(ConvergenceWarning):
        warm.fit(X, Y)  # continues from the previous coefficients with the same centres
    np.testing.assert_array_equal(warm.centers_, centres)
    long = FalkonRegressor(max_iter=300, **{**kw, "tol": 1e-10}).fit(X, Y)
    err_warm = np.abs(warm.coef_ - long.coef_).max()
    err_cold = np.abs(cold.coef_ - long.coef_).max()
    assert err_warm < 0.5 * err_cold


def test_n_centers_clipped_with_warning(problem):
    X, Y, _, _ = problem
    with pytest.warns(NumericalWarning, match="n_centers"):
        model = FalkonRegressor(n_centers=1000, alpha=1.0, random_state=0).fit(X, Y)
    assert model.centers_.shape == X.shape


@pytest.mark.filterwarnings("ignore::kernelkit.exceptions.ConvergenceWarning")
def test_classifier_multiclass(rng):
    from kernelkit.datasets import make_gaussian_mixture

    X, y = make_gaussian_mixture(300, n_components=3, cluster_std=0.6, random_state=1)
    labels = np.array(["a", "b", "c"])[y]
    clf = FalkonClassifier(kernel=Gaussian(bandwidth=1.0), alpha=1e-2, n_centers=50,
                           random_state=0).fit(X, labels)
    assert list(clf.classes_) == ["a", "b", "c"]
    assert clf.score(X, labels) > 0.9
    P = clf.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.classes_[P.argmax(axis=1)], clf.predict(X))
    # one-vs-rest: each column is the regression on the +-1 indicator of its class
    kw = dict(kernel=Gaussian(bandwidth=1.0), alpha=1e-2, n_centers=50, tol=1e-11,
              max_iter=500, random_state=0)
    tight = FalkonClassifier(**kw).fit(X, labels)
    reg = FalkonRegressor(**kw).fit(X, np.where(y == 1, 1.0, -1.0))
    np.testing.assert_allclose(tight.decision_function(X)[:, 1], reg.predict(X), rtol=1e-6,
                               atol=1e-6)
    # calibration: better log-loss than the uncalibrated softmax of the scores
    from sklearn.metrics import log_loss

    S = clf.decision_function(X)
    raw = np.exp(S - S.max(axis=1, keepdims=True))
    raw /= raw.sum(axis=1, keepdims=True)
    assert log_loss(labels, P) <= log_loss(labels, raw) + 1e-12


def test_classifier_binary():
    from kernelkit.datasets import make_moons

    X, y = make_moons(200, noise=0.1, random_state=0)
    clf = FalkonClassifier(kernel=Gaussian(bandwidth=0.5), alpha=1e-3, n_centers=60,
                           random_state=0).fit(X, y)
    f = clf.decision_function(X)
    assert f.shape == (200,)
    np.testing.assert_array_equal(clf.predict(X), (f > 0).astype(int))
    P = clf.predict_proba(X)
    np.testing.assert_array_equal(P.argmax(axis=1), clf.predict(X))


def test_bad_input(problem):
    X, Y, _, _ = problem
    with pytest.raises(ValueError, match="alpha"):
        FalkonRegressor(alpha=-1.0).fit(X, Y)
    with pytest.raises(ValueError, match="centers"):
        FalkonRegressor(centers="kmeans").fit(X, Y)
    y = Y[:, 0].copy()
    y[0] = np.inf
    with pytest.raises(ValueError, match="infinity|inf"):
        FalkonRegressor().fit(X, y)
    copies = [X.copy(), Y.copy()]
    FalkonRegressor(n_centers=20, alpha=1.0, random_state=0).fit(X, Y).predict(X)
    np.testing.assert_array_equal(X, copies[0])
    np.testing.assert_array_equal(Y, copies[1])


def test_leverage_centres(rng):
    # a dense blob and a few isolated points: leverage sampling should pick the outliers
    X = np.vstack([0.01 * rng.normal(size=(400, 2)), rng.uniform(5, 50, size=(8, 2))])
    y = np.sin(X[:, 0])
    k = Gaussian(bandwidth=0.5)
    lev = FalkonRegressor(kernel=k, alpha=1e-2, n_centers=12, centers="leverage",
                          tol=1e-10, max_iter=100, random_state=0).fit(X, y)
    uni = FalkonRegressor(kernel=k, alpha=1e-2, n_centers=12, centers="uniform",
                          tol=1e-10, max_iter=100, random_state=0).fit(X, y)
    outlying = lambda C: int((np.abs(C) > 1).any(axis=1).sum())  # noqa: E731
    assert outlying(lev.centers_) >= 6 > outlying(uni.centers_)
    assert len({tuple(c) for c in lev.centers_}) == 12
    coef = _dense_nystrom(k, X, lev.centers_, y[:, None], 1e-2)[:, 0]
    np.testing.assert_allclose(lev.predict(X), k(X, lev.centers_) @ coef, rtol=1e-6,
                               atol=1e-7)
    assert np.abs(lev.predict(X) - y).mean() < np.abs(uni.predict(X) - y).mean()

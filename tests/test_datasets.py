"""Built-in data sets: shapes, dtypes, determinism by random_state, parameter errors."""

from __future__ import annotations

import numpy as np
import pytest

from kernelkit import datasets
from kernelkit.exceptions import ParameterError


@pytest.mark.parametrize("n", [2, 3, 101])
def test_moons_shapes_and_classes(n):
    X, y = datasets.make_moons(n, random_state=0)
    assert X.shape == (n, 2) and y.shape == (n,)
    assert X.dtype == np.float64 and y.dtype == np.int64
    assert int((y == 0).sum()) == n // 2 and int((y == 1).sum()) == n - n // 2


def test_moons_geometry_without_noise():
    X, y = datasets.make_moons(50, noise=0.0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(*upper.T), 1.0)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)


@pytest.mark.parametrize("make", [datasets.make_moons, datasets.make_gaussian_mixture])
def test_generators_are_deterministic(make):
    X1, y1 = make(120, random_state=7)
    X2, y2 = make(120, random_state=7)
    X3, _ = make(120, random_state=8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    X4, _ = make(120, random_state=np.random.default_rng(7))
    np.testing.assert_array_equal(X1, X4)


def test_gaussian_mixture_shapes_weights_and_dtype():
    X, y = datasets.make_gaussian_mixture(2000, n_components=3, n_features=5,
                                          weights=[0.0, 1.0, 3.0], random_state=0,
                                          dtype=np.float32)
    assert X.shape == (2000, 5) and X.dtype == np.float32
    counts = np.bincount(y, minlength=3)
    assert counts[0] == 0
    assert 0.2 < counts[1] / 2000 < 0.3


def test_gaussian_mixture_cluster_std_zero_puts_points_on_centres():
    X, y = datasets.make_gaussian_mixture(50, n_components=2, cluster_std=0.0,
                                          random_state=3)
    for c in (0, 1):
        pts = X[y == c]
        if len(pts):
            np.testing.assert_allclose(pts, np.broadcast_to(pts[0], pts.shape))


def test_loaders():
    X, y = datasets.load_iris(dtype=np.float32)
    assert X.shape == (150, 4) and X.dtype == np.float32 and set(y.tolist()) == {0, 1, 2}
    X, y = datasets.load_digits(n_class=3)
    assert X.shape[1] == 64 and set(y.tolist()) == {0, 1, 2}


@pytest.mark.parametrize("call, match", [
    (lambda: datasets.make_moons(1), "n_samples"),
    (lambda: datasets.make_moons(10.0), "n_samples"),
    (lambda: datasets.make_moons(10, noise=-1), "noise"),
    (lambda: datasets.make_moons(10, noise=float("nan")), "noise"),
    (lambda: datasets.make_moons(10, random_state="seed"), "random_state"),
    (lambda: datasets.make_moons(10, random_state=-1), "random_state"),
    (lambda: datasets.make_moons(10, dtype=np.int32), "dtype"),
    (lambda: datasets.make_gaussian_mixture(0), "n_samples"),
    (lambda: datasets.make_gaussian_mixture(10, n_components=0), "n_components"),
    (lambda: datasets.make_gaussian_mixture(10, n_features=True), "n_features"),
    (lambda: datasets.make_gaussian_mixture(10, cluster_std=-0.1), "cluster_std"),
    (lambda: datasets.make_gaussian_mixture(10, center_box=(1, 1)), "center_box"),
    (lambda: datasets.make_gaussian_mixture(10, center_box=3), "center_box"),
    (lambda: datasets.make_gaussian_mixture(10, n_components=2, weights=[1, 2, 3]),
     "weights"),
    (lambda: datasets.make_gaussian_mixture(10, n_components=2, weights=[-1, 2]), "weights"),
    (lambda: datasets.load_digits(n_class=11), "n_class"),
    (lambda: datasets.load_iris(dtype="float16"), "dtype"),
])
def test_bad_parameters(call, match):
    with pytest.raises(ParameterError, match=match):
        call()


# ---------------------------------------------------------------- make_smooth_regression
def test_smooth_regression_noise_and_seed():
    X, y = datasets.make_smooth_regression(20_000, 3, noise=0.2, random_state=1)
    assert X.shape == (20_000, 3) and y.shape == (20_000,)
    resid = y - datasets.smooth_target(X)
    assert abs(resid.std() - 0.2) < 0.01 and abs(resid.mean()) < 0.01
    X2, y2 = datasets.make_smooth_regression(20_000, 3, noise=0.2, random_state=1)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X0, y0 = datasets.make_smooth_regression(50, 2, noise=0.0, random_state=0,
                                             dtype=np.float32)
    assert X0.dtype == y0.dtype == np.float32
    np.testing.assert_allclose(y0, datasets.smooth_target(X0), rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_samples": 0}, "n_samples"),
    ({"n_features": 0}, "n_features"),
    ({"noise": -0.1}, "noise"),
    ({"dtype": np.int64}, "dtype"),
])
def test_smooth_regression_bad_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        datasets.make_smooth_regression(**kwargs)

"""Mean shift against a dense oracle, deduplication and the random-projection variant."""

from __future__ import annotations

import numpy as np
import pytest

from kernelkit.density import KernelDensity, mean_shift, projection_dimension
from kernelkit.exceptions import ParameterError


def _dense_shift(Z, X, h, w):
    """One mean-shift step, dense numpy (the oracle)."""
    s = np.sum(((Z[:, None, :] - X[None]) / h) ** 2, axis=2)
    k = np.exp(-0.5 * s) * w
    return (k @ X) / k.sum(axis=1, keepdims=True)


def test_modes_are_fixed_points_of_dense_mean_shift(rng):
    centres = np.array([[-4.0, 0.0], [4.0, 0.0], [0.0, 5.0]])
    X = np.concatenate([c + 0.6 * rng.normal(size=(150, 2)) for c in centres])
    w = rng.uniform(0.5, 1.5, size=X.shape[0])
    res = mean_shift(X, bandwidth=0.6, weights=w, tol=1e-8)
    assert res.modes.shape == (3, 2)
    np.testing.assert_allclose(_dense_shift(res.modes, X, 0.6, w), res.modes, atol=1e-6)
    order = np.argsort(res.modes[:, 0] + 10 * res.modes[:, 1])
    np.testing.assert_allclose(res.modes[order], centres[[0, 1, 2]], atol=0.3)
    assert np.all(np.diff(res.log_density) <= 0)  # sorted by decreasing density
    assert res.labels.shape == res.seeds.shape


def test_kde_modes_method(rng):
    X = np.concatenate([rng.normal(-3, 0.5, (100, 1)), rng.normal(3, 0.5, (100, 1))])
    modes = KernelDensity(bandwidth=0.5).fit(X).modes()
    np.testing.assert_allclose(np.sort(modes[:, 0]), [-3, 3], atol=0.2)


def test_random_projection_finds_a_near_maximal_mode(rng):
    d, n = 60, 300
    centres = rng.normal(size=(3, d)) * 3
    X = np.concatenate([c + rng.normal(size=(n // 3, d)) for c in centres])
    X[: n // 3] = centres[0] + 0.6 * rng.normal(size=(n // 3, d))  # the densest cluster
    h = 2.0
    full = mean_shift(X, bandwidth=h, random_state=0)
    proj = mean_shift(X, bandwidth=h, n_components=30, random_state=0)
    assert proj.n_components == 30
    # Density of the best projected-and-lifted mode relative to the full search's best.
    ratio = np.exp(proj.log_density[0] - full.log_density[0])
    assert ratio > 0.5


def test_projection_dimension():
    assert projection_dimension(10_000, 0.5) == int(np.ceil(4 * np.log(10_000) / 0.25))
    with pytest.raises(ParameterError):
        projection_dimension(10, 1.5)


def test_mean_shift_errors(rng):
    X = rng.normal(size=(20, 2))
    with pytest.raises(ParameterError, match="gaussian"):
        mean_shift(X, bandwidth=1.0, kernel="tophat")
    with pytest.raises(ParameterError, match="bandwidth"):
        mean_shift(X, bandwidth=0.0)
    with pytest.raises(ParameterError, match="n_components"):
        mean_shift(X, bandwidth=1.0, n_components=0)

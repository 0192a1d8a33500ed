"""grid_density against the exact KDE, with the documented error bound."""

from __future__ import annotations

import numpy as np
import pytest

from kernelkit.density import KernelDensity, grid_density
from kernelkit.density._binning import linear_binning
from kernelkit.exceptions import ParameterError


def test_linear_binning_keeps_weight_and_mean(rng):
    X = rng.uniform(0, 1, size=(500, 2))
    w = rng.uniform(size=500)
    axes = [np.linspace(-0.1, 1.1, 13), np.linspace(-0.2, 1.2, 9)]
    counts = linear_binning(X, axes, w)
    assert counts.shape == (13, 9)
    assert np.isclose(counts.sum(), w.sum())
    mesh = np.meshgrid(*axes, indexing="ij")
    for k in range(2):
        assert np.isclose((counts * mesh[k]).sum() / w.sum(), np.average(X[:, k], weights=w))


@pytest.mark.parametrize("d,size", [(1, 400), (2, 80), (3, 40)])
def test_error_within_bound(d, size, rng):
    X = rng.normal(size=(300, d))
    w = rng.uniform(0.5, 1.5, size=300)
    h = np.full(d, 0.5)
    res = grid_density(X, grid_size=size, bandwidth=h, weights=w)
    mesh = np.stack(np.meshgrid(*res.axes, indexing="ij"), axis=-1).reshape(-1, d)
    exact = np.exp(KernelDensity(bandwidth=h).fit(X, sample_weight=w).score_samples(mesh))
    err = np.max(np.abs(res.density.ravel() - exact))
    assert err <= res.error_bound
    assert err > 0  # binning does change the values: the bound is not vacuous here
    assert err < 0.05 * exact.max()


def test_integrates_to_one_and_unpacks(rng):
    X = rng.normal(size=(1000, 2))
    axes, density = grid_density(X, grid_size=(64, 48), bandwidth="scott")
    cell = (axes[0][1] - axes[0][0]) * (axes[1][1] - axes[1][0])
    assert density.shape == (64, 48)
    assert abs(density.sum() * cell - 1) < 1e-3


def test_other_kernel_runs(rng):
    X = rng.normal(size=(200, 1))
    res = grid_density(X, grid_size=512, bandwidth=0.5, kernel="epanechnikov")
    exact = np.exp(KernelDensity(kernel="epanechnikov", bandwidth=0.5).fit(X)
                   .score_samples(res.axes[0][:, None]))
    assert np.max(np.abs(res.density - exact)) < 0.02 * exact.max()


def test_grid_errors(rng):
    with pytest.raises(ParameterError, match="method='exact'"):
        grid_density(rng.normal(size=(10, 4)), bandwidth=1.0)
    with pytest.raises(ParameterError, match="grid_size"):
        grid_density(rng.normal(size=(10, 2)), grid_size=1, bandwidth=1.0)
    with pytest.raises(ParameterError, match="bandwidth"):
        grid_density(rng.normal(size=(10, 2)), bandwidth=-1.0)

"""Bandwidth selectors: formulas, equivariance, ISJ against the normal reference, CV."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logsumexp as dense_lse

from kernelkit.density import (
    KernelDensity,
    cv_bandwidth,
    isj_bandwidth,
    scott_bandwidth,
    select_bandwidth,
    silverman_bandwidth,
)
from kernelkit.density._bandwidth import loo_log_density
from kernelkit.density._kernels import resolve_kernel
from kernelkit.exceptions import InputValueError, ParameterError


def test_scott_and_silverman_formulas(rng):
    X = rng.normal(size=(400, 3)) * [1.0, 2.0, 5.0]
    sd = X.std(axis=0, ddof=1)
    np.testing.assert_allclose(scott_bandwidth(X), sd * 400 ** (-1 / 7), rtol=1e-12)
    iqr = np.subtract(*np.percentile(X, [75, 25], axis=0)) / 1.3489795003921634
    expected = np.minimum(sd, iqr) * (4 / 5) ** (1 / 7) * 400 ** (-1 / 7)
    np.testing.assert_allclose(silverman_bandwidth(X), expected, rtol=1e-12)


@pytest.mark.parametrize("name", ["scott", "silverman", "isj", "cv"])
def test_selectors_are_scale_equivariant(name, rng):
    x = np.concatenate([rng.normal(-2, 1, 300), rng.normal(3, 0.5, 200)])[:, None]
    a = select_bandwidth(name, x)
    b = select_bandwidth(name, 1000.0 * x)
    np.testing.assert_allclose(b, 1000.0 * a, rtol=1e-6)


def test_isj_matches_normal_reference_optimum():
    """Independent check: for normal data ISJ is consistent for the AMISE-optimal
    bandwidth (4 / 3n)^(1/5) sigma; at n = 1e5 its sampling error is about 2%."""
    x = np.random.default_rng(7).normal(size=100_000) * 3.0
    h = isj_bandwidth(x)[0]
    assert abs(h / (3.0 * (4 / (3 * 100_000)) ** 0.2) - 1) < 0.05


def test_isj_does_not_depend_on_grid_padding(rng, monkeypatch):
    x = rng.standard_t(4, size=3000)
    a = isj_bandwidth(x)[0]
    b = isj_bandwidth(x, grid_size=4096)[0]
    assert abs(a / b - 1) < 1e-2


def test_isj_kdepy_convention_relation(rng):
    """KDEpy scales by the data range instead of the grid width (its issue #199)."""
    x = rng.normal(size=5000) * 4.0  # range > 12: KDEpy pads by half the range
    span = np.ptp(x)
    kdepy = isj_bandwidth(x, convention="kdepy")[0]
    botev = isj_bandwidth(x)[0]
    assert abs(kdepy / (botev * span / (2 * span)) - 1) < 1e-6


def test_isj_per_feature_and_weights(rng):
    X = np.column_stack([rng.normal(size=2000), 10 * rng.normal(size=2000)])
    h = isj_bandwidth(X)
    np.testing.assert_allclose(h, [isj_bandwidth(X[:, 0])[0], isj_bandwidth(X[:, 1])[0]])
    w = np.ones(2000)
    w[:1000] = 0.0
    np.testing.assert_allclose(isj_bandwidth(X, w), isj_bandwidth(X[1000:]))


def test_isj_constant_data_error():
    with pytest.raises(InputValueError, match="constant data.*numeric bandwidth"):
        isj_bandwidth(np.full(50, 3.0))


def _naive_loo(X, h, w=None):
    """Leave-one-out Gaussian log-density, by dropping each point (dense oracle)."""
    n, d = X.shape
    w = np.ones(n) if w is None else w
    out = np.empty(n)
    for i in range(n):
        keep = np.arange(n) != i
        s = np.sum(((X[keep] - X[i]) / h) ** 2, axis=1)
        out[i] = (dense_lse(-0.5 * s, b=w[keep]) - math.log(w[keep].sum())
                  - np.sum(np.log(h)) - 0.5 * d * math.log(2 * math.pi))
    return out


@pytest.mark.parametrize("h", [0.5, 0.02])  # 0.02: isolated points, the exact fallback
def test_loo_matches_refitting_oracle(h, rng):
    X = rng.normal(size=(120, 2))
    w = rng.uniform(0.5, 2.0, size=120)
    dk = resolve_kernel("gaussian", 2)
    hh = np.array([h, h])
    np.testing.assert_allclose(loo_log_density(dk, X, w, hh, 1.0), _naive_loo(X, hh, w),
                               rtol=1e-10)


def test_cv_picks_the_best_candidate(rng):
    X = rng.normal(size=(150, 1))
    best, cands, scores = cv_bandwidth(X, factors=[0.2, 0.5, 1.0, 2.0], return_scores=True)
    naive = [np.mean(_naive_loo(X, c)) for c in cands]
    np.testing.assert_allclose(scores, naive, rtol=1e-10)
    np.testing.assert_array_equal(best, cands[int(np.argmax(naive))])


def test_selector_errors(rng):
    with pytest.raises(ParameterError, match="unknown bandwidth selector"):
        select_bandwidth("nope", rng.normal(size=(5, 1)))
    with pytest.raises(InputValueError, match="constant"):
        scott_bandwidth(np.ones((10, 2)))
    with pytest.raises(ParameterError, match="factors"):
        cv_bandwidth(rng.normal(size=(10, 1)), factors=[-1.0])


def test_kde_uses_selector(rng):
    X = rng.normal(size=(200, 2))
    kde = KernelDensity(bandwidth="silverman").fit(X)
    np.testing.assert_allclose(kde.bandwidth_, silverman_bandwidth(X))


def test_loo_on_a_subset_of_rows_matches_oracle(rng):
    X = rng.normal(size=(150, 2))
    w = rng.uniform(0.5, 2.0, size=150)
    rows = np.array([3, 40, 41, 149])
    dk = resolve_kernel("gaussian", 2)
    hh = np.array([0.3, 0.3])
    np.testing.assert_allclose(loo_log_density(dk, X, w, hh, 1.0, rows),
                               _naive_loo(X, hh, w)[rows], rtol=1e-10)


def test_cv_max_samples(rng):
    X = rng.normal(size=(300, 1))
    full = cv_bandwidth(X, factors=[0.3, 1.0], return_scores=True)
    same = cv_bandwidth(X, factors=[0.3, 1.0], max_samples=300, return_scores=True)
    np.testing.assert_allclose(full[2], same[2])
    sub = cv_bandwidth(X, factors=[0.3, 1.0], max_samples=100, return_scores=True)
    assert np.all(np.isfinite(sub[2]))
    with pytest.raises(ParameterError, match="max_samples"):
        cv_bandwidth(X, max_samples=0)

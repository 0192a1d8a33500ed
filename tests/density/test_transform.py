"""KernelDensityTransformer: limits (min-max, empirical CDF), oracle, sklearn checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr
from sklearn.utils.estimator_checks import parametrize_with_checks

from kernelkit.density import KernelDensityTransformer


def test_large_bandwidth_tends_to_min_max(rng):
    X = rng.exponential(size=(200, 3)) * [1, 5, 100]
    Q = X[:50]
    minmax = (Q - X.min(axis=0)) / (X.max(axis=0) - X.min(axis=0))
    errors = [np.max(np.abs(KernelDensityTransformer(bandwidth=b).fit(X).transform(Q) - minmax))
              for b in (10.0, 100.0, 1000.0)]
    assert errors[2] < 1e-4
    assert errors[0] > errors[1] > errors[2]  # converging


def test_small_bandwidth_tends_to_empirical_cdf(rng):
    X = rng.normal(size=(300, 2))
    n = X.shape[0]
    rank = X.argsort(axis=0).argsort(axis=0)  # no ties in continuous data
    ecdf = (rank + 0.5) / n
    expected = (ecdf - 0.5 / n) / (1 - 1 / n)
    out = KernelDensityTransformer(bandwidth=1e-9).fit(X).transform(X)
    np.testing.assert_allclose(out, expected, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_dense_oracle(dtype, rng):
    X = rng.normal(size=(100, 2)).astype(dtype)
    Q = (rng.normal(size=(20, 2)) * 1.5).astype(dtype)
    t = KernelDensityTransformer(bandwidth=0.3).fit(X)
    out = t.transform(Q)
    assert out.dtype == dtype
    X64 = X.astype(np.float64)
    h = 0.3 * X64.std(axis=0)

    def cdf(x, k):
        return ndtr((x[:, None] - X64[None, :, k]) / h[k]).mean(axis=1)

    for k in range(2):
        lo, hi = cdf(np.array([X64[:, k].min(), X64[:, k].max()]), k)
        expected = np.clip((cdf(Q[:, k].astype(np.float64), k) - lo) / (hi - lo), 0, 1)
        np.testing.assert_allclose(out[:, k], expected, atol=10 * np.finfo(dtype).eps)


@parametrize_with_checks([KernelDensityTransformer(), KernelDensityTransformer(kernel="tophat")])
def test_sklearn_compatible(estimator, check):
    check(estimator)

"""Fixtures and dense oracles for the kernel-test statistics."""

from __future__ import annotations

import numpy as np
import pytest

from kernelkit.testing import naive_kernel_matrix


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


def dense_mmd2(kernel, X, Y, estimator="unbiased", wx=None, wy=None):
    """Squared MMD from dense float64 kernel matrices (the oracle)."""
    Kxx = naive_kernel_matrix(kernel, X)
    Kyy = naive_kernel_matrix(kernel, Y)
    Kxy = naive_kernel_matrix(kernel, X, Y)
    nx, ny = len(X), len(Y)
    wx = np.full(nx, 1 / nx) if wx is None else np.asarray(wx, float) / np.sum(wx)
    wy = np.full(ny, 1 / ny) if wy is None else np.asarray(wy, float) / np.sum(wy)
    if estimator == "biased":
        return wx @ Kxx @ wx + wy @ Kyy @ wy - 2 * wx @ Kxy @ wy
    ox = (wx @ Kxx @ wx - np.sum(wx**2 * np.diag(Kxx))) / (1 - wx @ wx)
    oy = (wy @ Kyy @ wy - np.sum(wy**2 * np.diag(Kyy))) / (1 - wy @ wy)
    return ox + oy - 2 * wx @ Kxy @ wy


def dense_hsic(kx, ky, X, Y, perm=None):
    """tr(KHLH)/n² from dense float64 matrices; ``perm`` permutes the rows of Y."""
    n = len(X)
    Y = Y if perm is None else Y[perm]
    H = np.eye(n) - 1.0 / n
    K = naive_kernel_matrix(kx, X)
    L = naive_kernel_matrix(ky, Y)
    return np.trace(K @ H @ L @ H) / n**2


def dense_gamma(kx, ky, X, Y):
    """Gretton et al. (2008) Gamma null parameters of n HSIC_b, densely (matlab recipe)."""
    n = len(X)
    H = np.eye(n) - 1.0 / n
    K = naive_kernel_matrix(kx, X)
    L = naive_kernel_matrix(ky, Y)
    Kc, Lc = H @ K @ H, H @ L @ H
    stat = np.sum(Kc * Lc) / n
    v = (Kc * Lc / 6) ** 2
    var = (v.sum() - np.trace(v)) / (n * (n - 1))
    var *= 72 * (n - 4) * (n - 5) / (n * (n - 1) * (n - 2) * (n - 3))
    mx = (K.sum() - np.trace(K)) / (n * (n - 1))
    my = (L.sum() - np.trace(L)) / (n * (n - 1))
    mean = (np.mean(np.diag(K)) - mx) * (np.mean(np.diag(L)) - my) / n
    return stat / n, mean**2 / var, var * n / mean

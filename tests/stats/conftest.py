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

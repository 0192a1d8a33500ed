"""Shared data for the regression tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


@pytest.fixture
def problem(rng):
    """A small, well-conditioned regression problem with two targets and weights."""
    X = rng.normal(size=(120, 3))
    y = np.sin(X).sum(axis=1) + 0.1 * rng.normal(size=120)
    Y = np.column_stack([y, np.cos(X[:, 0])])
    sw = rng.uniform(0.0, 2.0, size=120)
    Xq = rng.normal(size=(30, 3))
    return X, Y, sw, Xq

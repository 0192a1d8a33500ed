"""Fixtures for the density tests."""

from __future__ import annotations

import numpy as np
import pytest

from kernelkit.density import _exact


@pytest.fixture
def rng():
    return np.random.default_rng(2024)


@pytest.fixture
def force_pruning(monkeypatch):
    """Let the pruned exact path run on small inputs (many small blocks and cells)."""
    monkeypatch.setattr(_exact, "MIN_POINTS", 1)
    monkeypatch.setattr(_exact, "BLOCK", 8)
    monkeypatch.setattr(_exact, "PILOT", 64)
    monkeypatch.setattr(_exact, "MAX_WORK_FRACTION", 1.01)  # always take the block path

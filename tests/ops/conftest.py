"""Fixtures for the engine tests."""

from __future__ import annotations

import numpy as np
import pytest

import kernelkit
from kernelkit.ops import plan


@pytest.fixture(params=["default", "tiled"])
def tiling(request, monkeypatch):
    """Run each test once as planned, and once forced onto many tiny tiles and threads.

    The second run makes small inputs exercise the multi-threaded, multi-tile paths
    (several column tiles per row, partial last tiles, several tasks per worker).
    """
    if request.param == "tiled":
        monkeypatch.setattr(plan, "SERIAL_WORK", 0)
        monkeypatch.setattr(plan, "TILE_COLS", 16)
        monkeypatch.setattr(plan, "TILE_ROWS", 8)
        monkeypatch.setattr(plan, "MIN_TILE_COLS", 4)
        with kernelkit.config_context(n_jobs=2, working_memory=0.01):
            yield request.param
    else:
        yield request.param


@pytest.fixture
def rng():
    return np.random.default_rng(12345)

"""Tile planning: how many rows and columns a worker handles at once.

Sizes derive from the ``working_memory`` budget (see :func:`kernelkit.config_context`),
shared by the worker threads, so peak scratch memory is bounded whatever n and m are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .._config import effective_n_jobs, get_config

__all__ = ["Plan", "make_plan", "DIRECT_MAX_FEATURES"]

#: Up to this many features, distances are computed by a fused direct loop; above it,
#: the cross term x.y comes from BLAS on the tile.
DIRECT_MAX_FEATURES = 12
#: Below this many pair-features (n * m * d), run in the calling thread: threads cost more
#: than they save on tiny problems.
SERIAL_WORK = 2_000_000
#: Preferred tile shape (rows x columns): about an L2 cache of float32 values.
TILE_ROWS = 256
TILE_COLS = 2048
MIN_TILE_COLS = 64


@dataclass(frozen=True)
class Plan:
    """How a reduction is split into tasks and tiles.

    Attributes
    ----------
    mode : {"direct", "gemm"}
        Fused distance loop, or BLAS cross term per tile.
    n_workers : int
        Threads used (1 means the calling thread only).
    rows_per_task : int
        Rows of X each task handles.
    tile_rows, tile_cols : int
        Shape of one scratch tile (GEMM mode and many right-hand sides).
    scratch_bytes : int
        Upper bound of scratch memory summed over workers.
    """

    mode: str
    n_workers: int
    rows_per_task: int
    tile_rows: int
    tile_cols: int
    scratch_bytes: int

    @property
    def tasks(self) -> int:  # pragma: no cover - informational
        return self.n_workers


def make_plan(n: int, m: int, d: int, itemsize: int, *, needs_tile: bool,
              direct_ok: bool = True) -> Plan:
    """Choose a tiling for an (n x m) reduction over d features.

    Parameters
    ----------
    n, m, d : int
        Rows of X, rows of Y, features.
    itemsize : int
        Bytes per value of the working dtype.
    needs_tile : bool
        Whether each worker needs a full (tile_rows x tile_cols) scratch tile (GEMM mode
        or many right-hand sides); otherwise only a column buffer.
    direct_ok : bool, default=True
        Whether the fused direct loop may be used for small d.

    Returns
    -------
    plan : Plan
    """
    mode = "direct" if (direct_ok and d <= DIRECT_MAX_FEATURES) else "gemm"
    workers = effective_n_jobs()
    if n * m * max(d, 1) < SERIAL_WORK or n < 2:
        workers = 1
    workers = max(1, min(workers, n))
    budget = get_config()["working_memory"] * 2**20 / workers
    tile_cols = min(m, TILE_COLS)
    tile_rows = min(n, TILE_ROWS)
    if mode == "gemm" or needs_tile:
        # T tile + one row buffer per worker.
        while tile_rows * tile_cols * itemsize + tile_cols * itemsize > budget:
            if tile_rows > 8:
                tile_rows //= 2
            elif tile_cols > MIN_TILE_COLS:
                tile_cols //= 2
            else:
                break
        per_worker = (tile_rows + 1) * tile_cols * itemsize
    else:
        while tile_cols * itemsize > budget and tile_cols > MIN_TILE_COLS:
            tile_cols //= 2
        per_worker = tile_cols * itemsize
    # Enough tasks for load balance (4 per worker), whole GEMM tiles per task.
    rows_per_task = max(1, math.ceil(n / (4 * workers)))
    if mode == "gemm" or needs_tile:
        rows_per_task = tile_rows * max(1, rows_per_task // tile_rows)
    return Plan(mode, workers, rows_per_task, tile_rows, tile_cols, per_worker * workers)

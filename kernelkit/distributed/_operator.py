"""Products of a :class:`~kernelkit.KernelOperator` whose X or Y is a Dask array."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._optional import import_optional
from .._validation import is_dask
from ..kernels._base import Kernel
from . import _engine
from ._client import active_client
from ._map import map_row_chunks, share

__all__ = ["DaskProducts"]


def _diag_task(X: np.ndarray, *, kernel: Kernel) -> np.ndarray:
    return np.asarray(kernel._diag(X, np))


class DaskProducts:
    """The distributed side of a KernelOperator: X stays on the cluster, vectors do not.

    X (row-chunked) is persisted on the cluster when a ``distributed.Client`` is active
    and Y is placed on every worker once, so each product inside an iterative solver
    only ships the vector (O(m k)) and the result (O(n k)).

    Parameters
    ----------
    kernel : Kernel
    X : dask array or array-like of shape (n, d)
        An in-memory X (the transpose of an operator with a Dask Y) is split into as
        many row chunks as Y has.
    Y : dask array or array-like of shape (m, d), or None
    """

    def __init__(self, kernel: Kernel, X: Any, Y: Any) -> None:
        if not is_dask(X):
            da = import_optional("dask.array")
            X = np.asarray(X)
            parts = max(2, Y.numblocks[0]) if is_dask(Y) else 2
            X = da.from_array(X, chunks=(max(1, math.ceil(X.shape[0] / parts)), -1))
        X, Y = _engine._check_inputs(kernel, X, Y, {})
        dtype = _engine._result_dtype(X, Y)
        X, Y = _engine._cast(X, dtype), _engine._cast(Y, dtype)
        client = active_client()
        if client is not None:
            X = client.persist(X)
        self.kernel = kernel
        self.X = X
        self.Y = X if Y is None else Y
        self.dtype = dtype
        self.shape = (X.shape[0], self.Y.shape[0])
        self._Y_handle = share(self.Y, persist=True)
        self._diag: np.ndarray | None = None

    def matmat(self, V: np.ndarray) -> np.ndarray:
        """K @ V for an in-memory V of shape (m, k), computed on the cluster."""
        # V is small (m x k): one graph key travels with the graph, no extra round trip.
        V_key = import_optional("dask").delayed(V, pure=False)
        out = map_row_chunks(_engine._matvec_task, self.X, self._Y_handle, V_key,
                             dtype=self.dtype, tail=(V.shape[1],),
                             name="kernelkit-operator-matvec", kernel=self.kernel)
        return np.asarray(out.compute())

    def diag(self) -> np.ndarray:
        """k(x_i, x_i) for every row of X (computed once, then cached)."""
        if self._diag is None:
            out = map_row_chunks(_diag_task, self.X, dtype=self.dtype,
                                 name="kernelkit-operator-diag", kernel=self.kernel)
            self._diag = np.asarray(out.compute(), dtype=self.dtype)
        return self._diag

    def dense_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """X and Y gathered in memory (for ``to_dense`` on small problems)."""
        X = np.asarray(self.X.compute())
        Y = X if self.Y is self.X else np.asarray(
            self.Y.compute() if is_dask(self.Y) else self.Y)
        return X, Y

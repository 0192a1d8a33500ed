"""Dask inputs for the density estimators: checks shared by the estimators' Dask paths.

Fitting needs every fitted point in memory (the points are the model, and each worker
needs all of them), so Dask arrays are refused at fit with a remedy; queries may be Dask
arrays and are scored on the cluster, one pure task per row chunk (see
:func:`kernelkit.distributed.map_row_chunks`). Nothing here imports dask unless a Dask
array is passed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._optional import import_optional
from .._validation import is_dask
from ..exceptions import InputTypeError, InputValueError, ShapeError

__all__ = ["reject_dask_fit", "check_dask_queries"]


def reject_dask_fit(owner: str, **arrays: Any) -> None:
    """Raise InputTypeError if any fit argument is a Dask array, saying what to do."""
    for name, value in arrays.items():
        if is_dask(value):
            raise InputTypeError(
                f"{owner}.fit got a Dask array as {name}; the fitted points are the model "
                "itself and every worker needs all of them, so fit on an in-memory array: "
                f"{name}.compute() if it fits in memory, or a subsample. Queries may be "
                "Dask arrays: they are scored on the cluster.")


def check_dask_queries(X: Any, n_features: int, owner: str) -> Any:
    """Check a Dask query array on the client (shape, chunks, dtype); values are checked
    by each task. Returns X as float32 or float64 (other real types become float64)."""
    da = import_optional("dask.array")
    if not isinstance(X, da.Array):
        raise InputTypeError(
            f"X is a {type(X).__name__} from dask; pass a dask.array.Array (for a Dask "
            "DataFrame: df.to_dask_array(lengths=True)).")
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ShapeError(
            f"X has shape {X.shape}, but {owner} was fitted on {n_features} features; pass "
            f"an array of shape (n_queries, {n_features}).")
    if any(math.isnan(c) for c in X.chunks[0]):
        raise InputValueError(
            f"X has unknown chunk sizes (shape {X.shape}); call "
            "X = X.compute_chunk_sizes() first.")
    if np.dtype(X.dtype).kind not in "biuf":
        raise InputTypeError(
            f"X has dtype {X.dtype}, which is not a real number type; pass float32 or "
            "float64 data.")
    if X.dtype in (np.float32, np.float64):
        return X
    return X.astype(np.float64)

"""The engine's reductions on Dask arrays: one pure engine call per row chunk of X.

``kernelkit.matvec`` (and ``kernel_sum``, ``logsumexp``, ``knn``) send Dask inputs here.
Shapes, dtypes and every in-memory argument are checked on the client before any graph
is built; the values inside Dask arrays are checked by the engine call of each task (a
NaN in a chunk raises when the result is computed).
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .._optional import import_optional
from .._validation import check_array, is_dask, is_torch
from ..exceptions import InputTypeError, InputValueError, ParameterError, ShapeError
from ..kernels._base import Kernel
from ..ops import reduce
from ._map import map_row_chunks, share

__all__ = ["matvec", "kernel_sum", "logsumexp", "knn"]


# ------------------------------------------------------------------------- validation
def _float_dtype(dtype: Any, name: str) -> np.dtype:
    dt = np.dtype(dtype)
    if dt.kind in "biu":
        return np.dtype(np.float64)
    if dt.kind == "f":
        return dt if dt in (np.float32, np.float64) else np.dtype(np.float64)
    raise InputTypeError(f"{name} has dtype {dt}, which is not numeric; "
                         "pass float32 or float64 data (convert strings/objects first).")


def _check_dask(A: Any, name: str, ndim: tuple[int, ...]) -> Any:
    da = import_optional("dask.array")
    if not isinstance(A, da.Array):
        raise InputTypeError(
            f"{name} is a {type(A).__name__} from dask; pass a dask.array.Array "
            "(for a Dask DataFrame: df.to_dask_array(lengths=True)).")
    if A.ndim not in ndim:
        wanted = " or ".join(f"{k}-D" for k in ndim)
        raise ShapeError(f"{name} must be {wanted}, got {A.ndim}-D (shape {A.shape}).")
    if any(np.isnan(c) for dim in A.chunks for c in dim):
        raise InputValueError(
            f"{name} has unknown chunk sizes (shape {A.shape}); call "
            f"{name} = {name}.compute_chunk_sizes() first (or to_dask_array(lengths=True)).")
    if A.shape[0] == 0 or (A.ndim == 2 and A.shape[1] == 0):
        raise InputValueError(f"{name} is empty (shape {A.shape}); pass at least one "
                              "sample and one feature.")
    dtype = _float_dtype(A.dtype, name)
    return A if A.dtype == dtype else A.astype(dtype)


def _check_side(A: Any, name: str, ndim: tuple[int, ...]) -> Any:
    """Y, V or weights: a Dask array (checked lazily) or in-memory (checked now)."""
    if A is None:
        return None
    if is_torch(A):
        raise InputTypeError(
            f"{name} is a torch tensor but X is a Dask array; pass numpy or Dask arrays "
            "with Dask inputs.")
    if is_dask(A):
        return _check_dask(A, name, ndim)
    return check_array(A, name, ndim=ndim)


def _check_inputs(kernel: Kernel | None, X: Any, Y: Any,
                  others: dict[str, Any]) -> tuple[Any, Any]:
    if not is_dask(X):
        dask_args = [n for n, a in [("Y", Y), *others.items()] if is_dask(a)]
        verb = "is a Dask array" if len(dask_args) == 1 else "are Dask arrays"
        raise InputTypeError(
            f"{' and '.join(dask_args)} {verb} but X is a {type(X).__name__}. "
            "The work is split over the rows of X, so "
            "pass X as a Dask array too (dask.array.from_array(X, chunks=(rows, -1))), "
            "or pass every argument in memory (.compute()).")
    X = _check_dask(X, "X", (2,))
    if X.numblocks[1] > 1:  # one block of columns per row chunk (documented)
        X = X.rechunk({1: -1})
    Y = _check_side(Y, "Y", (2,))
    if Y is not None and Y.shape[1] != X.shape[1]:
        raise ShapeError(f"X has {X.shape[1]} features but Y has {Y.shape[1]}; "
                         "both must have the same number of columns.")
    if kernel is not None:
        kernel._check_n_features(X.shape[1])
    return X, Y


def _rows(A: Any, name: str, m: int) -> None:
    if A.shape[0] != m:
        raise ShapeError(f"{name} has {A.shape[0]} rows but Y has {m}; "
                         f"{name} needs one row per row of Y.")


def _result_dtype(*arrays: Any) -> np.dtype:
    dtypes = {np.dtype(a.dtype) for a in arrays if a is not None}
    return dtypes.pop() if len(dtypes) == 1 else np.dtype(np.float64)


def _cast(A: Any, dtype: np.dtype) -> Any:
    return A if A is None or A.dtype == dtype else A.astype(dtype)


# ------------------------------------------------------------------------- tasks
def _matvec_task(X: np.ndarray, Y: np.ndarray, V: np.ndarray, *, kernel: Kernel) -> Any:
    return reduce.matvec(kernel, X, Y, V)


def _kernel_sum_task(X: np.ndarray, Y: np.ndarray, *w: np.ndarray, kernel: Kernel) -> Any:
    return reduce.kernel_sum(kernel, X, Y, w[0] if w else None)


def _logsumexp_task(X: np.ndarray, Y: np.ndarray, *w: np.ndarray, kernel: Kernel) -> Any:
    return reduce.logsumexp(kernel, X, Y, w[0] if w else None)


def _knn_task(X: np.ndarray, Y: np.ndarray, *, k: int) -> np.ndarray:
    # One array per task: distances then indices, both exact in float64 (indices < 2**53).
    dist, idx = reduce.knn(X, Y, k)
    return np.concatenate([dist.astype(np.float64), idx.astype(np.float64)], axis=1)


# ------------------------------------------------------------------------- reductions
def matvec(kernel: Kernel, X: Any, Y: Any, V: Any) -> Any:
    """``kernelkit.matvec`` for Dask X: see that function; returns a Dask array."""
    kernel = reduce._check_kernel(kernel)
    X, Y = _check_inputs(kernel, X, Y, {"V": V})
    m = X.shape[0] if Y is None else Y.shape[0]
    V = _check_side(V, "V", (1, 2))
    _rows(V, "V", m)
    dtype = _result_dtype(X, Y, V)
    X, Y, V = (_cast(A, dtype) for A in (X, Y, V))
    tail = tuple(V.shape[1:])
    return map_row_chunks(_matvec_task, X, share(X if Y is None else Y), share(V),
                          dtype=dtype, tail=tail, name="kernelkit-matvec", kernel=kernel)


def kernel_sum(kernel: Kernel, X: Any, Y: Any = None, weights: Any = None) -> Any:
    """``kernelkit.kernel_sum`` for Dask X: see that function; returns a Dask array."""
    kernel = reduce._check_kernel(kernel)
    X, Y = _check_inputs(kernel, X, Y, {"weights": weights})
    m = X.shape[0] if Y is None else Y.shape[0]
    w = _check_side(weights, "weights", (1,))
    if w is not None:
        _rows(w, "weights", m)
    dtype = _result_dtype(X, Y, w)
    X, Y, w = (_cast(A, dtype) for A in (X, Y, w))
    extra = () if w is None else (share(w),)
    return map_row_chunks(_kernel_sum_task, X, share(X if Y is None else Y), *extra,
                          dtype=dtype, name="kernelkit-kernel_sum", kernel=kernel)


def logsumexp(kernel: Kernel, X: Any, Y: Any = None, weights: Any = None) -> Any:
    """``kernelkit.logsumexp`` for Dask X: see that function; returns a Dask array."""
    kernel = reduce._check_kernel(kernel)
    if not kernel.positive:
        raise ParameterError(
            f"logsumexp needs a positive kernel, but {kernel!r} can be zero or negative; "
            "use matvec/kernel_sum instead, or a positive kernel (Gaussian, Laplace, ...).")
    X, Y = _check_inputs(kernel, X, Y, {"weights": weights})
    m = X.shape[0] if Y is None else Y.shape[0]
    w = _check_side(weights, "weights", (1,))
    if w is not None:
        _rows(w, "weights", m)
        if not is_dask(w) and bool((w < 0).any()):
            raise InputValueError("weights contains negative values; weights must be >= 0.")
    dtype = _result_dtype(X, Y, w)
    X, Y, w = (_cast(A, dtype) for A in (X, Y, w))
    extra = () if w is None else (share(w),)
    return map_row_chunks(_logsumexp_task, X, share(X if Y is None else Y), *extra,
                          dtype=dtype, name="kernelkit-logsumexp", kernel=kernel)


def knn(X: Any, Y: Any, k: int) -> tuple[Any, Any]:
    """``kernelkit.knn`` for Dask X: see that function; returns two Dask arrays."""
    X, Y = _check_inputs(None, X, Y, {})
    m = X.shape[0] if Y is None else Y.shape[0]
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ParameterError(f"k must be a positive integer, got {k!r}.")
    k = int(k)
    if k > m:
        raise ParameterError(f"k={k} is larger than the number of points in Y ({m}); "
                             f"pass k <= {m}.")
    dtype = _result_dtype(X, Y)
    X, Y = _cast(X, dtype), _cast(Y, dtype)
    both = map_row_chunks(_knn_task, X, share(X if Y is None else Y), dtype=np.float64,
                          tail=(2 * k,), name="kernelkit-knn", k=k)
    return both[:, :k].astype(dtype), both[:, k:].astype(np.int64)

"""Reductions over the rows of a Dask X whose result is small: summed per-chunk engine calls.

The Nyström products of Falkon, ``K(C, X) W K(X, C) U`` and ``K(C, X) W Y``, sum over the
rows of X. Each task computes one chunk's (m, k) part with one pure engine call, and the
parts are added by a tree of small tasks, so the client only ever receives m × k numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._config import config_context
from .._optional import import_optional
from .._validation import check_array, is_dask
from ..exceptions import InputTypeError, ShapeError
from ..kernels._base import Kernel
from ..ops import normal as _ops_normal
from ..ops import reduce
from . import _engine
from ._map import _is_future, _worker_threads, share, task_config

__all__ = ["normal_matvec", "cross_product", "sum_row_chunks", "aligned_rows"]


def _sum_task(X_chunk: np.ndarray, *args: Any, _fn: Callable[..., Any],
              _settings: dict[str, Any], **kwargs: Any) -> np.ndarray:
    settings = dict(_settings)
    settings["working_memory"] = settings["working_memory"] / _worker_threads()
    with config_context(**settings):
        return np.asarray(_fn(X_chunk, *args, **kwargs))


def _add(*parts: np.ndarray) -> np.ndarray:
    out = np.array(parts[0], copy=True)
    for part in parts[1:]:
        out += part
    return out


def aligned_rows(A: Any, X: Any) -> Any:
    """A (numpy or Dask, one row per row of X) as a Dask array chunked like X's rows."""
    da = import_optional("dask.array")
    chunks = (X.chunks[0],) + tuple((s,) for s in A.shape[1:])
    if is_dask(A):
        return A.rechunk(chunks)
    return da.from_array(np.asarray(A), chunks=chunks)


def sum_row_chunks(fn: Callable[..., Any], X: Any, aligned: tuple[Any, ...],
                   shared: tuple[Any, ...], *, shape: tuple[int, ...], dtype: Any,
                   name: str, **kwargs: Any) -> Any:
    """Lazy ``sum over row chunks c of fn(X_c, *aligned_c, *shared, **kwargs)``.

    Parameters
    ----------
    fn : callable
        A pure module-level function of numpy arrays returning an array of ``shape``.
    X : dask array of shape (n, d), one block of columns
    aligned : tuple
        Arrays with one row per row of X (Dask, chunked like X's rows, or None).
    shared : tuple
        Handles from :func:`share` (or values) every task receives whole.
    shape, dtype
        Shape and dtype of the result.
    name : str
        Prefix of the task names.

    Returns
    -------
    out : dask array of ``shape``
    """
    dask = import_optional("dask")
    da = import_optional("dask.array")
    delayed_type = import_optional("dask.delayed").Delayed
    handles = [a if isinstance(a, delayed_type) or _is_future(a) else share(a)
               for a in shared]
    x_blocks = X.to_delayed().ravel()
    aligned_blocks = [None if a is None else aligned_rows(a, X).to_delayed().ravel()
                      for a in aligned]
    settings = task_config()
    parts = []
    for i, xb in enumerate(x_blocks):
        args = [None if b is None else b[i] for b in aligned_blocks]
        parts.append(dask.delayed(_sum_task, pure=True, name=f"{name}-part-{i}-"
                                  + dask.base.tokenize(fn, xb, *args, *handles, settings,
                                                       kwargs))(
            xb, *args, *handles, _fn=fn, _settings=settings,
            **kwargs))
    # Pairwise tree: no task holds more than a few (m, k) parts at once.
    while len(parts) > 1:
        parts = [dask.delayed(_add, pure=True)(*parts[i:i + 4])
                 for i in range(0, len(parts), 4)]
    return da.from_delayed(parts[0], shape=shape, dtype=np.dtype(dtype))


def _normal_task(X: np.ndarray, w: np.ndarray | None, C: np.ndarray, U: np.ndarray, *,
                 kernel: Kernel, compute_dtype: Any) -> Any:
    return _ops_normal.normal_matvec(kernel, X, C, U, w, compute_dtype=compute_dtype)


def _cross_task(X: np.ndarray, Y: np.ndarray, w: np.ndarray | None, C: np.ndarray, *,
                kernel: Kernel) -> Any:
    Yw = Y if w is None else Y * w.reshape((-1,) + (1,) * (Y.ndim - 1))
    return reduce.matvec(kernel, C, X, Yw)


def normal_matvec(kernel: Kernel, X: Any, C: Any, U: Any, weights: Any = None, *,
                  compute_dtype: Any = None) -> Any:
    """``kernelkit.ops.normal_matvec`` for a Dask X: a lazy Dask array of U's shape.

    C and U are in memory (placed on the cluster once); weights may be numpy or Dask,
    one per row of X.
    """
    kernel = reduce._check_kernel(kernel)
    X, _ = _engine._check_inputs(kernel, X, None, {"C": C, "U": U})
    for name, A in (("C", C), ("U", U)):
        if is_dask(A):
            raise InputTypeError(
                f"{name} is a Dask array; normal_matvec keeps the centres and U in memory "
                f"(they are small): pass {name}.compute().")
    C = check_array(C, "C")
    U = check_array(U, "U", ndim=(1, 2))
    if C.shape[1] != X.shape[1]:
        raise ShapeError(f"X has {X.shape[1]} features but C has {C.shape[1]}; both must "
                         "have the same number of columns.")
    if U.shape[0] != C.shape[0]:
        raise ShapeError(f"U has {U.shape[0]} rows but C has {C.shape[0]}; U needs one row "
                         "per centre (row of C).")
    w = _engine._check_side(weights, "weights", (1,))
    if w is not None and w.shape[0] != X.shape[0]:
        raise ShapeError(f"weights has {w.shape[0]} entries but X has {X.shape[0]} rows; "
                         "pass one weight per row of X (shape (n,)).")
    dtype = _engine._result_dtype(X, C, U, w)
    return sum_row_chunks(_normal_task, X, (w,), (share(C), share(U)), shape=U.shape,
                          dtype=dtype, name="kernelkit-normal_matvec", kernel=kernel,
                          compute_dtype=compute_dtype)


def cross_product(kernel: Kernel, X: Any, C: np.ndarray, Y: Any, weights: Any = None) -> Any:
    """Lazy ``K(C, X) diag(weights) Y`` for a Dask X (and Y, weights row-aligned with X)."""
    shape = (C.shape[0],) + tuple(Y.shape[1:])
    dtype = _engine._result_dtype(X, C, Y)
    return sum_row_chunks(_cross_task, X, (Y, weights), (share(C),), shape=shape,
                          dtype=dtype, name="kernelkit-cross", kernel=kernel)

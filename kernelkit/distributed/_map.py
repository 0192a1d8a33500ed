"""Mapping an engine call over the row chunks of a Dask array, with shared inputs placed once.

This is the one place where kernelkit builds Dask graphs. Every distributed reduction,
and every estimator that distributes a big pass, is::

    out = map_row_chunks(fn, X, *shared, dtype=..., tail=...)

where ``fn(X_chunk, *shared)`` is a pure function of numpy arrays (an engine call), each
``shared`` value is placed on the cluster once (:func:`share`) and every task depends on
that one key, and the caller's engine settings travel inside each task.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from .._config import config_context, get_config
from .._optional import import_optional
from .._validation import is_dask
from ..exceptions import InputTypeError, ParameterError, ShapeError
from ._client import active_client

__all__ = ["share", "map_row_chunks", "task_config", "row_chunks"]


def share(value: Any, *, persist: bool = False) -> Any:
    """Place one value on the cluster once, for every task to use.

    Parameters
    ----------
    value : ndarray, dask array or any picklable object
        What every task needs whole (Y, the right-hand sides V, weights, a model's
        small state).
    persist : bool, default=False
        Compute a Dask ``value`` now and keep it on the cluster (for values reused by
        many graphs, e.g. Y in a :class:`~kernelkit.KernelOperator` inside CG).

    Returns
    -------
    handle : Future or Delayed
        Pass it to :func:`map_row_chunks` (or ``dask.array.map_blocks``) as an argument;
        every task receives the materialised value.

        * With an active ``distributed.Client``, an in-memory value is scattered to
          every worker (``broadcast=True``) and a Future is returned.
        * A Dask array becomes a single key (its chunks concatenated once).
        * Otherwise (local schedulers) the value is one graph key that every task
          depends on; it is never copied into each task.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.distributed import share
    >>> h = share(np.ones(3))
    >>> type(h).__name__ in ("Delayed", "Future")  # Future when a Client is active
    True
    """
    dask = import_optional("dask")
    client = active_client()
    if is_dask(value):
        whole = value.rechunk(tuple(-1 for _ in value.shape)) if value.ndim else value
        blocks = whole.to_delayed().ravel()
        handle = blocks[0]
        if persist and client is not None:
            future = client.compute(handle)
            client.replicate([future])
            return future
        return handle.persist() if persist else handle
    if client is not None:
        # Wrapped in a list so that a tuple, list or dict is shipped as ONE value (scatter
        # would otherwise split a container into one Future per element).
        return client.scatter([value], broadcast=True, hash=False)[0]
    return dask.delayed(value, pure=True)


def task_config(config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Engine settings for one task running on a worker.

    ``working_memory`` is the caller's budget divided by the worker's threads, so the
    scratch memory of a worker process running one task per thread stays within the
    caller's ``working_memory``; ``backend`` is the caller's; ``n_jobs`` is 1 (Dask
    already runs one task per worker thread).

    Parameters
    ----------
    config : dict, default=None
        The caller's settings (:func:`kernelkit.get_config`); None reads them now.

    Returns
    -------
    settings : dict
        Keyword arguments for :func:`kernelkit.config_context`.
    """
    config = get_config() if config is None else config
    return {"working_memory": config["working_memory"], "backend": config["backend"],
            "n_jobs": 1}


def _worker_threads() -> int:
    """Threads of the Dask worker (or local pool) running the current task."""
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError):
        pass
    dask = import_optional("dask")
    n = dask.config.get("num_workers", None)
    if n:
        return max(1, int(n))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def _run_chunk(X_chunk: np.ndarray, *shared: Any, _fn: Callable[..., Any],
               _settings: dict[str, Any], _tail: tuple[int, ...],
               **kwargs: Any) -> np.ndarray:
    """One task: apply the caller's settings, call ``_fn`` on one row chunk."""
    settings = dict(_settings)
    settings["working_memory"] = settings["working_memory"] / _worker_threads()
    with config_context(**settings):
        out = np.asarray(_fn(X_chunk, *shared, **kwargs))
    expected = (X_chunk.shape[0],) + _tail
    if out.shape != expected:
        raise ShapeError(f"{getattr(_fn, '__name__', _fn)!r} returned shape {out.shape} "
                         f"for a chunk of {X_chunk.shape[0]} rows; expected {expected}.")
    return out


def map_row_chunks(fn: Callable[..., Any], X: Any, *shared: Any, dtype: Any,
                   tail: tuple[int, ...] = (), name: str | None = None,
                   **kwargs: Any) -> Any:
    """Lazily apply ``fn`` to each row chunk of a Dask array X.

    Parameters
    ----------
    fn : callable
        ``fn(X_chunk, *shared, **kwargs) -> ndarray of shape (rows,) + tail``, a pure
        function of its inputs (Dask may run it twice or on another worker after a
        failure). It runs under the caller's engine settings (:func:`task_config`).
    X : dask.array.Array of shape (n, d)
        Row-chunked. Chunks along the feature axis are merged first (one chunk of
        columns per row block).
    *shared
        Values every task receives whole. Pass handles from :func:`share` (placed on
        the cluster once); a plain value is shared for you. Small Python objects
        (kernels, ints) may also go in ``kwargs``, which are copied into every task.
    dtype : dtype
        dtype of the result.
    tail : tuple of int, default=()
        Trailing shape of each row's result: ``()`` gives shape (n,), ``(k,)`` (n, k).
    name : str, default=None
        Prefix of the task names (shown on the Dask dashboard).
    **kwargs
        Passed to ``fn`` in every task.

    Returns
    -------
    out : dask.array.Array of shape (n,) + tail
        Chunked like X's rows. Nothing is computed until ``.compute()``.

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> from kernelkit.distributed import map_row_chunks, share
    >>> X = da.from_array(np.arange(8.0).reshape(4, 2), chunks=(2, 2))
    >>> offset = share(np.array([10.0, 20.0]))
    >>> out = map_row_chunks(lambda Xc, o: (Xc + o).sum(axis=1), X, offset, dtype=float)
    >>> out.compute()
    array([31., 35., 39., 43.])
    """
    if not is_dask(X):
        raise InputTypeError(f"X must be a dask array, got {type(X).__name__}; wrap it "
                             "with dask.array.from_array(X, chunks=(rows, -1)).")
    if X.ndim != 2:
        raise ShapeError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}.")
    if X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    dask = import_optional("dask")
    delayed_type = import_optional("dask.delayed").Delayed
    # Handles from share() pass through; anything else (numpy, Dask arrays) is shared here,
    # so a Dask array is never aligned block-by-block with X.
    handles = [a if isinstance(a, delayed_type) or _is_future(a) else share(a)
               for a in shared]
    tail = tuple(int(t) for t in tail)
    chunks = (X.chunks[0],) + tuple((t,) for t in tail)
    kw: dict[str, Any] = {}
    if not tail:
        kw["drop_axis"] = 1
    elif len(tail) > 1:
        kw["new_axis"] = list(range(2, 1 + len(tail)))
    token = dask.base.tokenize(fn, X, *handles, dtype, tail, task_config(), kwargs)
    return X.map_blocks(
        _run_chunk, *handles, _fn=fn, _settings=task_config(), _tail=tail,
        dtype=np.dtype(dtype), chunks=chunks,
        meta=np.empty((0,) * (1 + len(tail)), dtype=dtype),
        name=f"{name or getattr(fn, '__name__', 'kernelkit')}-{token}", **kw, **kwargs)


def _is_future(value: Any) -> bool:
    return type(value).__name__ == "Future" and type(value).__module__.startswith(
        "distributed")


#: Tasks per worker thread that :func:`row_chunks` aims for: enough to balance load and
#: to lose little work when a worker dies, few enough that Dask's per-task cost is noise.
TASKS_PER_THREAD = 4
#: Smallest default chunk (rows): below this, per-task overhead dominates.
MIN_CHUNK_ROWS = 2_000


def row_chunks(X: Any, rows: int | None = None) -> Any:
    """X as a Dask array chunked by rows only (one block of columns).

    Parameters
    ----------
    X : array-like or dask array of shape (n, d)
    rows : int, default=None
        Rows per chunk. None picks about ``TASKS_PER_THREAD`` (4) chunks per worker thread
        of the active cluster (2 threads without one), and at least ``MIN_CHUNK_ROWS``.

    Returns
    -------
    X : dask.array.Array of shape (n, d)

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.distributed import row_chunks
    >>> row_chunks(np.zeros((10, 3)), rows=4).chunks
    ((4, 4, 2), (3,))
    """
    da = import_optional("dask.array")
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1):
        raise ParameterError(f"rows must be a positive integer, got {rows!r}.")
    n = X.shape[0]
    if rows is None:
        client = active_client()
        threads = 2
        if client is not None:
            threads = max(1, sum(client.nthreads().values()))
        rows = max(MIN_CHUNK_ROWS, -(-n // (TASKS_PER_THREAD * threads)))
    if is_dask(X):
        return X.rechunk({0: rows, 1: -1})
    return da.from_array(np.asarray(X), chunks=(rows, -1))

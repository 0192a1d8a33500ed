"""A process-wide pool of worker threads, and BLAS thread limiting inside it.

The compiled kernels release the GIL, and so does BLAS, so Python threads give real
parallelism. BLAS is limited to one thread while workers run: letting BLAS's own threads
compete with ours makes everything several times slower.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from typing import Any

_THREAD_PREFIX = "kernelkit-worker"
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_controller: Any = None


def _forget_pool_after_fork() -> None:
    """A forked child has none of the parent's threads: drop the pool (and the lock)."""
    global _pool, _pool_size, _lock
    _pool = None
    _pool_size = 0
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


def _get_pool(n_workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _lock:
        if _pool is None or _pool_size != n_workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=n_workers,
                                       thread_name_prefix=_THREAD_PREFIX)
            _pool_size = n_workers
        return _pool


def _blas_single_thread() -> Any:
    global _controller
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def run_tasks(fn: Callable[[Any], None], items: Iterable[Any], n_workers: int,
              *, uses_blas: bool) -> None:
    """Run ``fn(item)`` for every item, on ``n_workers`` threads (inline when 1).

    Exceptions from workers propagate to the caller.
    """
    items = list(items)
    # inline on one of our own workers: waiting there for the same pool could deadlock
    nested = threading.current_thread().name.startswith(_THREAD_PREFIX)
    if n_workers <= 1 or len(items) <= 1 or nested:
        for item in items:
            fn(item)
        return
    pool = _get_pool(n_workers)
    ctx = _blas_single_thread() if uses_blas else nullcontext()
    with ctx:
        futures = [pool.submit(fn, item) for item in items]
        for future in futures:
            future.result()

"""Global, thread-local configuration: ``config_context`` and friends.

Settings are read by the engine on every call, so they can be changed per block of code::

    with kernelkit.config_context(working_memory=64):
        kernelkit.matvec(kernel, X, Y, V)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .exceptions import ParameterError

__all__ = ["config_context", "get_config", "set_config"]

_BACKENDS = ("auto", "numpy", "numba", "torch")

_DEFAULTS: dict[str, Any] = {
    # MiB of scratch memory the engine may use for tiles, across all worker threads.
    "working_memory": 256,
    # "auto" picks numba for numpy inputs when the kernel has a compiled path, torch for
    # torch tensors; "numpy" forces the reference implementation.
    "backend": "auto",
    # Worker threads for the engine; None means one per available core.
    "n_jobs": None,
}

_local = threading.local()


def _state() -> dict[str, Any]:
    if not hasattr(_local, "config"):
        _local.config = dict(_DEFAULTS)
    return _local.config


def _check(key: str, value: Any) -> Any:
    if key not in _DEFAULTS:
        raise ParameterError(
            f"Unknown kernelkit setting {key!r}; valid settings are {sorted(_DEFAULTS)}."
        )
    if key == "working_memory":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ParameterError(
                f"working_memory must be a positive number of MiB, got {value!r}."
            )
        return float(value)
    if key == "backend":
        if value not in _BACKENDS:
            raise ParameterError(f"backend must be one of {_BACKENDS}, got {value!r}.")
        return value
    if key == "n_jobs":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value == 0:
            raise ParameterError(
                f"n_jobs must be None, a positive int, or -1 for all cores; got {value!r}."
            )
        return value
    return value  # pragma: no cover


def get_config() -> dict[str, Any]:
    """Return a copy of the current settings.

    Returns
    -------
    config : dict
        ``working_memory`` (MiB, float), ``backend`` (str) and ``n_jobs`` (int or None).

    Examples
    --------
    >>> import kernelkit
    >>> kernelkit.get_config()["backend"]
    'auto'
    """
    return dict(_state())


def set_config(**settings: Any) -> None:
    """Change settings for the current thread until changed again.

    Prefer :func:`config_context`, which restores the old values.

    Parameters
    ----------
    **settings
        ``working_memory`` (MiB, > 0), ``backend`` (``"auto"``, ``"numpy"``, ``"numba"``,
        ``"torch"``) and ``n_jobs`` (None, -1 or a positive int).

    Examples
    --------
    >>> import kernelkit
    >>> kernelkit.set_config(working_memory=128)
    >>> kernelkit.get_config()["working_memory"]
    128.0
    >>> kernelkit.set_config(working_memory=256)
    """
    checked = {key: _check(key, value) for key, value in settings.items()}
    _state().update(checked)


@contextmanager
def config_context(**settings: Any) -> Iterator[None]:
    """Temporarily change kernelkit settings inside a ``with`` block.

    Parameters
    ----------
    working_memory : float, optional
        Scratch memory in MiB the engine may use for kernel tiles, summed over worker
        threads. Default 256. Peak extra memory of a reduction is about this much plus
        the O((n + m) k) inputs and outputs.
    backend : {"auto", "numpy", "numba", "torch"}, optional
        Which implementation to use. ``"auto"`` (default) uses the compiled numba path for
        numpy inputs when the kernel has one, and torch for torch tensors.
    n_jobs : int or None, optional
        Number of worker threads. None (default) or -1 uses every available core.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> X = np.random.default_rng(0).normal(size=(50, 2))
    >>> with kernelkit.config_context(working_memory=1, n_jobs=1):
    ...     s = kernelkit.kernel_sum(kernelkit.kernels.Gaussian(), X, X)
    >>> s.shape
    (50,)
    """
    old = get_config()
    set_config(**settings)
    try:
        yield
    finally:
        _state().clear()
        _state().update(old)


def effective_n_jobs() -> int:
    """Number of worker threads the engine will use."""
    n_jobs = _state()["n_jobs"]
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    if n_jobs is None or n_jobs < 0:
        return max(1, cores)
    return n_jobs

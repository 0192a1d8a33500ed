"""Finding and connecting to a Dask ``distributed`` scheduler."""

from __future__ import annotations

import sys
from typing import Any

from .._optional import import_optional
from ..exceptions import KernelkitError, ParameterError

__all__ = ["SchedulerConnectionError", "active_client", "connect"]

#: Seconds :func:`connect` waits for a scheduler before giving up.
CONNECT_TIMEOUT = 10.0


class SchedulerConnectionError(KernelkitError, ConnectionError):
    """A Dask scheduler could not be reached at the given address."""


def active_client() -> Any:
    """The current ``distributed.Client``, or None (never imports ``distributed``).

    Returns
    -------
    client : distributed.Client or None
        The client Dask would use for ``.compute()``: the one created last, or the one
        of the worker this runs on.
    """
    if "distributed" not in sys.modules:
        return None
    from distributed import get_client

    try:
        client = get_client()
    except ValueError:  # no client in this process
        return None
    return client if client.status == "running" else None


def connect(address: str, *, timeout: float = CONNECT_TIMEOUT, **client_kwargs: Any) -> Any:
    """Connect a ``distributed.Client`` to a running scheduler, failing fast.

    A thin wrapper of ``distributed.Client(address, timeout=...)`` whose error says what
    was tried and what to check. The client becomes the default one, so later
    ``kernelkit`` calls on Dask arrays run on that cluster.

    Parameters
    ----------
    address : str
        Scheduler address, e.g. ``"tcp://10.0.0.5:8786"`` (what ``dask scheduler``,
        dask-jobqueue's ``cluster.scheduler_address`` or a Kubernetes service prints).
    timeout : float, default=10.0
        Seconds to wait for the scheduler.
    **client_kwargs
        Passed on to ``distributed.Client``.

    Returns
    -------
    client : distributed.Client
        Close it (or use it as a context manager) when done.

    Raises
    ------
    SchedulerConnectionError
        No scheduler answered at ``address`` within ``timeout`` seconds.
    OptionalDependencyError
        ``distributed`` is not installed.

    Examples
    --------
    >>> from kernelkit.distributed import connect, SchedulerConnectionError
    >>> try:
    ...     connect("tcp://127.0.0.1:1", timeout=0.5)
    ... except SchedulerConnectionError as err:
    ...     print(str(err)[:44])
    could not reach a Dask scheduler at tcp://12
    """
    if not isinstance(address, str) or not address:
        raise ParameterError(f"address must be a scheduler address such as "
                             f"'tcp://host:8786', got {address!r}.")
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ParameterError(f"timeout must be a positive number of seconds, got {timeout!r}.")
    distributed = import_optional("distributed")
    try:
        return distributed.Client(address, timeout=timeout, **client_kwargs)
    except (OSError, TimeoutError) as exc:
        raise SchedulerConnectionError(
            f"could not reach a Dask scheduler at {address} within {timeout:g} s "
            f"({type(exc).__name__}: {exc}). Check that the scheduler is running "
            "(`dask scheduler` prints its address), that the address and port are right "
            "and reachable from this machine (firewall, VPN, port-forward), or raise "
            "timeout=..."
        ) from exc

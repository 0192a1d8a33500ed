"""``--scheduler ADDRESS`` for the CLI's long jobs: run the big passes on a Dask cluster.

A subcommand opts in with two calls::

    def add_arguments(parser):
        ...
        add_scheduler_argument(parser)

    def run(args):
        with scheduler_from_args(args) as client:
            X = load(...)
            if client is not None:
                X = kernelkit.distributed.row_chunks(X)   # engine calls now run on Dask
            ...

Without ``--scheduler`` nothing changes (and dask is never imported).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["add_scheduler_argument", "scheduler_from_args"]


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def add_scheduler_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--scheduler ADDRESS`` and ``--scheduler-timeout SECONDS`` to a subcommand.

    Parameters
    ----------
    parser : argparse.ArgumentParser

    Examples
    --------
    >>> import argparse
    >>> p = argparse.ArgumentParser()
    >>> add_scheduler_argument(p)
    >>> p.parse_args(["--scheduler", "tcp://10.0.0.5:8786"]).scheduler
    'tcp://10.0.0.5:8786'
    """
    group = parser.add_argument_group("distributed (needs the dask extra)")
    group.add_argument(
        "--scheduler", metavar="ADDRESS", default=None,
        help="run the big passes on the Dask cluster whose scheduler is at ADDRESS "
             "(e.g. tcp://10.0.0.5:8786); default: this process only")
    group.add_argument(
        "--scheduler-timeout", metavar="SECONDS", type=_positive_seconds, default=10.0,
        help="give up if the scheduler does not answer within SECONDS (default 10)")


@contextmanager
def scheduler_from_args(args: argparse.Namespace) -> Iterator[Any]:
    """Connect a ``distributed.Client`` for ``--scheduler``, closed on exit.

    Parameters
    ----------
    args : argparse.Namespace
        Parsed arguments of a parser that went through :func:`add_scheduler_argument`.

    Yields
    ------
    client : distributed.Client or None
        None when ``--scheduler`` was not given.

    Raises
    ------
    SchedulerConnectionError
        The scheduler did not answer in time (the CLI reports it and exits with 1).
    OptionalDependencyError
        dask/distributed are not installed (names the ``kernelkit[dask]`` extra).

    Examples
    --------
    >>> import argparse
    >>> with scheduler_from_args(argparse.Namespace(scheduler=None)) as client:
    ...     print(client)
    None
    """
    address = getattr(args, "scheduler", None)
    if not address:
        yield None
        return
    from ..distributed import connect

    client = connect(address, timeout=getattr(args, "scheduler_timeout", 10.0))
    try:
        yield client
    finally:
        client.close()

"""Shared helpers of the ``kernelkit`` subcommands: consoles, timing, formatting, JSON."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console

__all__ = ["make_console", "time_calls", "median", "fmt_rate", "fmt_seconds",
           "positive_int", "print_json", "machine_info"]


def make_console(*, stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr); wide enough for tables when not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else 120
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def time_calls(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` (no warm-up: do that first)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def fmt_rate(pairs_per_s: float | None) -> str:
    """Pairs per second with an SI prefix: ``1.23 G``."""
    if pairs_per_s is None:
        return "—"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if pairs_per_s >= scale:
            return f"{pairs_per_s / scale:.3g} {unit}"
    return f"{pairs_per_s:.3g}"


def fmt_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def print_json(payload: dict[str, Any]) -> None:
    """Machine-readable results on stdout, one JSON document."""
    sys.stdout.write(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    sys.stdout.flush()


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on (cores, library versions, BLAS)."""
    import os
    import platform

    import numba
    import numpy as np

    from .. import __version__
    from .._config import effective_n_jobs

    info: dict[str, Any] = {
        "kernelkit": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "cpu_count": os.cpu_count(),
        "engine_threads": effective_n_jobs(),
    }
    try:
        from threadpoolctl import threadpool_info

        blas = [f"{p.get('internal_api')} {p.get('version')} ({p.get('num_threads')} threads)"
                for p in threadpool_info() if p.get("user_api") == "blas"]
        info["blas"] = ", ".join(blas)
    except Exception:  # pragma: no cover - informational only
        info["blas"] = "unknown"
    return info

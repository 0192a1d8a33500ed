"""Shared helpers of the ``kernelkit`` subcommands: consoles, timing, formatting, JSON."""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
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


def read_table(path: str | Path, columns: str | None = None) -> tuple[np.ndarray, list[str]]:
    r"""Numeric columns of a CSV file (the first row may name the columns) or a .npy file.

    Parameters
    ----------
    path : str or Path
        ``.npy`` (1-D or 2-D numeric array) or comma-separated text.
    columns : str, default=None
        Comma-separated column names or 0-based indices to keep; None keeps all.

    Returns
    -------
    data : ndarray of shape (n_rows, n_columns), float64
    names : list of str
        Column names (from the header, else the indices as strings).

    Raises
    ------
    InputValueError
        Missing or empty file, non-numeric values, unknown columns.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "data.csv"
    >>> _ = path.write_text("a,b\n1,2\n3,4\n")
    >>> data, names = read_table(path, "b")
    >>> data.ravel().tolist(), names
    ([2.0, 4.0], ['b'])
    """
    from ..exceptions import InputValueError

    p = Path(path)
    if not p.is_file():
        raise InputValueError(f"{path}: no such file.")
    if p.suffix == ".npy":
        data = np.load(p, allow_pickle=False)
        if data.ndim not in (1, 2) or not np.issubdtype(data.dtype, np.number):
            raise InputValueError(f"{path}: expected a 1-D or 2-D numeric array, got "
                                  f"{data.ndim}-D {data.dtype}.")
        data = np.asarray(data[:, None] if data.ndim == 1 else data, dtype=np.float64)
        names = [str(i) for i in range(data.shape[1])]
    else:
        with p.open(newline="") as f:
            first = next((r for r in csv.reader(f) if r), None)
        if first is None:
            raise InputValueError(f"{path} is empty.")
        try:
            [float(v) for v in first]
            header = False
            names = [str(i) for i in range(len(first))]
        except ValueError:
            header = True
            names = [c.strip() for c in first]
        try:
            data = np.loadtxt(p, delimiter=",", skiprows=int(header), ndmin=2,
                              dtype=np.float64)
        except ValueError as exc:
            raise InputValueError(f"{path}: non-numeric value or ragged row ({exc}); "
                                  "select numeric columns with --columns.") from None
        if data.size and data.shape[1] != len(names):
            raise InputValueError(f"{path}: the header names {len(names)} columns but the "
                                  f"rows have {data.shape[1]}.")
    if columns:
        data, names = select_columns(data, names, columns, flag="--columns", source=path)
    if data.ndim != 2 or data.shape[0] == 0:
        raise InputValueError(f"{path} has no data rows.")
    return data, names


def select_columns(data: np.ndarray, names: list[str], spec: str, *, flag: str,
                   source: str | Path) -> tuple[np.ndarray, list[str]]:
    """The columns of ``data`` named in ``spec`` (comma-separated names or 0-based indices).

    Examples
    --------
    >>> import numpy as np
    >>> data, names = select_columns(np.eye(3), ["a", "b", "c"], "c,0", flag="--x",
    ...                              source="t.csv")
    >>> names, data.shape
    (['c', 'a'], (3, 2))
    """
    from ..exceptions import InputValueError

    idx = []
    for c in (c.strip() for c in spec.split(",") if c.strip()):
        if c in names:
            idx.append(names.index(c))
        elif c.isdigit() and int(c) < data.shape[1]:
            idx.append(int(c))
        else:
            raise InputValueError(f"{flag}: {c!r} is not a column of {source} "
                                  f"(columns: {', '.join(names)}).")
    if not idx:
        raise InputValueError(f"{flag} selects no columns; pass names or 0-based indices.")
    return data[:, idx], [names[i] for i in idx]


def kernel_from_name(name: str, bandwidth: float) -> Any:
    """The kernel a ``--kernel NAME`` option names: gaussian, laplace, imq, matern32 or
    matern52 (any other name means matern52), with this bandwidth.

    Examples
    --------
    >>> kernel_from_name("matern32", 2.0)
    Matern(nu=1.5, bandwidth=2)
    """
    from ..kernels import IMQ, Gaussian, Laplace, Matern

    if name == "gaussian":
        return Gaussian(bandwidth=bandwidth)
    if name == "laplace":
        return Laplace(bandwidth=bandwidth)
    if name == "imq":
        return IMQ(bandwidth=bandwidth)
    return Matern(nu=1.5 if name == "matern32" else 2.5, bandwidth=bandwidth)

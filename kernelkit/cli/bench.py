"""``kernelkit bench``: a short engine benchmark against blocked numpy, in one process."""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ._common import (
    fmt_rate,
    fmt_seconds,
    machine_info,
    make_console,
    median,
    positive_int,
    print_json,
)

HELP = ("Time kernelkit's matvec, logsumexp and knn against blocked numpy on random "
        "Gaussian data (about half a minute at the defaults).")

OPS = ("matvec", "logsumexp", "knn")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=positive_int, default=15_000,
                        help="rows of X and of Y (N = M; default 15000)")
    parser.add_argument("--d", type=positive_int, default=3, help="features (default 3)")
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                        help="dtype of the data (default float32)")
    parser.add_argument("--k", type=positive_int, default=10,
                        help="neighbours for knn (default 10)")
    parser.add_argument("--ops", default=",".join(OPS),
                        help=f"comma-separated subset of {','.join(OPS)}")
    parser.add_argument("--repeats", type=positive_int, default=3,
                        help="timed calls per implementation; the median is reported")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random data")
    parser.add_argument("--json", action="store_true",
                        help="print machine-readable JSON on stdout instead of a table")


def validate(args: argparse.Namespace) -> str | None:
    ops = [op.strip() for op in args.ops.split(",") if op.strip()]
    bad = [op for op in ops if op not in OPS]
    if bad or not ops:
        return f"--ops: unknown operation(s) {bad or args.ops!r}; choose from {', '.join(OPS)}"
    args.ops = ops
    if "knn" in ops and args.k > args.n:
        return f"--k {args.k} is larger than --n {args.n}; pass --k <= --n"
    return None


def _implementations(op: str, X: np.ndarray, Y: np.ndarray, V: np.ndarray, h: float,
                     k: int) -> dict[str, Callable[[], Any]]:
    import kernelkit
    from kernelkit.kernels import Gaussian

    from . import _peers

    kern = Gaussian(bandwidth=h)
    if op == "matvec":
        return {"kernelkit": lambda: kernelkit.matvec(kern, X, Y, V),
                "numpy": lambda: _peers.matvec(X, Y, V, h)}
    if op == "logsumexp":
        return {"kernelkit": lambda: kernelkit.logsumexp(kern, X, Y),
                "numpy": lambda: _peers.logsumexp(X, Y, h)}
    return {"kernelkit": lambda: kernelkit.knn(X, Y, k),
            "numpy": lambda: _peers.knn(X, Y, k)}


def _discrepancy(op: str, a: Any, b: Any) -> float:
    """How far the peer's answer is from kernelkit's (relative, or absolute for logs)."""
    if op == "knn":
        return float(np.max(np.abs(a[0].astype(np.float64) - b[0])) /
                     max(float(np.max(a[0])), 1e-300))
    a64, b64 = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if op == "logsumexp":
        return float(np.max(np.abs(a64 - b64)))
    return float(np.max(np.abs(a64 - b64)) / max(float(np.max(np.abs(a64))), 1e-300))


def run(args: argparse.Namespace) -> int:
    import kernelkit

    out = make_console()
    status = make_console(stderr=True)
    dtype = np.dtype(args.dtype)
    n, d = args.n, args.d
    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    Y = rng.standard_normal((n, d)).astype(dtype)
    V = rng.standard_normal(n).astype(dtype)
    h = math.sqrt(d)  # scaled squared distances are O(1): no underflow in any implementation
    pairs = n * n

    with status.status("Loading the compiled engine (the first run in a fresh checkout "
                       "compiles for a minute; later runs load it from the disk cache)"):
        small = min(n, 64)
        for op in args.ops:
            _implementations(op, X[:small], Y[:small], V[:small], h,
                             min(args.k, small))["kernelkit"]()
    del kernelkit

    results = []
    from rich.progress import Progress

    with Progress(console=status, transient=True, disable=not status.is_terminal) as bar:
        task = bar.add_task("benchmark", total=2 * len(args.ops) * args.repeats)
        for op in args.ops:
            impls = _implementations(op, X, Y, V, h, args.k)
            row: dict[str, Any] = {"op": op}
            answers = {}
            for name, fn in impls.items():
                bar.update(task, description=f"{op}: {name}")
                times = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    answers[name] = fn()
                    times.append(time.perf_counter() - t0)
                    bar.advance(task)
                med = median(times)
                row[name] = {"median_s": med, "times_s": times, "pairs_per_s": pairs / med}
            row["speedup"] = row["numpy"]["median_s"] / row["kernelkit"]["median_s"]
            row["discrepancy"] = _discrepancy(op, answers["kernelkit"], answers["numpy"])
            results.append(row)

    payload = {"command": "bench", "n": n, "m": n, "d": d, "dtype": args.dtype,
               "kernel": f"Gaussian(bandwidth={h:.4g})", "k": args.k,
               "repeats": args.repeats, "machine": machine_info(), "results": results}
    if args.json:
        print_json(payload)
        return 0
    from rich.table import Table

    table = Table(title=f"kernelkit bench: N = M = {n:,}, d = {d}, {args.dtype}, "
                        f"Gaussian(h={h:.3g}), median of {args.repeats}")
    table.add_column("operation")
    table.add_column("kernelkit", justify="right")
    table.add_column("pairs/s", justify="right")
    table.add_column("blocked numpy", justify="right")
    table.add_column("pairs/s", justify="right")
    table.add_column("kernelkit/numpy", justify="right")
    table.add_column("max discrepancy", justify="right")
    for row in results:
        label = f"knn (k={args.k})" if row["op"] == "knn" else row["op"]
        table.add_row(label, fmt_seconds(row["kernelkit"]["median_s"]),
                      fmt_rate(row["kernelkit"]["pairs_per_s"]),
                      fmt_seconds(row["numpy"]["median_s"]),
                      fmt_rate(row["numpy"]["pairs_per_s"]),
                      f"{row['speedup']:.1f}×", f"{row['discrepancy']:.1e}")
    out.print(table)
    info = payload["machine"]
    out.print(f"[dim]{info['engine_threads']} engine threads; numpy BLAS: {info['blas']}. "
              "kernelkit/numpy is the speed-up (numpy time / kernelkit time). Discrepancy: "
              "relative for matvec and knn distances, absolute for logsumexp.[/]")
    return 0

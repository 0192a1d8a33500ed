"""``kernelkit thin``: compress a data file to a few points that keep its distribution."""

from __future__ import annotations

import argparse
import csv
import math
import time

import numpy as np

from ._common import fmt_seconds, kernel_from_name, make_console, print_json

HELP = ("Thin DATA (CSV with a header, or .npy) to a kernel-thinning coreset: write it, "
        "plot it, and compare its MMD with a random subsample of the same size.")

KERNELS = ("gaussian", "laplace", "matern32", "matern52", "imq")
#: --method auto uses KT up to this many rows, Compress++ above.
AUTO_KT_MAX_N = 2**14


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="CSV file (first row may name the columns) or .npy")
    parser.add_argument("--columns", default=None,
                        help="comma-separated column names or 0-based indices (default all)")
    parser.add_argument("--size", type=int, default=None,
                        help="coreset size (default about sqrt(n))")
    parser.add_argument("--method", default="auto",
                        choices=("auto", "kt", "kt+", "compress++"),
                        help=f"auto: kt up to n = {AUTO_KT_MAX_N}, compress++ above")
    parser.add_argument("--kernel", default="gaussian", choices=KERNELS)
    parser.add_argument("--bandwidth", type=float, default=None,
                        help="kernel bandwidth (default: median distance between points)")
    parser.add_argument("--unique", action="store_true", help="never repeat a point")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", default=None, help="write the coreset rows to this CSV")
    parser.add_argument("--plot", default=None,
                        help="write a PNG scatter of the first two columns with the coreset")
    parser.add_argument("--mmd-max-n", type=int, default=2**16,
                        help="above this many rows, MMDs are measured against a random "
                             "subsample of this size (exact MMD is O(n^2); default 65536)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def validate(args: argparse.Namespace) -> str | None:
    if args.size is not None and args.size < 1:
        return f"--size must be >= 1, got {args.size}"
    if args.bandwidth is not None and not (args.bandwidth > 0 and math.isfinite(args.bandwidth)):
        return f"--bandwidth must be a finite number > 0, got {args.bandwidth}"
    if args.mmd_max_n < 2:
        return f"--mmd-max-n must be >= 2, got {args.mmd_max_n}"
    return None


def run(args: argparse.Namespace) -> int:
    import warnings

    from ..coresets import coreset_mmd, kernel_thinning
    from ..coresets._prepare import check_data, median_bandwidth
    from ._common import read_table

    console = make_console()
    X, names = read_table(args.data, args.columns)
    X = check_data(X)
    n = X.shape[0]
    rng = np.random.default_rng(args.seed)
    bandwidth = args.bandwidth or median_bandwidth(X, rng)
    kernel = kernel_from_name(args.kernel, bandwidth)
    method = args.method if args.method != "auto" else \
        ("kt" if n <= AUTO_KT_MAX_N else "compress++")
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught, \
            console.status(f"thinning {n} rows with {method}", spinner="dots"):
        warnings.simplefilter("always")
        idx = kernel_thinning(X, args.size, kernel, method=method, unique=args.unique,
                              random_state=rng)
    seconds = time.perf_counter() - t0
    notes = [str(w.message) for w in caught]
    size = idx.shape[0]
    rand = np.sort(rng.choice(n, size, replace=False))
    # MMD to the data (or to a random reference subsample of it when n is large)
    if n <= args.mmd_max_n:
        ref, core_ref, rand_ref, reference = X, idx, rand, f"all {n} rows"
    else:
        sub = np.sort(rng.choice(n, args.mmd_max_n, replace=False))
        ref = np.concatenate([X[sub], X[idx], X[rand]])
        core_ref = np.arange(args.mmd_max_n, args.mmd_max_n + size)
        rand_ref = core_ref + size
        reference = f"a random subsample of {args.mmd_max_n} rows (n too large for exact)"
    with console.status("measuring MMD", spinner="dots"):
        if ref is X:
            mmd_core = coreset_mmd(X, core_ref, kernel)
            mmd_rand = coreset_mmd(X, rand_ref, kernel)
        else:
            from ..stats import mmd

            base = ref[: args.mmd_max_n]
            mmd_core = math.sqrt(max(mmd(base, ref[core_ref], kernel, estimator="biased"), 0))
            mmd_rand = math.sqrt(max(mmd(base, ref[rand_ref], kernel, estimator="biased"), 0))
    if args.out:
        with open(args.out, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["row", *names])
            for i in idx:
                writer.writerow([int(i), *(repr(float(v)) for v in X[i])])
    if args.plot:
        _plot(args.plot, X, idx, names, mmd_core, mmd_rand, method)
    payload = {"command": "thin", "data": args.data, "n": n, "d": X.shape[1], "size": size,
               "method": method, "kernel": repr(kernel), "seconds": seconds,
               "mmd_coreset": mmd_core, "mmd_random_subsample": mmd_rand,
               "mmd_reference": reference, "out": args.out, "plot": args.plot,
               "warnings": notes}
    if args.json:
        print_json(payload)
        return 0
    from rich.table import Table

    table = Table(title=f"kernelkit thin {args.data}: {n} x {X.shape[1]} -> {size} points")
    table.add_column("coreset")
    table.add_column("MMD", justify="right")
    table.add_row(f"{method} ({fmt_seconds(seconds)})", f"{mmd_core:.3e}")
    table.add_row("random subsample", f"{mmd_rand:.3e}")
    table.add_row("ratio", f"{mmd_core / mmd_rand:.3f}" if mmd_rand > 0 else "-")
    console.print(table)
    console.print(f"kernel {kernel!r}; MMD measured against {reference}")
    for note in notes:
        console.print(f"[yellow]warning:[/] {note}")
    if args.out:
        console.print(f"wrote {size} rows to {args.out}")
    if args.plot:
        console.print(f"wrote {args.plot}")
    return 0


def _plot(path: str, X: np.ndarray, idx: np.ndarray, names: list[str], mmd_core: float,
          mmd_rand: float, method: str) -> None:
    from .._optional import import_optional

    figure = import_optional("matplotlib.figure")
    fig = figure.Figure(figsize=(5.5, 5))
    ax = fig.add_subplot(1, 1, 1)
    x1 = X[:, 1] if X.shape[1] > 1 else np.zeros(X.shape[0])
    ax.scatter(X[:, 0], x1, s=2, c="0.7", alpha=0.5, label=f"data ({X.shape[0]})")
    ax.scatter(X[idx, 0], x1[idx], s=14, c="C3", label=f"{method} coreset ({len(idx)})")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1] if X.shape[1] > 1 else "")
    ax.set_title(f"MMD {mmd_core:.2e} (random subsample {mmd_rand:.2e})", fontsize=10)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)

"""``kernelkit test``: kernel two-sample (MMD) and independence (HSIC) tests on data files.

(The module is not named ``test*.py`` so that pytest does not collect it.)
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np

from ..exceptions import InputValueError
from ._common import fmt_seconds, make_console, positive_int, print_json
from ._scheduler import add_scheduler_argument, scheduler_from_args

HELP = ("Kernel hypothesis tests on CSV/NPY files: `test two-sample A B` (MMD) and "
        "`test independence DATA --x COLS --y COLS` (HSIC), with a progress bar, a table "
        "or --json, and --plot of the null distribution.")

KERNELS = ("gaussian", "laplace", "imq")


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kernel", choices=KERNELS, default="gaussian",
                   help="kernel family (default gaussian)")
    p.add_argument("--bandwidth", default="median",
                   help="'median' (median heuristic, default) or a positive number")
    p.add_argument("--permutations", type=positive_int, default=None,
                   help="permutations (default 200; 500 for --method aggregated)")
    p.add_argument("--alpha", type=float, default=0.05, help="level (default 0.05)")
    p.add_argument("--seed", type=int, default=0, help="seed of the permutations")
    p.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    p.add_argument("--plot", default=None,
                   help="write a PNG of the null distribution with the statistic")
    add_scheduler_argument(p)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    two = sub.add_parser("two-sample", help="MMD test: do A and B come from the same "
                                            "distribution?")
    two.add_argument("a", help="first sample: CSV (optional header) or .npy")
    two.add_argument("b", help="second sample, same columns")
    two.add_argument("--columns", default=None,
                     help="comma-separated column names or indices used from both files")
    two.add_argument("--method", choices=("permutation", "aggregated"),
                     default="permutation",
                     help="permutation (one kernel) or aggregated (MMDAgg, many bandwidths)")
    two.add_argument("--estimator", choices=("unbiased", "biased"), default="unbiased")
    _common_options(two)
    ind = sub.add_parser("independence", help="HSIC test: are the --x and --y columns of "
                                              "DATA independent?")
    ind.add_argument("data", help="CSV (optional header) or .npy with paired rows")
    ind.add_argument("--x", required=True, help="columns of X (names or indices)")
    ind.add_argument("--y", required=True, help="columns of Y (names or indices)")
    ind.add_argument("--method", choices=("permutation", "gamma"), default="permutation")
    ind.add_argument("--approximation", choices=("auto", "exact", "nystrom"),
                     default="auto", help="exact or Nyström permutations (default auto)")
    _common_options(ind)


def validate(args: argparse.Namespace) -> str | None:
    if args.bandwidth != "median":
        try:
            value = float(args.bandwidth)
        except ValueError:
            return f"--bandwidth must be 'median' or a number, got {args.bandwidth!r}"
        if not (value > 0 and np.isfinite(value)):
            return f"--bandwidth must be a finite number > 0, got {args.bandwidth!r}"
        args.bandwidth = value
    if not 0 < args.alpha < 1:
        return f"--alpha must be in (0, 1), got {args.alpha}"
    if args.kind == "two-sample" and args.method == "aggregated" and (
            args.bandwidth != "median" or args.kernel != "gaussian"):
        return ("--method aggregated chooses its own kernels (Gaussian and Laplace over a "
                "bandwidth grid); drop --kernel/--bandwidth")
    return None


def _kernel(args: argparse.Namespace, *samples: np.ndarray) -> Any:
    from ..kernels import IMQ, Gaussian, Laplace
    from ..stats import median_heuristic

    h = median_heuristic(*samples) if args.bandwidth == "median" else args.bandwidth
    return {"gaussian": Gaussian, "laplace": Laplace, "imq": IMQ}[args.kernel](bandwidth=h)


def _load(args: argparse.Namespace) -> dict[str, Any]:
    from ._common import read_table, select_columns

    if args.kind == "two-sample":
        A, names_a = read_table(args.a, args.columns)
        B, names_b = read_table(args.b, args.columns)
        if A.shape[1] != B.shape[1]:
            raise InputValueError(
                f"{args.a} has {A.shape[1]} columns but {args.b} has {B.shape[1]}; both "
                "samples need the same columns (select them with --columns)."
            )
        return {"X": A, "Y": B, "x_columns": names_a, "y_columns": names_b}
    data, names = read_table(args.data, None)
    X, nx = select_columns(data, names, args.x, flag="--x", source=args.data)
    Y, ny = select_columns(data, names, args.y, flag="--y", source=args.data)
    return {"X": X, "Y": Y, "x_columns": nx, "y_columns": ny}


def run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from ..stats import hsic_test, mmd_test

    out = make_console()
    status = make_console(stderr=True)
    d = _load(args)
    X, Y = d["X"], d["Y"]
    t0 = time.perf_counter()
    with scheduler_from_args(args) as client, \
            Progress(TextColumn("{task.description}"), BarColumn(), TimeRemainingColumn(),
                     console=status, transient=True, disable=not status.is_terminal) as bar:
        kernels_from = (X, Y)  # kernels (median heuristic) are chosen from the numpy data
        if client is not None and args.method != "gamma":
            # The permutation passes run on the cluster, one task per row chunk.
            from ..distributed import row_chunks

            X, Y = row_chunks(X), row_chunks(Y)
        task = bar.add_task("permutations", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if args.kind == "two-sample":
            kernel = None if args.method == "aggregated" else _kernel(args, *kernels_from)
            bar.update(task, description="permutations (one engine pass)")
            res = mmd_test(X, Y, kernel, args.method, n_permutations=args.permutations,
                           alpha=args.alpha, estimator=args.estimator,
                           random_state=args.seed, progress=progress)
        else:
            kernels = (_kernel(args, kernels_from[0]), _kernel(args, kernels_from[1]))
            res = hsic_test(X, Y, *kernels, args.method,
                            n_permutations=args.permutations or 200, alpha=args.alpha,
                            random_state=args.seed, approximation=args.approximation,
                            progress=progress)
    seconds = time.perf_counter() - t0
    if args.plot:
        _plot(args.plot, res, args.kind)
    X, Y = kernels_from
    payload = {"command": f"test {args.kind}", **res.as_dict(), "seconds": seconds,
               "n_x": int(X.shape[0]), "n_y": int(Y.shape[0]),
               "x_columns": d["x_columns"], "y_columns": d["y_columns"],
               "plot": args.plot}
    if args.json:
        print_json(payload)
        return 0
    _table(out, args, res, X, Y, seconds)
    return 0


def _table(out: Any, args: argparse.Namespace, res: Any, X: np.ndarray, Y: np.ndarray,
           seconds: float) -> None:
    from rich.table import Table

    title = ("Two-sample test (MMD)" if args.kind == "two-sample"
             else "Independence test (HSIC)")
    table = Table(title=title, show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    sizes = (f"{X.shape[0]} × {X.shape[1]} and {Y.shape[0]} × {Y.shape[1]}")
    kern = res.kernel
    kern_text = (f"{len(kern)} kernels ({kern[0]!r} ... {kern[-1]!r})"
                 if args.kind == "two-sample" and isinstance(kern, list)
                 else ", ".join(map(repr, kern)) if isinstance(kern, list) else repr(kern))
    method = res.method
    if "approximation" in res.details:
        method += f" ({res.details['approximation']})"
    rows = [("samples", sizes), ("method", method), ("kernel", kern_text),
            ("statistic", f"{res.statistic:.6g}"), ("p-value", f"{res.pvalue:.4g}"),
            ("alpha", f"{res.alpha:g}"),
            ("decision", "[bold red]reject H0[/]" if res.reject
             else "[green]do not reject H0[/]"),
            ("null samples", str(len(res.null_samples))), ("time", fmt_seconds(seconds))]
    for k, v in rows:
        table.add_row(k, v)
    out.print(table)
    if args.plot:
        out.print(f"plot written to {args.plot}")


def _plot(path: str, res: Any, kind: str) -> None:
    from .._optional import import_optional

    figure = import_optional("matplotlib.figure")
    fig = figure.Figure(figsize=(6, 4))
    ax = fig.add_subplot(1, 1, 1)
    if res.method == "gamma":
        from scipy import stats as sps

        n = res.details["n_samples"]
        shape, scale = res.details["shape"], res.details["scale"]
        hi = max(sps.gamma.ppf(0.999, shape, scale=scale) / n, 1.2 * res.statistic)
        grid = np.linspace(0, hi, 400)
        ax.plot(grid, n * sps.gamma.pdf(n * grid, shape, scale=scale), color="C0",
                label="Gamma null")
        ax.set_ylabel("density")
    else:
        ax.hist(res.null_samples, bins=40, color="C0", alpha=0.7,
                label=f"null ({len(res.null_samples)} {'permutations'})")
        ax.set_ylabel("count")
    ax.axvline(res.statistic, color="C3", lw=2,
               label=f"statistic (p = {res.pvalue:.3g})")
    xlabel = {"aggregated": "min weighted p-value over kernels (small = reject)",
              "gamma": "HSIC_b"}.get(res.method, "MMD²" if kind == "two-sample" else "HSIC_b")
    ax.set_xlabel(xlabel)
    ax.set_title(f"{'MMD' if kind == 'two-sample' else 'HSIC'} test: "
                 f"{'reject' if res.reject else 'do not reject'} at α = {res.alpha:g}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)

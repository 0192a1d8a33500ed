"""``kernelkit kde``: kernel density estimate of a data file (CSV or NPY)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from typing import Any

import numpy as np

from ..exceptions import InputValueError
from ._common import fmt_seconds, make_console, read_table
from ._scheduler import add_scheduler_argument, scheduler_from_args

HELP = ("Fit a kernel density estimate to DATA (CSV with a header, or .npy) and score "
        "it, optionally at other points, with modes and a plot.")

#: Queries scored per progress-bar step.
CHUNK = 4096


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", help="CSV file (first row may name the columns) or .npy")
    parser.add_argument("--columns", default=None,
                        help="comma-separated column names or 0-based indices (default all)")
    parser.add_argument("--bandwidth", default="scott",
                        help="scott, silverman, isj, cv, or a positive number (default scott)")
    parser.add_argument("--kernel", default="gaussian",
                        choices=("gaussian", "tophat", "epanechnikov", "exponential",
                                 "linear", "cosine"))
    parser.add_argument("--rtol", type=float, default=0.0,
                        help="relative tolerance of each density (default 0: exact)")
    parser.add_argument("--query", default=None,
                        help="score these points instead of DATA (same columns)")
    parser.add_argument("--out", default=None, help="write log-densities to this CSV")
    parser.add_argument("--plot", default=None, help="write a PNG plot (1-D or 2-D data)")
    parser.add_argument("--modes", action="store_true",
                        help="find the modes (Gaussian kernel) and report them")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_scheduler_argument(parser)


def validate(args: argparse.Namespace) -> str | None:
    bw = args.bandwidth
    if bw not in ("scott", "silverman", "isj", "cv"):
        try:
            value = float(bw)
        except ValueError:
            return f"--bandwidth must be scott, silverman, isj, cv or a number, got {bw!r}"
        if not (value > 0 and np.isfinite(value)):
            return f"--bandwidth must be a finite number > 0, got {bw!r}"
        args.bandwidth = value
    if args.modes and args.kernel != "gaussian":
        return "--modes needs --kernel gaussian (mean shift uses the Gaussian kernel)"
    if args.rtol < 0:
        return f"--rtol must be >= 0, got {args.rtol}"
    return None


def _score(kde: Any, Q: np.ndarray, console: Any) -> np.ndarray:
    from rich.progress import Progress

    out = np.empty(Q.shape[0])
    with Progress(console=console, transient=True,
                  disable=not console.is_terminal or Q.shape[0] <= CHUNK) as bar:
        task = bar.add_task("scoring", total=Q.shape[0])
        for i0 in range(0, Q.shape[0], CHUNK):
            out[i0:i0 + CHUNK] = kde.score_samples(Q[i0:i0 + CHUNK])
            bar.advance(task, min(CHUNK, Q.shape[0] - i0))
    return out


def _plot(path: str, X: np.ndarray, kde: Any, modes: np.ndarray | None,
          names: list[str]) -> None:
    from .._optional import import_optional

    figure = import_optional("matplotlib.figure")
    fig = figure.Figure(figsize=(6, 4.5))
    ax = fig.add_subplot(1, 1, 1)
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * (hi - lo + 1e-12)
    if X.shape[1] == 1:
        grid = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 400)[:, None]
        ax.plot(grid[:, 0], np.exp(kde.score_samples(grid)), color="C0")
        ax.plot(X[:, 0], np.zeros(X.shape[0]), "|", color="k", alpha=0.3)
        if modes is not None:
            ax.plot(modes[:, 0], np.exp(kde.score_samples(modes)), "r*", markersize=12)
        ax.set_xlabel(names[0])
        ax.set_ylabel("density")
    else:
        gx = np.linspace(lo[0] - pad[0], hi[0] + pad[0], 120)
        gy = np.linspace(lo[1] - pad[1], hi[1] + pad[1], 120)
        mx, my = np.meshgrid(gx, gy)
        pts = np.column_stack([mx.ravel(), my.ravel()])
        if X.shape[1] > 2:
            pts = np.column_stack([pts, np.tile(X[:, 2:].mean(axis=0), (pts.shape[0], 1))])
        dens = np.exp(kde.score_samples(pts)).reshape(mx.shape)
        ax.contourf(mx, my, dens, levels=20, cmap="viridis")
        ax.scatter(X[:, 0], X[:, 1], s=2, c="w", alpha=0.3)
        if modes is not None:
            ax.plot(modes[:, 0], modes[:, 1], "r*", markersize=14)
        ax.set_xlabel(names[0])
        ax.set_ylabel(names[1])
        if X.shape[1] > 2:
            ax.set_title("first two columns (others at their mean)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def run(args: argparse.Namespace) -> int:
    from ..density import KernelDensity

    console = make_console(stderr=args.json)
    X, names = read_table(args.data, args.columns)
    Q = X if args.query is None else read_table(args.query, args.columns)[0]
    if Q.shape[1] != X.shape[1]:
        raise InputValueError(f"--query has {Q.shape[1]} columns but DATA has {X.shape[1]}; "
                              "select the same columns with --columns.")
    t0 = time.perf_counter()
    kde = KernelDensity(bandwidth=args.bandwidth, kernel=args.kernel, rtol=args.rtol).fit(X)
    t_fit = time.perf_counter() - t0
    t0 = time.perf_counter()
    with scheduler_from_args(args) as client:
        if client is None:
            logd = _score(kde, Q, console)
        else:  # the scoring pass runs on the cluster, one task per row chunk of Q
            from ..distributed import row_chunks

            with console.status(f"scoring on the Dask cluster at {args.scheduler}"):
                logd = np.asarray(kde.score_samples(row_chunks(Q)).compute())
    t_score = time.perf_counter() - t0
    modes = kde.modes() if args.modes else None
    if args.out:
        with open(args.out, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([*names, "log_density"])
            for row, value in zip(Q, logd, strict=True):
                writer.writerow([*map(repr, row.tolist()), repr(float(value))])
    if args.plot:
        _plot(args.plot, X, kde, modes, names)
    bw = np.atleast_1d(np.asarray(kde.bandwidth_, dtype=np.float64))
    result = {"n_samples": int(X.shape[0]), "n_features": int(X.shape[1]),
              "columns": names, "kernel": args.kernel, "bandwidth": bw.tolist(),
              "n_queries": int(Q.shape[0]), "mean_log_density": float(np.mean(logd)),
              "fit_seconds": t_fit, "score_seconds": t_score,
              "modes": None if modes is None else modes.tolist(),
              "out": args.out, "plot": args.plot}
    if args.json:
        sys.stdout.write(json.dumps(result, indent=2) + "\n")
        return 0
    console.print(f"KDE of {X.shape[0]} points x {X.shape[1]} features ({', '.join(names)}), "
                  f"kernel {args.kernel}, bandwidth "
                  + ", ".join(f"{b:.4g}" for b in bw))
    console.print(f"scored {Q.shape[0]} points in {fmt_seconds(t_score)}; mean log-density "
                  f"{np.mean(logd):.4f}")
    if modes is not None:
        console.print(f"{modes.shape[0]} mode(s):")
        for m in modes:
            console.print("  " + ", ".join(f"{v:.4g}" for v in m))
    if args.out:
        console.print(f"log-densities written to {args.out}")
    if args.plot:
        console.print(f"plot written to {args.plot}")
    return 0

"""``kernelkit fit``: train a kernel regression model on a CSV file and save it."""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..exceptions import InputValueError
from ._common import fmt_seconds, kernel_from_name, make_console, positive_int, print_json
from ._scheduler import add_scheduler_argument, scheduler_from_args

HELP = ("Fit kernel ridge regression (krr), Falkon (falkon) or a Gaussian process (gp) to "
        "TRAIN.csv and save the model (JSON + npz, no pickle).")

METHODS = ("krr", "falkon", "gp")
KERNELS = ("gaussian", "laplace", "matern32", "matern52")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("method", choices=METHODS, help="krr, falkon or gp")
    parser.add_argument("train", help="CSV file whose first row names the columns")
    parser.add_argument("--target", required=True, help="name of the column to predict")
    parser.add_argument("--features", default=None,
                        help="comma-separated feature columns (default: all but the target)")
    parser.add_argument("--model", default=None,
                        help="where to save the model (default: TRAIN with suffix .kk)")
    parser.add_argument("--kernel", choices=KERNELS, default="gaussian")
    parser.add_argument("--bandwidth", type=float, default=1.0,
                        help="kernel length scale (the GP's starting value; default 1)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="ridge (krr default 1.0, falkon default 1e-3)")
    parser.add_argument("--noise", type=float, default=1e-2,
                        help="GP noise variance (starting value; default 1e-2)")
    parser.add_argument("--no-optimize", action="store_true",
                        help="GP: keep the given bandwidth and noise")
    parser.add_argument("--n-centers", type=positive_int, default=1000,
                        help="Falkon centres (default 1000)")
    parser.add_argument("--max-iter", type=positive_int, default=30,
                        help="Falkon CG iterations (default 30)")
    parser.add_argument("--kernel-dtype", choices=("float64", "float32", "mixed"),
                        default="float64",
                        help="Falkon: precision of the kernel in each CG pass; 'mixed' runs "
                             "float32 passes refined to the float64 solution (default "
                             "float64)")
    parser.add_argument("--standardize", action="store_true",
                        help="scale features to zero mean and unit variance (stored in the "
                             "model; predict applies it)")
    parser.add_argument("--plot", default=None,
                        help="write a PNG: fitted vs true values (and Falkon's CG residuals)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Falkon centres")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_scheduler_argument(parser)


def validate(args: argparse.Namespace) -> str | None:
    for name in ("bandwidth", "noise"):
        value = getattr(args, name)
        if not (np.isfinite(value) and value > 0):
            return f"--{name} must be a finite number > 0, got {value}"
    if args.alpha is not None and not (np.isfinite(args.alpha) and args.alpha > 0):
        return f"--alpha must be a finite number > 0, got {args.alpha}"
    if getattr(args, "scheduler", None) and args.method != "falkon":
        return (f"--scheduler runs Falkon's passes on a Dask cluster; {args.method} runs in "
                "this process only (use `kernelkit fit falkon ...`, or drop --scheduler)")
    return None


def read_csv(path: str) -> tuple[np.ndarray, list[str]]:
    """All columns of a numeric CSV whose first row names them, as float64."""
    p = Path(path)
    if not p.exists():
        raise InputValueError(f"{path}: no such file.")
    with p.open(newline="") as fh:
        rows = [r for r in csv.reader(fh) if r]
    if len(rows) < 2:
        raise InputValueError(f"{path} needs a header row naming the columns and at least "
                              "one data row.")
    names = [c.strip() for c in rows[0]]
    try:
        data = np.array([[float(v) for v in r] for r in rows[1:]], dtype=np.float64)
    except ValueError as exc:
        raise InputValueError(f"{path}: non-numeric value ({exc}); every column must be "
                              "numeric.") from None
    if data.ndim != 2 or data.shape[1] != len(names):
        raise InputValueError(f"{path}: every row must have {len(names)} values like the "
                              "header.")
    return data, names


def select_columns(data: np.ndarray, names: list[str], wanted: list[str],
                   path: str) -> np.ndarray:
    missing = [c for c in wanted if c not in names]
    if missing:
        raise InputValueError(f"{path}: no column(s) {missing}; the header has {names}.")
    return data[:, [names.index(c) for c in wanted]]


def run(args: argparse.Namespace) -> int:
    from .. import io
    from ..regression import FalkonRegressor, GaussianProcessRegressor, KernelRidge

    console = make_console(stderr=args.json)
    data, names = read_csv(args.train)
    if args.target not in names:
        raise InputValueError(f"{args.train}: no column {args.target!r} for --target; the "
                              f"header has {names}.")
    features = (args.features.split(",") if args.features
                else [c for c in names if c != args.target])
    if not features:
        raise InputValueError(f"{args.train}: no feature columns besides the target.")
    X = select_columns(data, names, features, args.train)
    y = data[:, names.index(args.target)]
    if not np.isfinite(y).all():
        raise InputValueError(f"{args.train}: the target column {args.target!r} has NaN or "
                              "infinite values; drop or impute those rows.")
    mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
    if args.standardize:
        mean, scale = X.mean(axis=0), X.std(axis=0)
        scale[scale == 0] = 1.0
    Xs = (X - mean) / scale
    kernel = kernel_from_name(args.kernel, args.bandwidth)
    residuals: list[float] = []
    t0 = time.perf_counter()
    if args.method == "falkon":
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("CG"), BarColumn(), TextColumn("{task.completed}/"
                      "{task.total} it, residual {task.fields[res]}"), TimeElapsedColumn(),
                      console=console, transient=True) as progress:
            task = progress.add_task("cg", total=args.max_iter, res="-")

            def callback(it: int, coef: np.ndarray, res: np.ndarray) -> None:
                residuals.append(float(np.max(res)))
                progress.update(task, completed=it, res=f"{residuals[-1]:.2e}")

            model: Any = FalkonRegressor(
                kernel=kernel, alpha=1e-3 if args.alpha is None else args.alpha,
                n_centers=args.n_centers, max_iter=args.max_iter, callback=callback,
                random_state=args.seed, kernel_dtype=args.kernel_dtype)
            with scheduler_from_args(args) as client:
                if client is None:
                    model.fit(Xs, y)
                else:  # rows of X and y go to the workers once; each CG pass runs there
                    from ..distributed import row_chunks

                    Xd = row_chunks(Xs)
                    model.fit(Xd, row_chunks(y[:, None], Xd.chunks[0][0])[:, 0])
        model.callback = None
    elif args.method == "krr":
        with console.status("kernel ridge regression"):
            model = KernelRidge(kernel=kernel, alpha=1.0 if args.alpha is None
                                else args.alpha).fit(Xs, y)
    else:
        with console.status("Gaussian process" + ("" if args.no_optimize
                                                  else ": optimising hyper-parameters")):
            model = GaussianProcessRegressor(
                kernel=kernel, noise=args.noise,
                optimizer=None if args.no_optimize else "lbfgs").fit(Xs, y)
    seconds = time.perf_counter() - t0
    # what `kernelkit predict` needs to read a test file the same way
    model.cli_columns_ = np.array(features)
    model.cli_target_ = args.target
    model.cli_mean_, model.cli_scale_ = mean, scale
    path = args.model or str(Path(args.train).with_suffix(".kk"))
    io.save(model, path)
    fitted = model.predict(Xs)
    rmse = float(np.sqrt(np.mean((fitted - y) ** 2)))
    r2 = float(1 - np.mean((fitted - y) ** 2) / max(float(np.var(y)), 1e-300))
    summary: dict[str, Any] = {"method": args.method, "n_samples": int(X.shape[0]),
                               "n_features": int(X.shape[1]), "fit_seconds": seconds,
                               "train_rmse": rmse, "train_r2": r2, "model": path}
    if args.method == "falkon":
        summary["cg_iterations"] = int(model.n_iter_)
    if args.method == "gp":
        summary.update(bandwidth=float(np.max(model.kernel_.bandwidth)),
                       output_scale=model.output_scale_, noise=model.noise_,
                       log_marginal_likelihood=model.log_marginal_likelihood_value_)
    if args.plot:
        _plot(args.plot, y, fitted, residuals, args.method)
        summary["plot"] = args.plot
    if args.json:
        print_json(summary)
    else:
        console.print(f"[bold]{args.method}[/] on {X.shape[0]} x {X.shape[1]} in "
                      f"{fmt_seconds(seconds)}: train RMSE {rmse:.4g}, R² {r2:.4f}")
        for key in ("cg_iterations", "bandwidth", "output_scale", "noise",
                    "log_marginal_likelihood"):
            if key in summary:
                console.print(f"  {key}: {summary[key]:.6g}")
        console.print(f"model saved to {path}")
    return 0


def _plot(path: str, y: np.ndarray, fitted: np.ndarray, residuals: list[float],
          method: str) -> None:
    from .._optional import import_optional

    import_optional("matplotlib")
    from matplotlib.figure import Figure

    panels = 2 if residuals else 1
    fig = Figure(figsize=(5 * panels, 4.5), layout="constrained")
    ax = fig.add_subplot(1, panels, 1)
    ax.scatter(y, fitted, s=4, alpha=0.5)
    lo, hi = float(min(y.min(), fitted.min())), float(max(y.max(), fitted.max()))
    ax.plot([lo, hi], [lo, hi], color="k", lw=1)
    ax.set(xlabel="true", ylabel="fitted", title=f"{method}: fitted vs true (train)")
    if residuals:
        ax2 = fig.add_subplot(1, 2, 2)
        ax2.semilogy(range(1, len(residuals) + 1), residuals, marker="o")
        ax2.set(xlabel="CG iteration", ylabel="relative residual",
                title="Falkon convergence")
    fig.savefig(path, dpi=90)

"""``kernelkit demo``: a tour of the engine on built-in data, with a table and a PNG.

Steps (none forms an n x n matrix): a 2-D two-moons data set; a Gaussian kernel density
estimate on a grid (``kernelkit.density.KernelDensity``), the held-out log-likelihood and
the density's modes; k nearest neighbours; a kernel ridge classifier solved by conjugate
gradients on ``KernelOperator``; Falkon regression on a smooth 8-D target; leave-one-out
1-NN on the digits images; a kernel-thinning coreset against a random subsample; and a
matvec timed against blocked numpy. Never imports torch; matplotlib is optional.
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..ops import KernelOperator
from ._common import fmt_rate, fmt_seconds, make_console, median, positive_int, print_json

HELP = ("A tour of kernelkit on built-in data: density, neighbours, a kernel solve, "
        "timing against numpy, and a PNG plot.")

#: Grid points per axis of the density and decision-function plots.
GRID = 120
#: Starting points of the mean-shift mode search.
MODE_SEEDS = 300
#: Training (and held-out) points, features and Nystrom centres of the Falkon step.
REGRESSION_N = 10_000
REGRESSION_FEATURES = 8
FALKON_CENTRES = 1000
#: Points kept by kernel thinning.
CORESET = 64
#: Neighbours per point in the kNN step.
K_NEIGHBOURS = 5
#: Bandwidth and ridge of the kernel ridge classifier (moons have unit radius).
RIDGE_BANDWIDTH = 0.3
RIDGE_LAMBDA = 1e-3
#: Bandwidth of the Gaussian kernel timed against blocked numpy.
TIMING_BANDWIDTH = 0.2
PLOT_EXTRA_HINT = 'pip install "kernelkit[plot]"'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("kernelkit-demo"),
                        help="folder for the PNG (created if missing; default ./kernelkit-demo)")
    parser.add_argument("--n", type=positive_int, default=3000,
                        help="points in the two-moons data set (default 3000, at least 20)")
    parser.add_argument("--no-plot", action="store_true", help="skip the PNG")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    parser.add_argument("--json", action="store_true",
                        help="print machine-readable results on stdout instead of a table")


def validate(args: argparse.Namespace) -> str | None:
    if args.n < 20:
        return f"--n must be at least 20 for the tour to make sense, got {args.n}"
    if args.seed < 0:
        return f"--seed must be >= 0, got {args.seed}"
    if args.out.exists() and not args.out.is_dir():
        return f"--out {args.out} exists and is not a folder; pass a folder path"
    return None


@dataclass
class Step:
    """One computed item of the tour."""

    name: str
    computed: str
    result: str
    seconds: float
    pairs: int | None = None
    values: dict[str, float] | None = None

    @property
    def pairs_per_s(self) -> float | None:
        if not self.pairs or self.seconds <= 0:
            return None
        return self.pairs / self.seconds


class _Timer:
    def __enter__(self) -> _Timer:
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.t0


def _grid(X: np.ndarray, pad: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lo, hi = X.min(axis=0) - pad, X.max(axis=0) + pad
    gx, gy = np.linspace(lo[0], hi[0], GRID), np.linspace(lo[1], hi[1], GRID)
    GX, GY = np.meshgrid(gx, gy)
    return GX, GY, np.column_stack([GX.ravel(), GY.ravel()])


def _first_other(idx: np.ndarray) -> np.ndarray:
    """Per row, the first neighbour index that is not the row itself (handles duplicates)."""
    other = idx != np.arange(idx.shape[0])[:, None]
    return idx[np.arange(idx.shape[0]), np.argmax(other, axis=1)]


def _compute(args: argparse.Namespace, status: Any) -> tuple[list[Step], dict[str, Any]]:
    import kernelkit
    from kernelkit import datasets
    from kernelkit.coresets import coreset_mmd, kernel_thinning
    from kernelkit.density import KernelDensity
    from kernelkit.exceptions import ConvergenceWarning
    from kernelkit.kernels import Gaussian
    from kernelkit.regression import FalkonRegressor

    from . import _peers

    steps: list[Step] = []
    n = args.n
    with status.status("Loading the compiled engine (the first run in a fresh checkout "
                       "compiles it, about a minute; later runs load it from the cache)"):
        with _Timer() as t:
            tiny = np.zeros((2, 2))
            kernelkit.logsumexp(Gaussian(), tiny)
            kernelkit.matvec(Gaussian(), tiny, tiny, np.ones(2))
            kernelkit.knn(tiny, tiny, 1)
    steps.append(Step("engine", "load compiled code (compiles on the very first run)",
                      "ready", t.seconds))

    with _Timer() as t:
        X, y = datasets.make_moons(n, noise=0.1, random_state=args.seed)
        Xt, yt = datasets.make_moons(n, noise=0.1, random_state=args.seed + 1)
        Xd, yd = datasets.load_digits()
    steps.append(Step("data", "datasets.make_moons (train, held-out), datasets.load_digits",
                      f"{n:,} + {n:,} points in 2-D, 2 classes; {len(yd):,} images, 64-D",
                      t.seconds))

    # Kernel density estimate (kernelkit.density): exact log-densities through logsumexp.
    kde = KernelDensity(bandwidth="scott").fit(X)
    h = kde.bandwidth_
    GX, GY, G = _grid(X, 4 * float(np.max(h)))
    with status.status("Kernel density on the grid"), _Timer() as t:
        density = np.exp(kde.score_samples(G)).reshape(GX.shape)
    cell = (GX[0, 1] - GX[0, 0]) * (GY[1, 0] - GY[0, 0])
    mass = float(density.sum() * cell)
    steps.append(Step("density", f"KernelDensity (Scott bandwidth) on a {GRID}x{GRID} grid",
                      f"h=({h[0]:.3g}, {h[1]:.3g}); integral over grid {mass:.4f}; "
                      f"max {density.max():.3g}", t.seconds, G.shape[0] * n,
                      {"bandwidth_x1": float(h[0]), "bandwidth_x2": float(h[1]),
                       "integral": mass, "max_density": float(density.max())}))

    with status.status("Held-out log-likelihood"), _Timer() as t:
        loglik = float(np.mean(kde.score_samples(Xt)))
    steps.append(Step("log-likelihood", "mean log p(x) of the held-out points",
                      f"{loglik:.4f} nats per point", t.seconds, n * n,
                      {"mean_log_density": loglik}))

    with status.status("Modes of the density (mean shift)"), _Timer() as t:
        modes = kde.modes(max_seeds=MODE_SEEDS)
    steps.append(Step("modes", f"KernelDensity.modes(): mean shift from {MODE_SEEDS} seeds",
                      f"{len(modes)} modes, densest at ({modes[0, 0]:.2f}, {modes[0, 1]:.2f})",
                      t.seconds, None, {"n_modes": float(len(modes))}))

    with status.status("k nearest neighbours"), _Timer() as t:
        dist, idx = kernelkit.knn(X, X, K_NEIGHBOURS + 1)
    dist, idx = dist[:, 1:], idx[:, 1:]
    same = float(np.mean(y[idx] == y[:, None]))
    steps.append(Step("kNN", f"{K_NEIGHBOURS} nearest neighbours of every point",
                      f"median distance to the {K_NEIGHBOURS}th {np.median(dist[:, -1]):.3g}; "
                      f"{100 * same:.1f}% share the point's class", t.seconds, n * n,
                      {"same_class_fraction": same}))

    # Kernel ridge classifier: (K + n lambda I) c = t with t = +-1, f(x) = sum_j k(x, x_j) c_j.
    ridge = Gaussian(bandwidth=RIDGE_BANDWIDTH)
    target = np.where(y == 1, 1.0, -1.0)
    alpha = n * RIDGE_LAMBDA
    op = _CountingOperator(ridge, X)
    with status.status("Kernel ridge: conjugate gradients on KernelOperator"), _Timer() as t:
        coef = op.solve(target, alpha=alpha)
    products = op.products
    residual = float(np.linalg.norm(kernelkit.matvec(ridge, X, X, coef) + alpha * coef - target)
                     / np.linalg.norm(target))
    train_acc = float(np.mean((op @ coef > 0) == (y == 1)))
    steps.append(Step("kernel ridge", "KernelOperator.solve: (K + alpha I) c = y by CG",
                      f"{products} products, relative residual {residual:.1e}; "
                      f"train accuracy {100 * train_acc:.1f}%", t.seconds,
                      products * n * n if products else None,
                      {"alpha": alpha, "residual": residual, "train_accuracy": train_acc}))

    with status.status("Predicting on the grid and the held-out set"), _Timer() as t:
        f_grid = kernelkit.matvec(ridge, G, X, coef).reshape(GX.shape)
        test_acc = float(np.mean((kernelkit.matvec(ridge, Xt, X, coef) > 0) == (yt == 1)))
    steps.append(Step("predict", "decision function on the grid and held-out points (matvec)",
                      f"held-out accuracy {100 * test_acc:.1f}%", t.seconds,
                      (G.shape[0] + n) * n, {"test_accuracy": test_acc}))

    # Falkon (kernelkit.regression): Nystrom centres + preconditioned CG, K(X, C) streamed.
    n_reg = REGRESSION_N
    Xr, yr = datasets.make_smooth_regression(n_reg, REGRESSION_FEATURES, noise=0.1,
                                             random_state=args.seed)
    Xr_test, yr_test = datasets.make_smooth_regression(n_reg, REGRESSION_FEATURES,
                                                       noise=0.1, random_state=args.seed + 1)
    centres = min(FALKON_CENTRES, n_reg)
    falkon = FalkonRegressor(kernel=Gaussian(bandwidth=2.5), alpha=1e-3, n_centers=centres,
                             random_state=args.seed)
    with status.status("Falkon regression"), warnings.catch_warnings(), _Timer() as t:
        warnings.simplefilter("ignore", ConvergenceWarning)  # RMSE is what is reported
        falkon.fit(Xr, yr)
        rmse = float(np.sqrt(np.mean((falkon.predict(Xr_test) - yr_test) ** 2)))
    steps.append(Step("regression", f"FalkonRegressor: {n_reg:,} points in "
                      f"{REGRESSION_FEATURES}-D, {centres} centres, smooth target + noise 0.1",
                      f"held-out RMSE {rmse:.3f} (noise floor 0.100)", t.seconds, None,
                      {"rmse": rmse, "noise_floor": 0.1}))

    with status.status("Leave-one-out 1-NN on the digits images"), _Timer() as t:
        _, nd = kernelkit.knn(Xd, Xd, 2)
        loo = float(np.mean(yd[_first_other(nd)] == yd))
    steps.append(Step("digits 1-NN", "leave-one-out 1-NN classifier on the digits (64-D)",
                      f"accuracy {100 * loo:.1f}% on {len(yd):,} images", t.seconds,
                      len(yd) ** 2, {"loo_accuracy": loo}))

    # Kernel thinning (kernelkit.coresets): CORESET points that keep the distribution,
    # from the largest CORESET * 2^m of the training points; MMD against a random subsample.
    size = CORESET if n >= 2 * CORESET else max(n // 4, 1)
    n_thin = size * 2 ** int(math.log2(n // size))
    with status.status("Kernel thinning (Compress++)"), _Timer() as t:
        pool = np.sort(np.random.default_rng(args.seed).permutation(n)[:n_thin])
        coreset = pool[kernel_thinning(X[pool], size=size, method="compress++",
                                       random_state=args.seed)]
        mmd_kt = coreset_mmd(X, coreset)
        uniform = np.random.default_rng(args.seed + 1).choice(n, len(coreset), replace=False)
        mmd_uniform = coreset_mmd(X, uniform)
    steps.append(Step("thinning", f"kernel_thinning: {n_thin:,} points to {len(coreset)} "
                      "(Compress++), MMD to all points",
                      f"MMD {mmd_kt:.2e} vs {mmd_uniform:.2e} for a random subsample "
                      f"({mmd_uniform / mmd_kt:.1f}x lower)", t.seconds, None,
                      {"mmd_coreset": mmd_kt, "mmd_uniform": mmd_uniform}))

    with status.status("Timing matvec against blocked numpy"):
        v = np.random.default_rng(args.seed).standard_normal(n)
        timing = Gaussian(bandwidth=TIMING_BANDWIDTH)
        ours = kernelkit.matvec(timing, X, X, v)
        theirs = _peers.matvec(X, X, v, TIMING_BANDWIDTH)
        t_ours = median([_timed(lambda: kernelkit.matvec(timing, X, X, v)) for _ in range(5)])
        t_np = median([_timed(lambda: _peers.matvec(X, X, v, TIMING_BANDWIDTH))
                       for _ in range(5)])
    rel = float(np.max(np.abs(ours - theirs)) / np.max(np.abs(theirs)))
    steps.append(Step("matvec timing",
                      f"K @ v on the {n:,} points vs blocked numpy (median of 5)",
                      f"numpy {fmt_seconds(t_np)} ({fmt_rate(n * n / t_np)} pairs/s): "
                      f"kernelkit {t_np / t_ours:.1f}x faster; max rel. diff {rel:.1e}",
                      t_ours, n * n,
                      {"kernelkit_s": t_ours, "numpy_s": t_np, "speedup": t_np / t_ours}))

    plot_data = {"X": X, "y": y, "Xt": Xt, "yt": yt, "GX": GX, "GY": GY,
                 "density": density, "modes": modes, "coreset": coreset, "uniform": uniform,
                 "f_grid": f_grid, "idx": idx}
    return steps, plot_data


class _CountingOperator(KernelOperator):
    """A KernelOperator that counts its products, to report the pairs/s of CG."""

    products = 0

    def _matvec(self, v: Any) -> np.ndarray:
        self.products += 1
        return super()._matvec(v)


def _timed(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _plot(path: Path, data: dict[str, Any]) -> None:
    """Four panels: density and modes, a zoom on the kNN graph, the kernel ridge decision
    function, the kernel-thinning coreset."""
    from kernelkit._optional import import_optional

    import_optional("matplotlib")  # raises with the pip extra to install
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    X, y, Xt, yt = data["X"], data["y"], data["Xt"], data["yt"]
    GX, GY = data["GX"], data["GY"]
    colours = np.where(y == 1, "tab:orange", "tab:blue")
    fig = Figure(figsize=(21, 5), layout="constrained")
    ax1, ax2, ax3, ax4 = fig.subplots(1, 4)

    cs = ax1.contourf(GX, GY, data["density"], levels=14, cmap="viridis")
    fig.colorbar(cs, ax=ax1, label="density")
    ax1.scatter(X[:, 0], X[:, 1], c=colours, s=2, linewidths=0, alpha=0.5)
    ax1.scatter(data["modes"][:, 0], data["modes"][:, 1], marker="*", s=220, c="red",
                edgecolors="white", linewidths=1.0, zorder=3, label="modes")
    ax1.legend(loc="lower left")
    ax1.set_title("KernelDensity and its modes")

    # Zoom on a window around the point nearest (1, 0) holding about 60 points.
    centre = X[np.argmin(np.hypot(X[:, 0] - 1.0, X[:, 1]))]
    radius = np.sort(np.max(np.abs(X - centre), axis=1))[min(60, len(X) - 1)]
    inside = np.flatnonzero(np.max(np.abs(X - centre), axis=1) <= radius)
    for i in inside:
        for j in data["idx"][i]:
            ax2.plot([X[i, 0], X[j, 0]], [X[i, 1], X[j, 1]], color="0.4", lw=0.8, zorder=1)
    near = np.max(np.abs(X - centre), axis=1) <= 1.6 * radius
    ax2.scatter(X[near, 0], X[near, 1], c=colours[near], s=18, zorder=2)
    ax2.set_xlim(centre[0] - 1.5 * radius, centre[0] + 1.5 * radius)
    ax2.set_ylim(centre[1] - 1.5 * radius, centre[1] + 1.5 * radius)
    ax2.set_title(f"{K_NEIGHBOURS}-nearest-neighbour links (zoom)")
    ax1.add_patch(Rectangle(tuple(centre - 1.5 * radius), 3 * radius, 3 * radius,
                            fill=False, edgecolor="red", lw=1.5))

    f = data["f_grid"]
    lim = float(np.max(np.abs(f))) or 1.0
    cs3 = ax3.contourf(GX, GY, f, levels=np.linspace(-lim, lim, 15), cmap="RdBu_r")
    ax3.contour(GX, GY, f, levels=[0.0], colors="black", linewidths=1.5)
    fig.colorbar(cs3, ax=ax3, label="f(x)")
    ax3.scatter(Xt[:, 0], Xt[:, 1], c=np.where(yt == 1, "tab:orange", "tab:blue"), s=2,
                linewidths=0)
    ax3.set_title("Kernel ridge by CG; held-out points")
    ax4.scatter(X[:, 0], X[:, 1], c="0.85", s=2, linewidths=0)
    u, c = X[data["uniform"]], X[data["coreset"]]
    ax4.scatter(u[:, 0], u[:, 1], marker="x", c="tab:gray", s=30, label="random subsample")
    ax4.scatter(c[:, 0], c[:, 1], c="tab:red", s=30, edgecolors="black", linewidths=0.5,
                label="kernel thinning")
    ax4.legend(loc="lower left")
    ax4.set_title(f"{len(c)}-point coreset (Compress++)")
    for ax in (ax1, ax2, ax3, ax4):
        ax.set_aspect("equal")
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    fig.savefig(path, dpi=90)


def run(args: argparse.Namespace) -> int:
    from kernelkit.exceptions import OptionalDependencyError

    out = make_console()
    status = make_console(stderr=True)
    if not args.json:
        out.print("[bold]kernelkit demo[/]: exact kernel computations on built-in data "
                  "[dim](the first run in a fresh checkout compiles the engine, about a "
                  "minute; later runs take seconds)[/]")
    steps, data = _compute(args, status)

    png: Path | None = None
    plot_note = "skipped (--no-plot)"
    if not args.no_plot:
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            png = args.out / "kernelkit_demo.png"
            with status.status("Drawing the plot"):
                _plot(png, data)
            plot_note = str(png)
        except OptionalDependencyError:
            png = None
            plot_note = (f"not drawn: matplotlib is not installed. "
                         f"Install it with: {PLOT_EXTRA_HINT}")

    if args.json:
        print_json({"command": "demo", "n": args.n, "seed": args.seed,
                    "steps": [dict(asdict(s), pairs_per_s=s.pairs_per_s) for s in steps],
                    "png": None if png is None else str(png), "plot": plot_note})
        return 0

    from rich.table import Table

    table = Table(title=f"kernelkit demo (n = {args.n:,}, seed {args.seed})")
    table.add_column("step", style="bold")
    table.add_column("what was computed")
    table.add_column("result")
    table.add_column("time", justify="right")
    table.add_column("pairs/s", justify="right")
    for s in steps:
        table.add_row(s.name, s.computed, s.result, fmt_seconds(s.seconds),
                      fmt_rate(s.pairs_per_s))
    out.print(table)
    total = sum(s.seconds for s in steps)
    out.print(f"Total compute time {fmt_seconds(total)}. pairs/s counts kernel evaluations "
              "(query, point) per second.")
    if png is not None:
        out.print(f"Plot written to [bold]{png}[/]")
    elif args.no_plot:
        out.print("Plot skipped (--no-plot).")
    else:
        from rich.markup import escape

        out.print(f"[yellow]No plot: matplotlib is not installed. Install it with: "
                  f"{escape(PLOT_EXTRA_HINT)}[/]")
    return 0

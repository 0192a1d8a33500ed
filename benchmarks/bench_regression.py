"""Kernel regression benchmark: kernelkit vs scikit-learn, in the same run.

Every (method, size) runs in a fresh subprocess, so its peak memory is measured alone:
``peak RSS`` is the process's maximum resident set size, ``extra`` the part above the
RSS right after the data was generated (imports + data excluded). Test RMSE is on
held-out data from the same generator (:func:`kernelkit.datasets.make_smooth_regression`,
noise σ = 0.1, so the best possible RMSE is 0.1).

Scenarios (``--only``):

* ``krr``   N = 2e4, d = 8: KernelRidge (kernelkit ``solver="auto"`` — the row shows the
  path it took — and ``"cholesky"``, sklearn), FalkonRegressor,
  Nystroem + Ridge (sklearn);
* ``large`` N = 1e6, d = 8: FalkonRegressor vs Nystroem + Ridge (sklearn);
* ``gp``    N = 5e3, d = 8: GaussianProcessRegressor with hyper-parameter optimisation
  (kernelkit vs sklearn with ConstantKernel * RBF + WhiteKernel, same bounds and start).

Usage::

    python benchmarks/bench_regression.py                 # everything (~15 minutes)
    python benchmarks/bench_regression.py --quick         # small sizes, < 60 s
    python benchmarks/bench_regression.py --only krr,gp --repeats 3 --markdown --json r.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_REPO))
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(_REPO), os.environ.get("PYTHONPATH", "")) if p)

D = 8
BANDWIDTH = 2.5          # Gaussian length scale h (sklearn gamma = 1 / (2 h^2))
ALPHA = 1e-2             # ridge of exact KRR at N = 2e4 (best of a small grid at N = 8e3)
N_TEST = 10_000

SCENARIOS: dict[str, dict[str, Any]] = {
    "krr": {"n": 20_000, "quick_n": 3_000, "methods": [
        ("kk_krr", {"alpha": ALPHA, "solver": "auto"}),
        ("sk_krr", {"alpha": ALPHA}),
        ("kk_krr", {"alpha": ALPHA, "solver": "cholesky"}),
        ("kk_falkon", {"alpha": ALPHA, "m": 3000, "iters": 30}),  # 30 it: +0.9 %, 15: +6 %
        # float32 passes with float64 residual replacement: float64's RMSE, ~1.7x faster
        ("kk_falkon", {"alpha": ALPHA, "m": 3000, "iters": 30, "kernel_dtype": "mixed"}),
        ("sk_nystroem", {"alpha": ALPHA, "m": 3000}),
    ]},
    "large": {"n": 1_000_000, "quick_n": 50_000, "methods": [
        ("kk_falkon", {"alpha": 1.0, "m": 2000, "iters": 10}),
        # float32 passes refined in float64: the same RMSE in about sklearn's time below
        ("kk_falkon", {"alpha": 1.0, "m": 2000, "iters": 10, "kernel_dtype": "mixed"}),
        # same-wall-time comparison: fewer centres and a larger ridge (CG converges in
        # 10 iterations), a fit no longer than sklearn's below (whose RMSE is limited by M:
        # 0.1805 at alpha 1, 0.1812 at alpha 10)
        ("kk_falkon", {"alpha": 10.0, "m": 1000, "iters": 10}),
        # M = 500 is sklearn's budget here: its N x M float64 features (and the centred
        # copy Ridge makes) take 8 GB; M = 1000 would need 16 GB on a shared 24 GB box.
        ("sk_nystroem", {"alpha": 1.0, "m": 500}),
    ]},
    "gp": {"n": 5_000, "quick_n": 800, "methods": [
        ("kk_gp", {}),
        ("sk_gp", {}),
    ]},
}


# ----------------------------------------------------------------------- child side
def _rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(method: str, n: int, params: dict[str, Any], seed: int) -> dict[str, Any]:
    import numpy as np

    from kernelkit.datasets import make_smooth_regression

    X, y = make_smooth_regression(n, D, noise=0.1, random_state=seed)
    Xt, yt = make_smooth_regression(N_TEST, D, noise=0.1, random_state=seed + 1000)
    gamma = 1.0 / (2 * BANDWIDTH ** 2)
    out: dict[str, Any] = {}
    if method == "kk_krr":
        from kernelkit.kernels import Gaussian
        from kernelkit.regression import KernelRidge
        model: Any = KernelRidge(kernel=Gaussian(bandwidth=BANDWIDTH), alpha=params["alpha"],
                                 solver=params.get("solver", "auto"))
    elif method == "sk_krr":
        from sklearn.kernel_ridge import KernelRidge as SkKRR
        model = SkKRR(kernel="rbf", gamma=gamma, alpha=params["alpha"])
    elif method == "kk_falkon":
        from kernelkit.kernels import Gaussian
        from kernelkit.regression import FalkonRegressor
        model = FalkonRegressor(kernel=Gaussian(bandwidth=BANDWIDTH), alpha=params["alpha"],
                                n_centers=params["m"], max_iter=params["iters"], tol=1e-10,
                                kernel_dtype=params.get("kernel_dtype", "float64"),
                                random_state=seed)
    elif method == "sk_nystroem":
        from sklearn.kernel_approximation import Nystroem
        from sklearn.linear_model import Ridge
        from sklearn.pipeline import make_pipeline
        model = make_pipeline(Nystroem(gamma=gamma, n_components=params["m"],
                                       random_state=seed), Ridge(alpha=params["alpha"]))
    elif method == "kk_gp":
        from kernelkit.kernels import Gaussian
        from kernelkit.regression import GaussianProcessRegressor
        model = GaussianProcessRegressor(kernel=Gaussian(bandwidth=1.0), noise=1e-2,
                                         output_scale=1.0)
    elif method == "sk_gp":
        from sklearn.gaussian_process import GaussianProcessRegressor as SkGPR
        from sklearn.gaussian_process.kernels import RBF, WhiteKernel
        from sklearn.gaussian_process.kernels import ConstantKernel as Const
        model = SkGPR(kernel=Const(1.0, (1e-5, 1e5)) * RBF(1.0, (1e-5, 1e5))
                      + WhiteKernel(1e-2, (1e-8, 1e5)), alpha=1e-12, random_state=seed)
    else:
        raise SystemExit(f"unknown method {method}")
    import warnings
    warnings.simplefilter("ignore")
    if method.startswith("kk_"):  # compile/warm the engine on a tiny problem first
        import kernelkit
        from kernelkit.kernels import Gaussian
        from kernelkit.ops import normal_matvec
        kernelkit.matvec(Gaussian(bandwidth=BANDWIDTH), X[:64], X[:64], y[:64])
        for dt in ("float64", "float32"):  # Falkon's fused pass, both kernel dtypes
            normal_matvec(Gaussian(bandwidth=BANDWIDTH), X[:64], X[:8], y[:8],
                          compute_dtype=dt)
    base = _rss_mib()
    t0 = time.perf_counter()
    model.fit(X, y)
    out["fit_s"] = time.perf_counter() - t0
    out["peak_mib"] = _peak_mib()
    out["extra_mib"] = out["peak_mib"] - base
    pred = model.predict(Xt)
    out["rmse"] = float(np.sqrt(np.mean((pred - yt) ** 2)))
    if method.endswith("_gp"):
        out["lml"] = float(model.log_marginal_likelihood_value_)
    if method == "kk_falkon":
        out["n_iter"] = int(model.n_iter_)
    if method == "kk_krr":  # the path "auto" took, and its work
        out["path"] = f"{model.solver_}: {model.n_iter_} it"
        if model.n_refine_:
            out["path"] += f" + {model.n_refine_} refine"
    return out


# ----------------------------------------------------------------------- parent side
def run_child(method: str, n: int, params: dict[str, Any], seed: int,
              timeout: float, script: str | Path = __file__) -> dict[str, Any]:
    """Run ``script --child method n params seed`` in a fresh process; its last line."""
    cmd = [sys.executable, str(Path(script).resolve()), "--child", method, str(n),
           json.dumps(params), str(seed)]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["?"]
        return {"error": f"exit {res.returncode}: {tail[0][:120]}"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def label(method: str, params: dict[str, Any]) -> str:
    names = {"kk_krr": "kernelkit KernelRidge", "sk_krr": "sklearn KernelRidge",
             "kk_falkon": "kernelkit Falkon", "sk_nystroem": "sklearn Nystroem+Ridge",
             "kk_gp": "kernelkit GPR (lbfgs)", "sk_gp": "sklearn GPR (lbfgs)"}
    extra = []
    if method == "kk_falkon" and "alpha" in params:
        extra.append(f"alpha={params['alpha']:g}")
    if "m" in params:
        extra.append(f"M={params['m']}")
    if "iters" in params:
        extra.append(f"{params['iters']} it")
    if "solver" in params:
        extra.append(f"solver={params['solver']}")
    if "kernel_dtype" in params:
        extra.append(f"kernel_dtype={params['kernel_dtype']}")
    return names[method] + (f" ({', '.join(extra)})" if extra else "")


def common_arguments(doc: str, scenarios: dict[str, Any],
                     timeout: float) -> argparse.ArgumentParser:
    """The options every subprocess-per-fit benchmark takes (this one and bench_gp)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 60 s)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per method (fresh process each); medians are reported")
    parser.add_argument("--only", default=",".join(scenarios),
                        help=f"comma-separated subset of {','.join(scenarios)}")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    parser.add_argument("--json", metavar="PATH", help="write raw results to PATH")
    parser.add_argument("--timeout", type=float, default=timeout,
                        help="seconds one fit may take before it is reported as a timeout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    return parser


def run_as_child(args: argparse.Namespace, child_fn: Any) -> bool:
    """In a child process (``--child METHOD N PARAMS SEED``): one fit, its JSON printed."""
    if not args.child:
        return False
    method, n, params, seed = args.child
    print(json.dumps(child_fn(method, int(n), json.loads(params), int(seed))))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = common_arguments(__doc__, SCENARIOS, 900.0)
    parser.add_argument("--methods", default="",
                        help="comma-separated subset of method keys (kk_krr, sk_krr, kk_falkon, "
                             "sk_nystroem, kk_gp, sk_gp); default all. Keep the sklearn "
                             "reference (sk_krr / sk_gp / last row) for the ratios")
    args = parser.parse_args(argv)
    if run_as_child(args, child):
        return 0
    results: dict[str, list[dict[str, Any]]] = {}
    for name in [s.strip() for s in args.only.split(",") if s.strip()]:
        spec = SCENARIOS[name]
        n = spec["quick_n"] if args.quick else spec["n"]
        rows = []
        wanted = {m.strip() for m in args.methods.split(",") if m.strip()}
        for method, params in spec["methods"]:
            if wanted and method not in wanted:
                continue
            if args.quick and "m" in params:
                params = {**params, "m": min(params["m"], n // 5)}
            runs = []
            for r in range(args.repeats):
                print(f"[{name}] {label(method, params)} N={n} run {r + 1}", file=sys.stderr,
                      flush=True)
                runs.append(run_child(method, n, params, args.seed, args.timeout))
            ok = [x for x in runs if "error" not in x]
            row: dict[str, Any] = {"method": label(method, params), "n": n, "runs": runs}
            if ok:
                for key in ok[0]:
                    values = [x[key] for x in ok]
                    row[key] = statistics.median_low(values) if isinstance(values[0], str) \
                        else statistics.median(values)
            else:
                row["error"] = runs[0]["error"]
            rows.append(row)
        results[name] = rows
        print_table(name, rows, args.markdown)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def print_table(name: str, rows: list[dict[str, Any]], markdown: bool) -> None:
    sk_ref = {"krr": "sklearn KernelRidge", "gp": "sklearn GPR"}.get(name)
    refs = [r for r in rows if sk_ref and r["method"].startswith(sk_ref)]
    ref = refs[0] if refs else rows[-1]   # the sklearn reference row
    head = ["method", "N", "fit s", "x faster than ref", "peak RSS MiB", "extra MiB",
            "peak / ref", "test RMSE"]
    if name == "gp":
        head.append("log marg. lik.")
    lines = []
    for row in rows:
        if "error" in row:
            lines.append([row["method"], str(row["n"]), row["error"]] + [""] * (len(head) - 3))
            continue
        speed = ref.get("fit_s", float("nan")) / row["fit_s"]
        mem = row["extra_mib"] / ref["extra_mib"] if ref.get("extra_mib") else float("nan")
        method = row["method"] + (f" → {row['path']}" if "path" in row else "")
        cells = [method, f"{row['n']:,}", f"{row['fit_s']:.2f}", f"{speed:.2f}",
                 f"{row['peak_mib']:.0f}", f"{row['extra_mib']:.0f}", f"{mem:.2f}",
                 f"{row['rmse']:.4f}"]
        if name == "gp":
            cells.append(f"{row.get('lml', float('nan')):.4f}")
        lines.append(cells)
    print(f"\n## {name} (reference row: {ref['method']})\n")
    emit_table(head, lines, markdown)


def emit_table(head: list[str], lines: list[list[str]], markdown: bool) -> None:
    """Print rows of cells as a Markdown table or as aligned plain text."""
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for cells in lines:
            print("| " + " | ".join(cells) + " |")
    else:
        widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(head)]
        print("  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        for cells in lines:
            print("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())

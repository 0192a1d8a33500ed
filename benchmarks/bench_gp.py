"""Gaussian-process benchmark: exact (Cholesky) vs iterative (BBMM) vs scikit-learn, same run.

Every (method, size) runs in a fresh subprocess, so its peak memory is measured alone:
``peak RSS`` is the process's maximum resident set size, ``extra`` the part above the RSS
right after the data was generated. Data: :func:`kernelkit.datasets.make_smooth_regression`
(d = 8, noise σ = 0.1, so the best possible test RMSE is 0.1); Gaussian kernel.

Scenarios (``--only``):

* ``5k``  N = 5e3: hyper-parameters optimised by L-BFGS-B from the same start (h = 1,
  output scale 1, noise 1e-2) with kernelkit's exact solver, scikit-learn's GPR
  (ConstantKernel * RBF + WhiteKernel, same bounds) and kernelkit's iterative solver; plus
  the iterative solver at the exact optimum with fixed hyper-parameters, so "LML - exact"
  isolates the stochastic log-determinant error. "LML exact at θ" re-scores every row's θ
  with the exact solver (what the optimiser actually reached).
* ``50k`` N = 5e4: the iterative solver alone with fixed hyper-parameters (the exact
  optimum found in ``5k`` when that ran first, else ``FIXED_THETA``): fit time, memory,
  test RMSE, the LML estimate and its standard error. (The exact solver would need one
  20 GB matrix here.)

Usage::

    python benchmarks/bench_gp.py --quick          # N = 800 / 4000, < 60 s on a quiet box
    python benchmarks/bench_gp.py --only 5k,50k --markdown --json gp.json
"""

from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_regression import (  # noqa: E402
    _peak_mib,
    _rss_mib,
    common_arguments,
    emit_table,
    run_as_child,
)
from bench_regression import run_child as _run_child  # noqa: E402

os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(_REPO), os.environ.get("PYTHONPATH", "")) if p)

D = 8
N_TEST = 5_000
#: log(bandwidth, output_scale, noise) used at N = 5e4 when the 5k scenario did not run
#: first (the exact optimum of the ``--quick`` run, N = 800, seed 0).
FIXED_THETA = [math.log(2.3), math.log(0.869), math.log(0.0103)]
#: iterative solver settings (probes, preconditioner rank, CG tolerance)
ITER = {"n_probes": 16, "preconditioner_rank": 300, "cg_tol": 1e-3}
ITER_LARGE = {"n_probes": 8, "preconditioner_rank": 500, "cg_tol": 1e-2}

SCENARIOS: dict[str, dict[str, Any]] = {
    "5k": {"n": 5_000, "quick_n": 800,
           "methods": ["kk_exact", "sk_gp", "kk_iter", "kk_iter_fixed"]},
    "50k": {"n": 50_000, "quick_n": 4_000, "methods": ["kk_iter_fixed"]},
}


# ----------------------------------------------------------------------- child side
def child(method: str, n: int, params: dict[str, Any], seed: int) -> dict[str, Any]:
    import warnings

    import numpy as np

    import kernelkit
    from kernelkit.datasets import make_smooth_regression
    from kernelkit.kernels import Gaussian
    from kernelkit.regression import GaussianProcessRegressor

    X, y = make_smooth_regression(n, D, noise=0.1, random_state=seed)
    Xt, yt = make_smooth_regression(N_TEST, D, noise=0.1, random_state=seed + 1000)
    iter_kw = params.get("iter", ITER)
    model: Any
    if method == "kk_exact":
        model = GaussianProcessRegressor(kernel=Gaussian(bandwidth=1.0), noise=1e-2,
                                         solver="cholesky")
    elif method == "kk_iter":
        model = GaussianProcessRegressor(kernel=Gaussian(bandwidth=1.0), noise=1e-2,
                                         solver="iterative", random_state=seed, **iter_kw)
    elif method == "kk_iter_fixed":
        h, s, nz = np.exp(params["theta"])
        model = GaussianProcessRegressor(kernel=Gaussian(bandwidth=float(h)), noise=float(nz),
                                         output_scale=float(s), optimizer=None,
                                         solver="iterative", random_state=seed, **iter_kw)
    elif method == "sk_gp":
        from sklearn.gaussian_process import GaussianProcessRegressor as SkGPR
        from sklearn.gaussian_process.kernels import RBF, WhiteKernel
        from sklearn.gaussian_process.kernels import ConstantKernel as Const
        model = SkGPR(kernel=Const(1.0, (1e-5, 1e5)) * RBF(1.0, (1e-5, 1e5))
                      + WhiteKernel(1e-2, (1e-8, 1e5)), alpha=1e-12, random_state=seed)
    else:
        raise SystemExit(f"unknown method {method}")
    warnings.simplefilter("ignore")
    kernelkit.matvec(Gaussian(bandwidth=1.0), X[:64], X[:64], y[:64])  # warm the engine
    base = _rss_mib()
    t0 = time.perf_counter()
    model.fit(X, y)
    out: dict[str, Any] = {"fit_s": time.perf_counter() - t0}
    out["peak_mib"] = _peak_mib()
    out["extra_mib"] = out["peak_mib"] - base
    pred = model.predict(Xt)
    out["rmse"] = float(np.sqrt(np.mean((pred - yt) ** 2)))
    out["lml"] = float(model.log_marginal_likelihood_value_)
    if method == "sk_gp":
        k = model.kernel_
        theta = [math.log(k.k1.k2.length_scale), math.log(k.k1.k1.constant_value),
                 math.log(k.k2.noise_level)]
    else:
        theta = [float(t) for t in model.theta_]
        out["lml_se"] = float(model.log_marginal_likelihood_std_)
        out["cg_iter"] = int(model.n_cg_iter_)
    out["theta"] = theta
    if params.get("rescore"):  # the exact LML at this θ (extra time, not in fit_s)
        ref = GaussianProcessRegressor(kernel=Gaussian(bandwidth=1.0), optimizer=None,
                                       solver="cholesky").fit(X[:8], y[:8])
        ref.X_train_, ref.y_train_ = X, y
        ref.solver_ = "cholesky"
        out["lml_exact_at_theta"] = float(ref.log_marginal_likelihood(np.array(theta)))
    return out


# ----------------------------------------------------------------------- parent side
def run_child(method: str, n: int, params: dict[str, Any], seed: int,
              timeout: float) -> dict[str, Any]:
    return _run_child(method, n, params, seed, timeout, script=__file__)


LABELS = {"kk_exact": "kernelkit GPR exact (lbfgs)", "sk_gp": "sklearn GPR (lbfgs)",
          "kk_iter": "kernelkit GPR iterative (lbfgs)",
          "kk_iter_fixed": "kernelkit GPR iterative (fixed θ)"}


def main(argv: list[str] | None = None) -> int:
    args = common_arguments(__doc__, SCENARIOS, 3600.0).parse_args(argv)
    if run_as_child(args, child):
        return 0
    results: dict[str, list[dict[str, Any]]] = {}
    theta = list(FIXED_THETA)
    for name in [s.strip() for s in args.only.split(",") if s.strip()]:
        spec = SCENARIOS[name]
        n = spec["quick_n"] if args.quick else spec["n"]
        rows = []
        for method in spec["methods"]:
            params: dict[str, Any] = {"theta": theta, "rescore": name == "5k",
                                      "iter": ITER if name == "5k" else ITER_LARGE}
            runs = []
            for r in range(args.repeats):
                print(f"[{name}] {LABELS[method]} N={n} run {r + 1}", file=sys.stderr,
                      flush=True)
                runs.append(run_child(method, n, params, args.seed, args.timeout))
            ok = [x for x in runs if "error" not in x]
            row: dict[str, Any] = {"method": LABELS[method], "n": n, "runs": runs}
            if ok:
                for key, value in ok[0].items():
                    if isinstance(value, (int, float)):
                        row[key] = statistics.median(x[key] for x in ok)
                row["theta"] = ok[0]["theta"]
                if method == "kk_exact":
                    theta = row["theta"]   # the later fixed-θ rows use the exact optimum
            else:
                row["error"] = runs[0]["error"]
            rows.append(row)
        results[name] = rows
        print_table(name, rows, args.markdown)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


def print_table(name: str, rows: list[dict[str, Any]], markdown: bool) -> None:
    ref = rows[0]
    head = ["method", "N", "fit s", "x faster than first", "extra MiB", "test RMSE",
            "LML (estimate)", "± s.e.", "LML exact at θ", "LML - first", "CG it",
            "h, scale, noise"]
    lines = []
    for row in rows:
        if "error" in row:
            lines.append([row["method"], f"{row['n']:,}", row["error"]]
                         + [""] * (len(head) - 3))
            continue
        speed = ref.get("fit_s", math.nan) / row["fit_s"]
        exact = row.get("lml_exact_at_theta", math.nan)
        diff = row["lml"] - ref.get("lml", math.nan)
        hyper = ", ".join(f"{math.exp(t):.3g}" for t in row["theta"])
        lines.append([row["method"], f"{row['n']:,}", f"{row['fit_s']:.1f}", f"{speed:.2f}",
                      f"{row['extra_mib']:.0f}", f"{row['rmse']:.4f}", f"{row['lml']:.2f}",
                      f"{row.get('lml_se', 0.0):.2f}", f"{exact:.2f}", f"{diff:+.2f}",
                      str(int(row.get("cg_iter", 0))), hyper])
    print(f"\n## {name} (first row is the reference)\n")
    emit_table(head, lines, markdown)


if __name__ == "__main__":
    raise SystemExit(main())

"""Kernel density estimation: kernelkit vs scikit-learn KernelDensity and KDEpy, same run.

Usage::

    python benchmarks/bench_density.py --quick            # < 60 s, smaller sizes
    python benchmarks/bench_density.py                    # the issue's sizes (minutes)
    python benchmarks/bench_density.py --repeats 3 --markdown --json density.json

Cases
-----
* ``exact``: Gaussian ``score_samples`` with N fitted points and Q queries (d = 2 and 8,
  standard normal data, Scott bandwidth ``N^(-1/(d+4))``), rtol = 0 and rtol = 1e-4;
  ``kernelkit_unpruned_s`` is one run of the same sums over every pair (no pruning).
  scikit-learn is timed on ``--sklearn-queries`` of the queries (it needs tens of seconds
  per full run) and its time is scaled to all Q queries; ``--sklearn-queries 0`` times
  it on all of them. Accuracy: max relative difference of the log-densities from
  scikit-learn's on the timed queries, and the max relative *density* error of each
  against a dense float64 oracle on up to 200 queries.
* ``grid``: ``grid_density`` vs KDEpy ``FFTKDE`` (same bandwidth and grid size), each
  compared with the exact KDE at its own grid points: max |error| relative to the peak,
  and the max pointwise relative error where the density is >= 1e-3 of its peak.
* ``isj``: ``isj_bandwidth(convention="kdepy")`` vs KDEpy's ``improved_sheather_jones``
  (the relative difference is the check), plus the consistent (Botev) value.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

_REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_REPO))

from scipy.special import logsumexp as dense_lse  # noqa: E402

from kernelkit.density import KernelDensity, grid_density, isj_bandwidth  # noqa: E402
from kernelkit.density._exact import log_kernel_sums  # noqa: E402


def _time(fn: Any, repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _oracle(X: np.ndarray, Q: np.ndarray, h: float) -> np.ndarray:
    """Dense float64 Gaussian log-density (chunked over X)."""
    n, d = X.shape
    parts = []
    for j0 in range(0, n, 20_000):
        diff = (Q[:, None, :] - X[None, j0:j0 + 20_000]) / h
        parts.append(dense_lse(-0.5 * np.einsum("ijk,ijk->ij", diff, diff), axis=1))
    return (dense_lse(np.stack(parts, axis=1), axis=1) - math.log(n) - d * math.log(h)
            - 0.5 * d * math.log(2 * math.pi))


def _rel_density_err(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(np.expm1(a - b))))


def bench_exact(n: int, nq: int, d: int, sk_q: int, repeats: int) -> list[dict[str, Any]]:
    from sklearn.neighbors import KernelDensity as SkKDE

    rng = np.random.default_rng(d)
    X = rng.normal(size=(n, d))
    Q = rng.normal(size=(nq, d))
    h = n ** (-1.0 / (d + 4))
    sk_q = nq if sk_q <= 0 else min(sk_q, nq)
    n_or = min(200, nq)
    oracle = _oracle(X, Q[:n_or], h)
    rows = []
    for rtol in (0.0, 1e-4):
        kk = KernelDensity(bandwidth=h, rtol=rtol).fit(X)
        kk.score_samples(Q[:8])  # warm the compiled code
        t_kk, out_kk = _time(lambda kk=kk: kk.score_samples(Q), repeats)
        # The same reduction without far-field pruning (every pair), for reference.
        state = kk._state
        Qs = (Q - state.centre) / state.h
        t_plain, _ = _time(lambda st=state, Qs=Qs: log_kernel_sums(
            st.dk, Qs, st.Xs, st.weights, prune=False), 1)
        sk = SkKDE(bandwidth=h, rtol=rtol).fit(X)
        t_sk, out_sk = _time(lambda sk=sk: sk.score_samples(Q[:sk_q]), 1)
        t_sk_full = t_sk * nq / sk_q
        diff = float(np.max(np.abs(out_kk[:sk_q] - out_sk) / np.abs(out_sk)))
        rows.append({
            "case": f"exact d={d} rtol={rtol:g}", "n": n, "queries": nq,
            "kernelkit_s": t_kk, "kernelkit_unpruned_s": t_plain, "sklearn_s": t_sk_full,
            "sklearn_timed_queries": sk_q,
            "speedup": t_sk_full / t_kk,
            "target": 50.0 if rtol == 0 else 10.0,
            "max_rel_diff_vs_sklearn": diff,
            "kernelkit_density_err_vs_oracle": _rel_density_err(out_kk[:n_or], oracle),
            "sklearn_density_err_vs_oracle": _rel_density_err(out_sk[:n_or], oracle)
            if sk_q >= n_or else float("nan"),
        })
    return rows


def _grid_errors(points: np.ndarray, values: np.ndarray, X: np.ndarray,
                 h: float) -> tuple[float, float]:
    exact = np.exp(KernelDensity(bandwidth=h).fit(X).score_samples(points))
    err = np.abs(values - exact)
    peak = float(exact.max())
    big = exact >= 1e-3 * peak
    return float(err.max() / peak), float(np.max(err[big] / exact[big]))


def bench_grid(n: int, d: int, size: int, repeats: int) -> dict[str, Any]:
    from KDEpy import FFTKDE

    rng = np.random.default_rng(10 + d)
    X = rng.normal(size=(n, d))
    h = float(n ** (-1.0 / (d + 4)))
    grid_density(X[:1000], grid_size=size, bandwidth=h)  # compile the binning
    t_kk, res = _time(lambda: grid_density(X, grid_size=size, bandwidth=h), repeats)
    fft = FFTKDE(kernel="gaussian", bw=h)
    t_kp, (pts, vals) = _time(lambda: fft.fit(X).evaluate(size), repeats)
    mesh = np.stack(np.meshgrid(*res.axes, indexing="ij"), axis=-1).reshape(-1, d)
    e_kk = _grid_errors(mesh, res.density.ravel(), X, h)
    e_kp = _grid_errors(np.asarray(pts).reshape(-1, d), np.asarray(vals).ravel(), X, h)
    return {"case": f"grid d={d} n={n} grid={size}^{d}", "kernelkit_s": t_kk,
            "kdepy_s": t_kp, "time_ratio_kk_over_kdepy": t_kk / t_kp, "target": "<= 1.5",
            "kernelkit_err_rel_peak": e_kk[0], "kdepy_err_rel_peak": e_kp[0],
            "kernelkit_err_pointwise": e_kk[1], "kdepy_err_pointwise": e_kp[1]}


def bench_isj(n: int) -> list[dict[str, Any]]:
    from KDEpy.bw_selection import improved_sheather_jones

    rng = np.random.default_rng(3)
    datasets = {
        "normal": rng.normal(size=n),
        "bimodal": np.concatenate([rng.normal(-5, 1, n // 2), rng.normal(5, 1, n // 2)]),
        "student-t3": rng.standard_t(3, size=n),
    }
    rows = []
    for name, x in datasets.items():
        t_kk, kk = _time(lambda x=x: isj_bandwidth(x, convention="kdepy")[0], 3)
        t_kp, kp = _time(lambda x=x: improved_sheather_jones(x[:, None]), 3)
        rows.append({"case": f"isj {name} n={n}", "kernelkit_kdepy_convention": kk,
                     "kdepy": kp, "rel_diff": abs(kk - kp) / kp,
                     "kernelkit_botev": float(isj_bandwidth(x)[0]),
                     "kernelkit_s": t_kk, "kdepy_s": t_kp})
    return rows


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _table(rows: list[dict[str, Any]], markdown: bool) -> str:
    keys = list(rows[0])
    lines = []
    if markdown:
        lines.append("| " + " | ".join(keys) + " |")
        lines.append("|" + "---|" * len(keys))
        lines += ["| " + " | ".join(_fmt(r.get(k)) for k in keys) + " |" for r in rows]
    else:
        lines.append("  ".join(keys))
        lines += ["  ".join(_fmt(r.get(k)) for k in keys) for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (< 60 s)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (median)")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    parser.add_argument("--json", type=str, default=None, help="write results here")
    parser.add_argument("--sklearn-queries", type=int, default=None,
                        help="queries timed for scikit-learn (0 = all)")
    parser.add_argument("--only", default="exact,grid,isj", help="subset of exact,grid,isj")
    args = parser.parse_args(argv)
    only = set(args.only.split(","))
    quick = args.quick
    n, nq = (20_000, 2_000) if quick else (100_000, 10_000)
    sk_q = args.sklearn_queries if args.sklearn_queries is not None else (200 if quick
                                                                          else 500)
    results: dict[str, Any] = {"quick": quick, "repeats": args.repeats}
    if "exact" in only:
        rows = []
        for d in (2, 8):
            rows += bench_exact(n, nq, d, sk_q, args.repeats)
        results["exact"] = rows
        print(_table(rows, args.markdown), flush=True)
    if "grid" in only:
        rows = [bench_grid(100_000 if quick else 1_000_000, 1, 1024, args.repeats),
                bench_grid(20_000 if quick else 100_000, 2, 128, args.repeats)]
        results["grid"] = rows
        print(_table(rows, args.markdown), flush=True)
    if "isj" in only:
        rows = bench_isj(10_000 if quick else 100_000)
        results["isj"] = rows
        print(_table(rows, args.markdown), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Kernel approximations vs scikit-learn's RBFSampler and Nystroem, in one run.

Usage::

    python benchmarks/bench_approx.py             # full (~10 min on a quiet 2-core box)
    python benchmarks/bench_approx.py --quick     # < 60 s version
    python benchmarks/bench_approx.py --repeats 5 --markdown --json approx.json

Tables:
  features  relative Frobenius error ||K - Z Zᵀ|| / ||K|| of the Gaussian kernel at equal
            n_components, kernelkit methods vs sklearn RBFSampler (ratio < 1: better), d = 8..64
  mse       Monte-Carlo MSE of pointwise kernel estimates, positive (FAVOR+) and Fourier
            features with i.i.d. / orthogonal / simplex directions, 95 % intervals. The
            SimRF paper proves simplex < orthogonal for positive features only; the Fourier
            rows are shown for comparison (there orthogonal is not beaten, see docs/approx.md)
  nystroem  spectral-norm error on very unequal clusters: uniform (kernelkit and sklearn
            Nystroem) vs RLS centres; how many RLS centres reach uniform's error
  rls       seconds to draw 1000 centres by ridge leverage scores from 1e6 points (1e5 quick)
  planner   approximate(): chosen method, rank, error; planning / build inside the call, and
            the call against building the chosen method yourself (standalone)
  sequential SequentialNystroem streamed over the unequal clusters (shuffled, batches of
            200) vs sklearn Nystroem and kernelkit RLS Nystroem with as many centres
Medians over --repeats. The machine may be shared: compare ratios, not seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

_REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_REPO))

from sklearn.kernel_approximation import Nystroem as SkNystroem  # noqa: E402
from sklearn.kernel_approximation import RBFSampler  # noqa: E402

from kernelkit.approx import (  # noqa: E402
    Nystroem,
    RandomFeatures,
    SequentialNystroem,
    approximate,
    rls_sample,
)
from kernelkit.approx._features import sample_frequencies  # noqa: E402
from kernelkit.approx._spectral import spectrum_of  # noqa: E402
from kernelkit.exceptions import MemoryBudgetError  # noqa: E402
from kernelkit.kernels import Gaussian  # noqa: E402


def _table(title: str, header: list[str], rows: list[list[Any]], markdown: bool) -> str:
    cells = [[f"{c:.3g}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    if markdown:
        lines = [f"### {title}", "", "| " + " | ".join(header) + " |",
                 "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in cells]
        return "\n".join(lines) + "\n"
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    out = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out) + "\n"


def bench_features(dims: list[int], n: int, n_components: int, repeats: int) -> list[list[Any]]:
    rows = []
    for d in dims:
        rng = np.random.default_rng(d)
        X = rng.normal(size=(n, d))
        h = float(np.sqrt(d))  # keeps kernel values O(1) across d
        K = Gaussian(bandwidth=h)(X)
        norm = np.linalg.norm(K)
        errs: dict[str, list[float]] = {}
        for r in range(repeats):
            sk = RBFSampler(gamma=0.5 / h**2, n_components=n_components, random_state=r)
            Z = sk.fit_transform(X)
            errs.setdefault("sklearn RBFSampler", []).append(np.linalg.norm(K - Z @ Z.T) / norm)
            for method in ("iid", "orthogonal", "structured", "simplex", "qmc"):
                Z = RandomFeatures(kernel=Gaussian(bandwidth=h), n_components=n_components,
                                   method=method, random_state=r).fit_transform(X)
                errs.setdefault(method, []).append(np.linalg.norm(K - Z @ Z.T) / norm)
        base = statistics.median(errs["sklearn RBFSampler"])
        for name, e in errs.items():
            med = statistics.median(e)
            rows.append([d, n_components, name, med, med / base])
    return rows


def bench_mse(dims: list[int], draws: int) -> list[list[Any]]:
    """Monte-Carlo MSE of the pointwise kernel estimates over all pairs of 16 points, with
    m = d frequencies (one coupled block) for every coupling: equal cost. 95 % intervals
    are mean ± 1.96 s.e. over ``draws`` independent draws; ratios carry delta-method
    intervals (the couplings' draws are independent)."""
    spectrum = spectrum_of(Gaussian())
    rows = []
    for d in dims:
        rng = np.random.default_rng(d)
        # ||x|| about 0.4 (positive) and 1.2 (Fourier) at every d: the same kernel values
        for kind, scale in (("positive", 0.4 / np.sqrt(d)), ("fourier", 1.2 / np.sqrt(d))):
            X = scale * rng.normal(size=(16, d))
            X -= X.mean(axis=0)
            K = Gaussian()(X)
            sq = (X * X).sum(axis=1)
            res = {}
            for coupling in ("iid", "orthogonal", "simplex"):
                errs = []
                for s in range(draws):
                    W = sample_frequencies(spectrum, coupling, d, d, np.random.default_rng(s))
                    if kind == "positive":
                        Z = np.exp(X @ W.T - sq[:, None]) / np.sqrt(d)
                    else:
                        P = X @ W.T
                        Z = np.c_[np.cos(P), np.sin(P)] / np.sqrt(d)
                    errs.append(((Z @ Z.T - K) ** 2).mean())
                res[coupling] = (float(np.mean(errs)), float(np.std(errs) / np.sqrt(draws)))

            def ratio(a: str, b: str, res: dict = res) -> str:
                (ma, sa), (mb, sb) = res[a], res[b]
                r = ma / mb
                half = 1.96 * r * float(np.hypot(sa / ma, sb / mb))
                return f"{r:.3g} [{r - half:.3g}, {r + half:.3g}]"

            for coupling, (mse, se) in res.items():
                rows.append([kind, d, coupling, mse, f"[{mse - 1.96 * se:.3g}, "
                             f"{mse + 1.96 * se:.3g}]", ratio(coupling, "iid"),
                             ratio(coupling, "orthogonal")])
    return rows


def _spectral_error(K: np.ndarray, Z: np.ndarray) -> float:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return float(np.linalg.eigvalsh(K - Z @ Z.T)[-1])


def bench_nystroem(n_big: int, m: int, repeats: int) -> list[list[Any]]:
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 0.3, (n_big, 2)), rng.normal(5, 0.3, (n_big // 100, 2)),
              rng.normal(-5, 0.3, (n_big // 100, 2)), rng.normal((5, -5), 0.3, (5, 2))]
    kernel = Gaussian(bandwidth=0.5)
    K = kernel(X)
    rows = []

    def med(make: Any) -> float:
        return statistics.median(_spectral_error(K, make(r).fit_transform(X))
                                 for r in range(repeats))

    uni = med(lambda r: Nystroem(kernel=kernel, n_components=m, random_state=r))
    sk = med(lambda r: SkNystroem(kernel="rbf", gamma=2.0, n_components=m, random_state=r))
    rows.append(["kernelkit uniform", m, uni, 1.0])
    rows.append(["sklearn Nystroem", m, sk, sk / uni])
    for mm in (m // 8, m // 4, m // 2, m):
        e = med(lambda r, mm=mm: Nystroem(kernel=kernel, n_components=mm, sampling="rls",
                                          random_state=r))
        rows.append(["kernelkit rls", mm, e, e / uni])
    return rows


def bench_sequential(n_big: int, gamma: float, repeats: int) -> list[list[Any]]:
    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(0, 0.3, (n_big, 2)), rng.normal(5, 0.3, (n_big // 100, 2)),
              rng.normal(-5, 0.3, (n_big // 100, 2)), rng.normal((5, -5), 0.3, (5, 2))]
    X = X[rng.permutation(len(X))]
    kernel = Gaussian(bandwidth=0.5)
    K = kernel(X)
    ev = np.linalg.eigvalsh(K)
    deff = float((ev / (ev + gamma)).sum())
    errs, sizes, secs = [], [], []
    for r in range(repeats):
        sn = SequentialNystroem(kernel=kernel, regularization=gamma, random_state=r)
        t = time.perf_counter()
        for start in range(0, len(X), 200):
            sn.partial_fit(X[start:start + 200])
        secs.append(time.perf_counter() - t)
        errs.append(_spectral_error(K, sn.transform(X)))
        sizes.append(sn.n_components_)
    m = int(statistics.median(sizes))
    seq = statistics.median(errs)
    sk = statistics.median(_spectral_error(K, SkNystroem(
        kernel="rbf", gamma=2.0, n_components=m, random_state=r).fit_transform(X))
        for r in range(repeats))
    rls = statistics.median(_spectral_error(K, Nystroem(
        kernel=kernel, n_components=m, sampling="rls", random_state=r).fit_transform(X))
        for r in range(repeats))
    return [[len(X), deff, "SequentialNystroem (stream)", m, seq / gamma, statistics.median(secs),
             seq / sk],
            [len(X), deff, "sklearn Nystroem (batch)", m, sk / gamma, "-", 1.0],
            [len(X), deff, "kernelkit rls (batch)", m, rls / gamma, "-", rls / sk]]


def bench_rls(n: int, repeats: int) -> list[list[Any]]:
    X = np.random.default_rng(1).normal(size=(n, 5)).astype(np.float32)
    times = []
    for r in range(repeats):
        t = time.perf_counter()
        rls_sample(Gaussian(bandwidth=1.0), X, 1000, regularization=1.0, random_state=r)
        times.append(time.perf_counter() - t)
    return [[n, 1000, statistics.median(times)]]


def _standalone_seconds(kernel: Any, X: np.ndarray, method: str, rank: int, seed: int) -> float:
    """Wall time of building the planner's choice yourself: the public estimator at the
    chosen rank, fitted on X and applied to X."""
    est = (Nystroem(kernel=kernel, n_components=rank, sampling="rls", random_state=seed)
           if method == "nystroem-rls" else
           RandomFeatures(kernel=kernel, n_components=rank, method="orthogonal",
                          random_state=seed))
    t = time.perf_counter()
    est.fit(X).transform(X)
    return time.perf_counter() - t


def bench_planner(sizes: list[int], repeats: int) -> list[list[Any]]:
    """approximate() on N(0, I_3) data, Gaussian(h=1): the chosen method and rank, and two
    overheads. ``planning / build`` (``Approximation.seconds``): build = fit + transform of
    the chosen method on all of X inside the call (for RLS Nyström it continues the
    subsample's leverage search), planning = the rest of the call, including discarded
    builds. ``vs standalone`` = (planning + build) / S - 1, where S is the time to build
    the chosen method yourself (the public estimator at the chosen rank, fit + transform,
    timed right after the call): the extra cost of letting the planner choose; negative
    when the call is cheaper than the build alone. Medians and ranges over ``repeats``
    seeds; 1 GiB working memory so that rtol = 1e-2 is reachable at every size. A warm-up
    call first takes the process's one-time set-up out of the timings."""
    from kernelkit import config_context

    rows = []
    kernel = Gaussian(bandwidth=1.0)
    # one-time set-up of the process (numba loading its cached kernels, the BLAS thread
    # controller: ~0.3-0.6 s here) is paid by this warm-up call, not by the first timed one
    approximate(kernel, np.random.default_rng(3).normal(size=(2500, 3)), rtol=0.1,
                random_state=0)
    for n in sizes:
        X = np.random.default_rng(2).normal(size=(n, 3))
        for rtol in (1e-1, 1e-2):
            runs, alone = [], []
            try:
                with config_context(working_memory=1024):
                    for r in range(repeats):
                        runs.append(approximate(kernel, X, rtol=rtol, random_state=r))
                        alone.append(_standalone_seconds(kernel, X, runs[-1].method,
                                                         runs[-1].rank, r))
            except MemoryBudgetError as exc:  # reported, not hidden
                rows.append([n, rtol, "MemoryBudgetError", "-", str(exc)[:60]]
                            + ["-"] * 5)
                continue
            ratios = [x.seconds["planning"] / x.seconds["build"] for x in runs]
            extra = [(x.seconds["planning"] + x.seconds["build"]) / a - 1.0
                     for x, a in zip(runs, alone, strict=True)]
            chosen = statistics.multimode(f"{x.method} {x.rank}" for x in runs)[0]
            rows.append([n, rtol, chosen, f"{sum(f'{x.method} {x.rank}' == chosen for x in runs)}"
                         f"/{repeats}", statistics.median(x.error_estimate for x in runs),
                         statistics.median(x.seconds["build"] for x in runs),
                         statistics.median(alone),
                         statistics.median(ratios), f"{min(ratios):.3g}-{max(ratios):.3g}",
                         statistics.median(extra), f"{min(extra):.3g}-{max(extra):.3g}"])
    return rows


def _planner_table(results: dict[str, Any], quick: bool, repeats: int, markdown: bool) -> None:
    results["planner"] = bench_planner([5000] if quick else [5000, 20_000, 50_000], repeats)
    print(_table("planner: approximate(Gaussian, X, rtol); planning / build inside the call, "
                 "and (planning + build) / standalone build - 1",
                 ["n", "rtol", "chosen (mode)", "runs", "held-out error", "build s",
                  "standalone s", "planning/build", "range", "vs standalone", "range"],
                 results["planner"], markdown))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--only", choices=["planner"], default=None,
                        help="run only this table (planner: approximate() overhead)")
    args = parser.parse_args(argv)
    q = args.quick
    results: dict[str, Any] = {}
    if args.only == "planner":
        _planner_table(results, q, args.repeats, args.markdown)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=str))
        return results
    results["features"] = bench_features([8, 16, 32, 64] if not q else [8, 64],
                                         400 if q else 1000, 128, args.repeats)
    print(_table("features: relative Frobenius error, Gaussian kernel",
                 ["d", "n_components", "method", "error", "ratio vs RBFSampler"],
                 results["features"], args.markdown))
    results["mse"] = bench_mse([16] if q else [8, 16, 32], 300 if q else 2000)
    print(_table("mse: Monte-Carlo MSE of Gaussian-kernel estimates, m = d frequencies "
                 "(95 % intervals)",
                 ["features", "d", "coupling", "mse", "mse 95% CI", "ratio vs iid",
                  "ratio vs orthogonal"], results["mse"], args.markdown))
    results["nystroem"] = bench_nystroem(1000 if q else 3000, 64, args.repeats)
    print(_table("nystroem: spectral error on unequal clusters",
                 ["centres", "m", "spectral error", "ratio vs uniform"],
                 results["nystroem"], args.markdown))
    results["rls"] = bench_rls(100_000 if q else 1_000_000, 1 if q else args.repeats)
    print(_table("rls: leverage-score sampling time", ["n", "samples", "seconds"],
                 results["rls"], args.markdown))
    _planner_table(results, q, args.repeats, args.markdown)
    results["sequential"] = bench_sequential(1000 if q else 3000, 0.1, args.repeats)
    print(_table("sequential: streaming dictionary on unequal clusters (gamma = 0.1)",
                 ["n", "d_eff", "method", "centres", "spectral error / gamma",
                  "stream seconds", "ratio vs sklearn"],
                 results["sequential"], args.markdown))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return results


if __name__ == "__main__":
    main()

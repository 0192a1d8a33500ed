"""Kernel hypothesis tests: validity (type-I error), power and speed, beside hyppo.

Usage::

    python benchmarks/bench_stats.py               # full run (~15-25 min on 2 cores)
    python benchmarks/bench_stats.py --quick       # < 60 s version (fewer replications)
    python benchmarks/bench_stats.py --only speed --repeats 3 --markdown
    python benchmarks/bench_stats.py --json stats.json

Sections (``--only``):

* ``speed``: n = 1e4 per sample, d = 10, 200 permutations: ``mmd_test`` (permutation,
  Gaussian median heuristic) and ``hsic_test`` (``approximation="auto"``, i.e. Nyström at
  this size), medians of ``--repeats``. hyppo's permutation tests (``auto=False``) form the
  dense n × n matrices and take minutes already at n = 500, so they are timed at
  ``--peer-n`` (default 500) and the n = 1e4 time is *extrapolated* by (n / peer_n)² —
  the table says so in its column header. kernelkit is also timed at ``--peer-n`` for a
  same-size ratio.
* ``level``: type-I error at α = 0.05 over ``--null-reps`` (default 500) null
  replications on several problems, with a 95% binomial interval; hyppo's default tests
  (``auto=True``: its chi-square approximation) run on the same data.
* ``power``: rejection rates along mean-shift, variance-change, Gaussian-vs-Laplace and
  sinusoidal-dependence curves, hyppo beside.

The machine may be shared and noisy: compare ratios and medians.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_REPO))

import kernelkit  # noqa: E402
from kernelkit.stats import hsic_test, ksd_test, mmd_test  # noqa: E402

SECTIONS = ("speed", "level", "power")
ALPHA = 0.05
#: MMDAgg in the level and power sections: Gaussian + Laplace × 5 bandwidths, B1 = B2 =
#: 500 (per-kernel thresholds are ~α/10, so B1 must be in the hundreds).
AGG_PERMS = 500
AGG_BANDWIDTHS = 5


# ------------------------------------------------------------------------- helpers
def _hyppo() -> Any:
    warnings.filterwarnings("ignore")
    try:
        import hyppo.independence
        import hyppo.ksample

        return hyppo
    except ImportError:  # pragma: no cover - bench extra missing
        return None


def _median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _binom_ci(k: int, n: int) -> tuple[float, float]:
    from scipy.stats import binomtest

    ci = binomtest(k, n).proportion_ci(0.95)
    return float(ci.low), float(ci.high)


def _fmt_s(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "—"
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    if s >= 60:
        return f"{s / 60:.1f} min"
    return f"{s:.2f} s" if s >= 0.1 else f"{s * 1e3:.0f} ms"


def _table(title: str, header: list[str], rows: list[list[str]], markdown: bool) -> None:
    print()
    if markdown:
        print(f"**{title}**\n")
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        print(title)
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
    sys.stdout.flush()


# ------------------------------------------------------------------------- speed
def run_speed(args: argparse.Namespace, out: dict[str, Any]) -> None:
    n, d, B = args.n, 10, 200
    rng = np.random.default_rng(args.seed)
    X = rng.normal(size=(n, d))
    Y = rng.normal(size=(n, d))
    Y[:, 0] += 0.05  # a small shift: the statistic is non-trivial
    Yd = rng.normal(size=(n, d))
    Yd[:, 0] = np.sin(2 * X[:, 0]) * 0.3 + rng.normal(size=n)
    mmd_test(X[:50], Y[:50], n_permutations=5)  # load compiled engine
    hsic_test(X[:50], Yd[:50], n_permutations=5)
    t_mmd, r_mmd = _median_time(lambda: mmd_test(X, Y, n_permutations=B, random_state=0),
                                args.repeats)
    t_hsic, r_hsic = _median_time(lambda: hsic_test(X, Yd, n_permutations=B, random_state=0),
                                  args.repeats)
    pn = min(args.peer_n, n)
    t_mmd_small, _ = _median_time(
        lambda: mmd_test(X[:pn], Y[:pn], n_permutations=B, random_state=0), args.repeats)
    t_hsic_small, r_hs = _median_time(
        lambda: hsic_test(X[:pn], Yd[:pn], n_permutations=B, random_state=0), args.repeats)
    hyppo = _hyppo()
    peer: dict[str, float | None] = {"mmd": None, "hsic": None}
    if hyppo is not None and not args.no_peer_speed:
        hyppo.ksample.MMD().test(X[:20], Y[:20], reps=5, auto=False)  # numba warm-up
        hyppo.independence.Hsic().test(X[:20], Yd[:20], reps=5, auto=False)
        peer["mmd"], _ = _median_time(lambda: hyppo.ksample.MMD().test(
            X[:pn], Y[:pn], reps=B, auto=False, random_state=0), 1)
        peer["hsic"], _ = _median_time(lambda: hyppo.independence.Hsic().test(
            X[:pn], Yd[:pn], reps=B, auto=False, random_state=0), 1)
    scale = (n / pn) ** 2
    rows = []
    for name, t_big, t_small, res in (("mmd_test (permutation)", t_mmd, t_mmd_small, r_mmd),
                                      ("hsic_test (auto)", t_hsic, t_hsic_small, r_hsic)):
        key = "mmd" if name.startswith("mmd") else "hsic"
        p = peer[key]
        rows.append([name, _fmt_s(t_big), "yes" if t_big <= 10 else "NO",
                     _fmt_s(t_small), _fmt_s(p),
                     f"{p / t_small:.0f}×" if p else "—",
                     _fmt_s(p * scale) if p else "—",
                     f"{p * scale / t_big:.0f}×" if p else "—",
                     f"{res.pvalue:.3f}"])
    _table(f"Speed: n = {n:,} per sample, d = {d}, {B} permutations, float64, "
           f"median of {args.repeats} (hsic at this n: "
           f"{r_hsic.details['approximation']}; at n = {pn}: {r_hs.details['approximation']})",
           ["test", f"kernelkit n={n:,}", "≤ 10 s", f"kernelkit n={pn}",
            f"hyppo n={pn} (1 run)", f"hyppo/kk at n={pn}",
            f"hyppo n={n:,} EXTRAPOLATED ×{scale:.0f}", "ratio (extrapolated)",
            "p-value"], rows, args.markdown)
    out["speed"] = {"n": n, "d": d, "permutations": B, "repeats": args.repeats,
                    "kernelkit_s": {"mmd": t_mmd, "hsic": t_hsic},
                    "kernelkit_small_s": {"mmd": t_mmd_small, "hsic": t_hsic_small},
                    "peer_n": pn, "hyppo_small_s": peer,
                    "hsic_approximation": r_hsic.details["approximation"]}


# ------------------------------------------------------------------------- problems
def _laplace(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    return rng.laplace(scale=1 / math.sqrt(2), size=size)  # unit variance


def _mixture_score(x: np.ndarray) -> np.ndarray:
    return -x


def level_problems(n_perm: int, agg_perms: int = AGG_PERMS,
                   ) -> list[tuple[str, Callable[..., Any], Callable[..., Any]]]:
    """(name, kernelkit test on a fresh null replication, hyppo test or None)."""
    hyppo = _hyppo()

    def mmd_gauss(rng: np.random.Generator) -> tuple[bool, bool | None]:
        X, Y = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
        return (mmd_test(X, Y, n_permutations=n_perm, random_state=rng).reject,
                None if hyppo is None else hyppo.ksample.MMD().test(X, Y).pvalue <= ALPHA)

    def mmd_laplace(rng: np.random.Generator) -> tuple[bool, bool | None]:
        X, Y = _laplace(rng, (60, 10)), _laplace(rng, (40, 10))
        return (mmd_test(X, Y, n_permutations=n_perm, random_state=rng).reject,
                None if hyppo is None else hyppo.ksample.MMD().test(X, Y).pvalue <= ALPHA)

    def mmdagg(rng: np.random.Generator) -> tuple[bool, bool | None]:
        X, Y = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
        return mmd_test(X, Y, method="aggregated", n_permutations=agg_perms,
                        n_bandwidths=AGG_BANDWIDTHS, random_state=rng).reject, None

    def hsic_exact(rng: np.random.Generator) -> tuple[bool, bool | None]:
        X, Y = rng.normal(size=(50, 1)), rng.uniform(size=(50, 2))
        return (hsic_test(X, Y, n_permutations=n_perm, random_state=rng).reject,
                None if hyppo is None else hyppo.independence.Hsic().test(X, Y).pvalue <= ALPHA)

    def hsic_gamma(rng: np.random.Generator) -> tuple[bool, bool | None]:
        X, Y = rng.normal(size=(100, 2)), rng.normal(size=(100, 2))
        return hsic_test(X, Y, method="gamma").reject, None

    def hsic_nystrom(rng: np.random.Generator) -> tuple[bool, bool | None]:
        X, Y = rng.normal(size=(200, 3)), _laplace(rng, (200, 1))
        return hsic_test(X, Y, n_permutations=n_perm, approximation="nystrom",
                         n_components=20, random_state=rng).reject, None

    def ksd(rng: np.random.Generator) -> tuple[bool, bool | None]:
        X = rng.normal(size=(100, 2))
        return ksd_test(X, _mixture_score, n_bootstrap=n_perm, random_state=rng).reject, None

    return [("MMD perm, N(0,I₂), n=50+50", mmd_gauss, None),
            ("MMD perm, Laplace d=10, n=60+40", mmd_laplace, None),
            (f"MMDAgg (10 kernels, B1=B2={agg_perms}), N(0,I₂), n=50+50", mmdagg, None),
            ("HSIC perm exact, n=50", hsic_exact, None),
            ("HSIC gamma, n=100", hsic_gamma, None),
            ("HSIC perm Nyström r=20, n=200", hsic_nystrom, None),
            ("KSD wild bootstrap, N(0,I₂), n=100", ksd, None)]


def run_level(args: argparse.Namespace, out: dict[str, Any]) -> None:
    reps = args.null_reps
    rows, results = [], []
    for name, test, _ in level_problems(args.perms, args.agg_perms):
        rng = np.random.default_rng(args.seed + len(results))
        t0 = time.perf_counter()
        kk, hy = 0, 0
        has_peer = False
        for _ in range(reps):
            a, b = test(rng)
            kk += bool(a)
            if b is not None:
                has_peer = True
                hy += bool(b)
        dt = time.perf_counter() - t0
        lo, hi = _binom_ci(kk, reps)
        ok = 0.03 <= kk / reps <= 0.07
        rows.append([name, f"{kk / reps:.3f}", f"[{lo:.3f}, {hi:.3f}]",
                     "yes" if ok else "NO",
                     f"{hy / reps:.3f}" if has_peer else "—", _fmt_s(dt)])
        results.append({"problem": name, "kernelkit": kk / reps, "ci95": [lo, hi],
                        "hyppo": hy / reps if has_peer else None, "seconds": dt})
    _table(f"Type-I error at α = {ALPHA}: {reps} null replications, {args.perms} "
           "permutations / bootstrap samples (hyppo: its default auto=True test)",
           ["problem", "kernelkit", "95% CI", "in [0.03, 0.07]", "hyppo", "time (both)"],
           rows, args.markdown)
    out["level"] = {"replications": reps, "results": results}


def power_curves() -> list[tuple[str, str, list[float], Callable[..., Any]]]:
    """(name, parameter label, grid, sampler(rng, value) -> (X, Y, kind))."""
    def shift(rng: np.random.Generator, v: float) -> tuple[Any, Any, str]:
        return rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + [v, 0.0], "2s"

    def scale(rng: np.random.Generator, v: float) -> tuple[Any, Any, str]:
        return rng.normal(size=(100, 2)), v * rng.normal(size=(100, 2)), "2s"

    def laplace(rng: np.random.Generator, v: float) -> tuple[Any, Any, str]:
        m = int(v)
        return rng.normal(size=(m, 1)), _laplace(rng, (m, 1)), "2s"

    def sine(rng: np.random.Generator, v: float) -> tuple[Any, Any, str]:
        X = rng.uniform(-math.pi, math.pi, size=(100, 1))
        return X, np.sin(2 * X) + v * rng.normal(size=(100, 1)), "ind"

    return [("mean shift, d=2, n=100+100", "shift", [0.0, 0.2, 0.4, 0.6], shift),
            ("variance change, d=2, n=100+100", "sd ratio", [1.0, 1.2, 1.4, 1.6], scale),
            ("Gaussian vs Laplace (unit variance), d=1", "n per sample",
             [100, 200, 400, 800], laplace),
            ("sinusoidal dependence Y = sin(2X) + σε, n=100", "σ", [2.0, 1.5, 1.0, 0.5], sine)]


def run_power(args: argparse.Namespace, out: dict[str, Any]) -> None:
    hyppo = _hyppo()
    reps = args.power_reps
    results = []
    for name, label, grid, sampler in power_curves():
        rows = []
        for v in grid:
            rng = np.random.default_rng(args.seed + int(1000 * v))
            counts = {"perm": 0, "agg": 0, "hyppo": 0}
            for _ in range(reps):
                X, Y, kind = sampler(rng, v)
                if kind == "2s":
                    counts["perm"] += mmd_test(X, Y, n_permutations=args.perms,
                                               random_state=rng).reject
                    counts["agg"] += mmd_test(X, Y, method="aggregated",
                                              n_permutations=args.agg_perms,
                                              n_bandwidths=AGG_BANDWIDTHS,
                                              random_state=rng).reject
                    if hyppo is not None:
                        counts["hyppo"] += hyppo.ksample.MMD().test(X, Y).pvalue <= ALPHA
                else:
                    counts["perm"] += hsic_test(X, Y, n_permutations=args.perms,
                                                random_state=rng).reject
                    counts["agg"] += hsic_test(X, Y, method="gamma").reject
                    if hyppo is not None:
                        counts["hyppo"] += hyppo.independence.Hsic().test(X, Y).pvalue <= ALPHA
            r = {k: c / reps for k, c in counts.items()}
            rows.append([f"{v:g}", f"{r['perm']:.2f}", f"{r['agg']:.2f}",
                         f"{r['hyppo']:.2f}" if hyppo is not None else "—"])
            results.append({"curve": name, label: v, **r})
        two = "MMD" in name or "shift" in name or "variance" in name or "Laplace" in name
        _table(f"Power at α = {ALPHA}: {name} ({reps} replications per point)",
               [label, "kernelkit mmd_test perm" if two else "kernelkit hsic_test perm",
                "kernelkit MMDAgg (10 kernels)" if two else "kernelkit hsic_test gamma",
                "hyppo MMD" if two else "hyppo Hsic"], rows, args.markdown)
    out["power"] = {"replications": reps, "results": results}


# ------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="short version: n=2000 speed, 20 null and 5 power replications (a smoke "
                        "test: too few replications to judge the level)")
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated subset of {','.join(SECTIONS)}")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per measurement")
    p.add_argument("--n", type=int, default=None, help="speed: rows per sample (1e4)")
    p.add_argument("--peer-n", type=int, default=500,
                   help="speed: n at which hyppo's permutation tests are timed (500)")
    p.add_argument("--no-peer-speed", action="store_true",
                   help="skip timing hyppo's permutation tests (minutes at n=500)")
    p.add_argument("--null-reps", type=int, default=None, help="null replications (500)")
    p.add_argument("--power-reps", type=int, default=None, help="replications per point (100)")
    p.add_argument("--perms", type=int, default=199, help="permutations in level/power (199)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("--json", type=Path, default=None, help="also write results here")
    args = p.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in args.only if s not in SECTIONS]
    if bad:
        p.error(f"--only: unknown section(s) {bad}; choose from {', '.join(SECTIONS)}")
    if args.n is None:
        args.n = 2000 if args.quick else 10_000
    if args.null_reps is None:
        args.null_reps = 20 if args.quick else 500
    if args.power_reps is None:
        args.power_reps = 5 if args.quick else 100
    args.agg_perms = 200 if args.quick else AGG_PERMS
    if args.quick:
        args.peer_n = min(args.peer_n, 200)
        args.perms = min(args.perms, 99)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out: dict[str, Any] = {"command": "python benchmarks/bench_stats.py " +
                           " ".join(sys.argv[1:] if argv is None else argv),
                           "kernelkit": kernelkit.__version__}
    print(f"kernelkit {kernelkit.__version__} stats benchmark "
          f"({'quick' if args.quick else 'full'}; sections: {', '.join(args.only)})")
    if "speed" in args.only:
        run_speed(args, out)
    if "level" in args.only:
        run_level(args, out)
    if "power" in args.only:
        run_power(args, out)
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

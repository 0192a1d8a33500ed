"""Run every kernelkit benchmark against its named peers, in one process, and print a table.

Usage::

    python benchmarks/run.py                 # everything, about 10 minutes
    python benchmarks/run.py --quick         # a short version (smaller sizes)
    python benchmarks/run.py --only matvec,knn --repeats 5
    python benchmarks/run.py --markdown --json results.json

Groups (``--only``): matvec, logsumexp, knn, matvec16, firstcall, overhead, memory.
See benchmarks/README.md for what each column means.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

# Benchmark the checkout this file sits in, not whatever kernelkit is installed: the repo
# root goes first on sys.path, and on PYTHONPATH for the fresh-process probes.
_REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(_REPO))
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(_REPO), os.environ.get("PYTHONPATH", "")) if p)

import peers  # noqa: E402
import probes  # noqa: E402

GROUPS = ("matvec", "logsumexp", "knn", "matvec16", "firstcall", "overhead", "memory")
#: Rows per side of the correctness check against kernelkit (and first probe size).
CHECK_N = 2048
#: A probe call must take at least this long before its rate is trusted.
PROBE_SECONDS = 0.25
#: Neighbours in the knn cases.
KNN_K = 10


@dataclass(frozen=True)
class Case:
    group: str
    op: str
    d: int
    dtype: str
    k_rhs: int = 1
    targets: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        what = {"matvec": "matvec", "logsumexp": "logsumexp", "knn": f"knn k={KNN_K}"}[self.op]
        if self.k_rhs > 1:
            what += f" ({self.k_rhs} rhs)"
        return f"{what} d={self.d} {self.dtype}"


CASES = [
    Case("matvec", "matvec", 3, "float32", targets={"pykeops": 7.0}),
    Case("matvec", "matvec", 64, "float32", targets={"pykeops": 15.0}),
    Case("matvec", "matvec", 3, "float64", targets={"pykeops": 3.0}),
    Case("matvec", "matvec", 64, "float64", targets={"pykeops": 3.0}),
    Case("logsumexp", "logsumexp", 3, "float32"),
    Case("logsumexp", "logsumexp", 64, "float32"),
    Case("knn", "knn", 3, "float32"),
    Case("knn", "knn", 64, "float32"),
    Case("matvec16", "matvec", 3, "float32", k_rhs=16),
    Case("matvec16", "matvec", 64, "float32", k_rhs=16),
]
#: logsumexp and knn should reach this fraction of kernelkit's matvec pairs/s.
VS_MATVEC_TARGET = 0.5


@dataclass
class Measurement:
    case: str
    impl: str
    available: bool = True
    reason: str = ""
    n: int = 0
    times_s: list[float] = field(default_factory=list)
    median_s: float = math.nan
    pairs_per_s: float = math.nan
    first_call_s: float = math.nan
    discrepancy: float = math.nan
    speedup: float | None = None  # kernelkit pairs/s / this pairs/s (peers)
    vs_matvec: float | None = None  # this pairs/s / kernelkit matvec pairs/s (kernelkit)
    target: str = ""
    target_met: bool | None = None


# --------------------------------------------------------------------------- helpers
def _timed(fn, *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def _discrepancy(op: str, ref: Any, got: Any) -> float:
    if op == "knn":
        a, b = np.asarray(ref[0], np.float64), np.asarray(got[0], np.float64)
        return float(np.max(np.abs(a - b)) / max(float(np.max(a)), 1e-300))
    a = np.asarray(ref, np.float64).reshape(-1)
    b = np.asarray(got, np.float64).reshape(-1)
    if op == "logsumexp":
        return float(np.max(np.abs(a - b)))
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(a))), 1e-300))


def _data(case: Case, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    dtype = np.dtype(case.dtype)
    X = rng.standard_normal((n, case.d)).astype(dtype)
    Y = rng.standard_normal((n, case.d)).astype(dtype)
    V = rng.standard_normal((n, case.k_rhs)).astype(dtype)
    # Scaled squared distances are O(1): nothing underflows to (slow) subnormals.
    return X, Y, V, math.sqrt(case.d)


def _size_for(rate: float, nominal: int, budget: float, floor: int) -> int:
    """Largest N <= nominal whose N*N call fits the time budget (rounded to 1000s)."""
    if nominal * nominal / rate <= 1.25 * budget:
        return nominal
    n = int(math.sqrt(budget * rate)) // 1000 * 1000
    return max(min(n, nominal), min(floor, nominal))


def measure(impl: peers.Impl, case: Case, data, reference: Any, args) -> Measurement:
    X, Y, V, h = data
    nominal = X.shape[0]
    res = Measurement(case.label, impl.name)
    call = lambda n: impl.call(case.op, X[:n], Y[:n], V[:n], h, KNN_K)  # noqa: E731
    res.first_call_s = impl.warmup(case.op, case.d, np.dtype(case.dtype), case.k_rhs, KNN_K)
    n = min(CHECK_N, nominal)
    out = call(n)
    if reference is not None and n == CHECK_N:
        res.discrepancy = _discrepancy(case.op, reference, out)
    # Probe: double n until a call takes PROBE_SECONDS, then size the timed calls.
    t, _ = _timed(call, n)
    while t < PROBE_SECONDS and n < nominal:
        n = min(nominal, 2 * n)
        t, _ = _timed(call, n)
    rate = n * n / t
    budget = args.budget if impl.name == "kernelkit" else args.peer_budget
    res.n = _size_for(rate, nominal, budget, n)
    res.times_s = [_timed(call, res.n)[0] for _ in range(args.repeats)]
    res.median_s = statistics.median(res.times_s)
    res.pairs_per_s = res.n * res.n / res.median_s
    return res


# ----------------------------------------------------------------------------- groups
def run_cases(cases: list[Case], impls: list[peers.Impl], args, log) -> list[Measurement]:
    results: list[Measurement] = []
    kk_matvec_rate: dict[tuple[int, str], float] = {}
    for case in cases:
        data = _data(case, args.n, args.seed)
        X, Y, V, h = data
        kk = impls[0]
        reference = kk.call(case.op, X[:CHECK_N], Y[:CHECK_N], V[:CHECK_N], h, KNN_K)
        rows = []
        for impl in impls:
            if not impl.available:
                rows.append(Measurement(case.label, impl.name, False, impl.reason))
                continue
            log(f"{case.label}: {impl.name} ...")
            try:
                m = measure(impl, case, data, reference, args)
            except Exception as exc:  # a peer failing at run time is reported, not fatal
                if impl.name == "kernelkit":
                    raise
                m = Measurement(case.label, impl.name, False,
                                f"failed: {type(exc).__name__}: {str(exc)[:120]}")
            rows.append(m)
            time.sleep(0.2)  # let other libraries' spinning threads go idle
        kk_rate = rows[0].pairs_per_s
        if case.op == "matvec" and case.k_rhs == 1:
            kk_matvec_rate[(case.d, case.dtype)] = kk_rate
        if case.op in ("logsumexp", "knn"):
            ref = kk_matvec_rate.get((case.d, case.dtype))
            if ref is None:  # matvec group not run: measure kernelkit's matvec here
                mv = Case("matvec", "matvec", case.d, case.dtype)
                ref = measure(kk, mv, _data(mv, args.n, args.seed), None, args).pairs_per_s
                kk_matvec_rate[(case.d, case.dtype)] = ref
            rows[0].vs_matvec = kk_rate / ref
            rows[0].target = f">= {VS_MATVEC_TARGET:g}x matvec"
            rows[0].target_met = rows[0].vs_matvec >= VS_MATVEC_TARGET
        for m in rows[1:]:
            if m.available:
                m.speedup = kk_rate / m.pairs_per_s
                if m.impl in case.targets:
                    m.target = f">= {case.targets[m.impl]:g}x"
                    m.target_met = m.speedup >= case.targets[m.impl]
        results += rows
    return results


def run_overhead(calls: int) -> dict[str, Any]:
    import kernelkit
    from kernelkit.cli import _peers
    from kernelkit.kernels import Gaussian

    rng = np.random.default_rng(0)
    X = rng.standard_normal((10, 3)).astype(np.float32)
    V = rng.standard_normal(10).astype(np.float32)
    kern = Gaussian(bandwidth=1.0)
    fns = {
        "kernelkit.matvec": lambda: kernelkit.matvec(kern, X, X, V),
        "kernelkit.logsumexp": lambda: kernelkit.logsumexp(kern, X, X),
        "kernelkit.knn (k=3)": lambda: kernelkit.knn(X, X, 3),
        "numpy peer matvec": lambda: _peers.matvec(X, X, V, 1.0),
    }
    out = {}
    for name, fn in fns.items():
        for _ in range(20):
            fn()
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        out[name] = {"median_s": statistics.median(times), "calls": calls}
    return out


# ---------------------------------------------------------------------------- output
def _fmt_rate(r: float) -> str:
    if not r or math.isnan(r):
        return "—"
    for unit, s in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if r >= s:
            return f"{r / s:.3g} {unit}"
    return f"{r:.3g}"


def _fmt_s(s: float) -> str:
    if s is None or math.isnan(s):
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def _mark(ok: bool | None) -> str:
    return "" if ok is None else (" ✓" if ok else " ✗")


CASE_COLUMNS = ["case", "implementation", "N = M", "median (min–max)", "pairs/s",
                "kernelkit ÷ peer", "target", "first call (tiny; JIT compile/load)",
                "max diff vs kernelkit"]


def case_rows(results: list[Measurement], nominal: int) -> list[list[str]]:
    rows = []
    last = None
    for m in results:
        label = m.case if m.case != last else ""
        last = m.case
        if not m.available:
            rows.append([label, m.impl, "—", f"not available: {m.reason}", "—", "—", "—", "—",
                         "—"])
            continue
        n = f"{m.n:,}" + ("" if m.n == nominal else " (reduced)")
        spread = f"{_fmt_s(m.median_s)} ({_fmt_s(min(m.times_s))}–{_fmt_s(max(m.times_s))})"
        if m.speedup is not None:
            ratio = f"{m.speedup:.1f}×"
        elif m.vs_matvec is not None:
            ratio = f"{m.vs_matvec:.2f}× of matvec"
        else:
            ratio = ""
        diff = "(reference)" if m.impl == "kernelkit" else f"{m.discrepancy:.1e}"
        rows.append([label, m.impl, n, spread, _fmt_rate(m.pairs_per_s), ratio,
                     (m.target + _mark(m.target_met)) if m.target else "",
                     _fmt_s(m.first_call_s), diff])
    return rows


def extra_rows(extras: dict[str, Any]) -> list[list[str]]:
    rows = []
    if "firstcall" in extras:
        f = extras["firstcall"]
        ok = f["median_wall_s"] <= 2.0
        rows.append(["first call, fresh process (python -c 'import kernelkit; 1000x1000 "
                     "f32 matvec')", f"{f['median_wall_s']:.2f} s wall",
                     "<= 2 s" + _mark(ok),
                     f"import {f['median_import_s']:.2f} s + call {f['median_call_s']:.2f} s; "
                     f"median of {len(f['walls_s'])} after one cache-warming run "
                     f"({f['warmup_wall_s']:.1f} s)"])
    if "overhead" in extras:
        for name, o in extras["overhead"].items():
            target = ("<= 1 ms" + _mark(o["median_s"] <= 1e-3)) if name == "kernelkit.matvec" \
                else ""
            rows.append([f"warm call, n = m = 10, d = 3 f32: {name}", _fmt_s(o["median_s"]),
                         target, f"median of {o['calls']} calls"])
    if "memory" in extras:
        for r in extras["memory"]:
            ok = r["extra_mib"] < 300
            small = "" if max(r["n"], r["m"]) >= 1_000_000 else " (reduced size)"
            rows.append([f"peak memory, f32 d=3 matvec, N = {r['n']:,}, M = {r['m']:,}{small}",
                         f"{r['extra_mib']:.0f} MiB extra", "< 300 MB" + _mark(ok),
                         f"baseline {r['baseline_mib']:.0f} MiB (inputs {r['inputs_mib']:.0f} "
                         f"MiB, engine loaded); call {r['seconds']:.1f} s; {r['how']}"])
    return rows


EXTRA_COLUMNS = ["measurement", "value", "target", "how"]


def print_tables(title: str, sections: list[tuple[list[str], list[list[str]]]],
                 markdown: bool) -> None:
    if markdown:
        print(f"**{title}**\n")
        for columns, rows in sections:
            print("| " + " | ".join(columns) + " |")
            print("|" + "|".join("---" for _ in columns) + "|")
            for row in rows:
                print("| " + " | ".join(c.replace("|", "/") for c in row) + " |")
            print()
        return
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 200)
    for i, (columns, rows) in enumerate(sections):
        table = Table(title=title if i == 0 else None, show_lines=False)
        for c in columns:
            table.add_column(c, overflow="fold")
        for row in rows:
            table.add_row(*row)
        console.print(table)


def _git_version() -> str:
    """Commit of the measured checkout, marked -dirty when the work tree has changes."""
    import subprocess

    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True,
                              text=True, cwd=Path(__file__).resolve().parent, timeout=10,
                              ).stdout.strip() or "unknown commit"
    except (OSError, subprocess.SubprocessError):
        return "unknown commit"


# ------------------------------------------------------------------------------- main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="short version: N=20000, smaller time budgets and memory case")
    p.add_argument("--only", default=",".join(GROUPS),
                   help=f"comma-separated groups to run, from {','.join(GROUPS)}")
    p.add_argument("--n", type=int, default=None,
                   help="nominal N = M of the timed cases (default 100000; --quick 20000)")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per measurement")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds one kernelkit call may take before N is reduced "
                        "(default 7; --quick 1)")
    p.add_argument("--peer-budget", type=float, default=None,
                   help="the same for peers (default 2.5; --quick 0.5)")
    p.add_argument("--peers", default="numpy,torch,pykeops",
                   help="comma-separated peers to compare (numpy, torch, pykeops)")
    p.add_argument("--keops-cold", action="store_true",
                   help="use a fresh KeOps build folder, so first calls include the compile")
    p.add_argument("--mem-n", type=int, default=None,
                   help="long side of the memory case (default 1000000; --quick 200000)")
    p.add_argument("--mem-m", type=int, default=None,
                   help="short side of the memory case (default 20000; --quick 5000): runs "
                        "N x M and M x N")
    p.add_argument("--mem-square", action="store_true",
                   help="memory case as one mem-n x mem-n call (1e6 x 1e6 takes ~10 min)")
    p.add_argument("--overhead-calls", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("--json", type=Path, default=None, help="also write results to this file")
    args = p.parse_args(argv)
    quick = args.quick
    args.n = args.n or (20_000 if quick else 100_000)
    args.budget = args.budget or (1.0 if quick else 7.0)
    args.peer_budget = args.peer_budget or (0.5 if quick else 2.5)
    args.mem_n = args.mem_n or (200_000 if quick else 1_000_000)
    args.mem_m = args.mem_m or (5_000 if quick else 20_000)
    args.only = [g.strip() for g in args.only.split(",") if g.strip()]
    bad = [g for g in args.only if g not in GROUPS]
    if bad:
        p.error(f"--only: unknown group(s) {bad}; choose from {', '.join(GROUPS)}")
    args.peers = [x.strip() for x in args.peers.split(",") if x.strip()]
    if any(x not in ("numpy", "torch", "pykeops") for x in args.peers):
        p.error("--peers: choose from numpy, torch, pykeops")
    if args.n < CHECK_N or args.repeats < 1:
        p.error(f"--n must be >= {CHECK_N} and --repeats >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    command = "python benchmarks/run.py " + " ".join(shlex.quote(a) for a in
                                                      (sys.argv[1:] if argv is None else argv))
    log = lambda msg: print(f"[{time.perf_counter() - started:6.1f} s] {msg}",  # noqa: E731
                            file=sys.stderr, flush=True)

    impls = [i for i in peers.ALL(keops_cold=args.keops_cold)
             if i.name == "kernelkit" or i.name in args.peers]
    cases = [c for c in CASES if c.group in args.only]
    if cases:
        for impl in impls:
            log(f"preparing {impl.name}")
            try:
                impl.prepare()
                impl.available, impl.reason = True, ""
            except peers.Unavailable as exc:
                impl.available, impl.reason = False, str(exc)
                log(f"{impl.name} not available: {exc}")
    results = run_cases(cases, impls, args, log) if cases else []

    extras: dict[str, Any] = {}
    if "overhead" in args.only:
        log("warm-call overhead")
        extras["overhead"] = run_overhead(args.overhead_calls)
    if "firstcall" in args.only:
        log("first call in fresh processes")
        extras["firstcall"] = probes.first_call(repeats=3)
    if "memory" in args.only:
        shapes = [(args.mem_n, args.mem_n)] if args.mem_square else \
            [(args.mem_n, args.mem_m), (args.mem_m, args.mem_n)]
        extras["memory"] = []
        for n, m in shapes:
            log(f"peak memory {n} x {m}")
            extras["memory"].append(probes.peak_memory(n, m))

    elapsed = time.perf_counter() - started
    import kernelkit
    from kernelkit.cli._common import machine_info

    info = machine_info()
    info["git"] = _git_version()
    title = (f"kernelkit {kernelkit.__version__} ({info['git']}) benchmarks, "
             f"{_dt.date.today().isoformat()}: "
             f"{info['cpu_count']} cores, {info['blas']}, Python {platform.python_version()}; "
             f"nominal N = M = {args.n:,}, median of {args.repeats}; run took {elapsed:.0f} s")
    sections = []
    if results:
        sections.append((CASE_COLUMNS, case_rows(results, args.n)))
    if extras:
        sections.append((EXTRA_COLUMNS, extra_rows(extras)))
    print_tables(title, sections, args.markdown)
    print(f"\ncommand: {command}")
    for impl in impls if results else []:
        extra = ""
        if impl.name == "pykeops" and impl.available:
            extra = f" (build folder {impl.build_folder})"
        print(f"- {impl.name}: {impl.describe}{extra}" if impl.available else
              f"- {impl.name}: not available: {impl.reason}")
    if args.json:
        args.json.write_text(json.dumps({
            "command": command, "date": _dt.datetime.now().isoformat(timespec="seconds"),
            "machine": info, "elapsed_s": elapsed, "nominal_n": args.n,
            "repeats": args.repeats, "cases": [asdict(m) for m in results],
            "extras": extras}, indent=2))
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

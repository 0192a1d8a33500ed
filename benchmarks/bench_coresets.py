"""Kernel thinning benchmark: kernelkit.coresets against goodpoints, in the same run.

Three parts (``--only``):

* ``quality``: n = 2^14 standard normal points in d = 2, Gaussian kernel with
  bandwidth^2 = 2d, thinned to 128 points by kernelkit KT / KT+ / Compress++ and by
  goodpoints' KT (``kt.thin`` with the square-root kernel, n x n matrices) and
  Compress++ (``compress.compresspp_kt``, same oversampling g), and uniform
  subsampling. Medians over seeds of the MMD to the full sample (exact, biased) and of
  the time; ratios to goodpoints.
* ``large``: n = 2^20 with kernelkit Compress++: time, peak traced memory (tracemalloc:
  numpy buffers) and growth of the process's peak resident memory (which also covers
  numba's buffers). The exact MMD would take n^2 ~ 1e12 kernel evaluations and is not
  computed. goodpoints is not run there: with g = 4 its final KT holds a
  32768 x 32768 matrix (8.6 GB).
* ``scaling-peer``: the slopes of ``scaling`` cross-checked against goodpoints: on the same
  samples (d = 10 and 100, n = 4^3..4^6), goodpoints' ``kt.thin`` with the square-root
  kernel and with the target kernel beside kernelkit's KT and target KT; MMD to P in
  closed form, its mean over ``--repeats`` samples, and the least-squares slope.
* ``recombination``: weighted recombination coresets (sizes 16, 64, 256) against KT
  and uniform subsampling on the quality part's data, MMD to the sample (weighted).
* ``scaling`` (``--plot PATH``): runs ``examples/coreset_scaling.py`` (the protocol of
  the Generalized Kernel Thinning experiments): MMD_k(P, coreset) in closed form for
  P = N(0, I_d), d in {2, 10, 100}, Gaussian kernel sigma^2 = 2d, coreset sqrt(n), for
  i.i.d. subsampling, KT, target KT (n <= 4^7; d = 100: 4^6) and Compress++ (n <= 4^8),
  ``--repeats`` samples per n; least-squares slopes on a log-log plot.

Run ``python benchmarks/bench_coresets.py`` (a few minutes), ``--quick`` (< 60 s), or
``--only scaling --plot thin_scaling.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np

_REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(_REPO))

PARTS = ("quality", "large", "scaling", "scaling-peer", "recombination")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes, < 60 s")
    p.add_argument("--repeats", type=int, default=5, help="seeds per method (median)")
    p.add_argument("--only", default="quality,large",
                   help=f"comma-separated subset of {','.join(PARTS)} (default quality,large)")
    p.add_argument("--n", type=int, default=2**14, help="quality: sample size (2^14)")
    p.add_argument("--size", type=int, default=128, help="quality: coreset size (128)")
    p.add_argument("--g", type=int, default=4, help="Compress++ oversampling (4)")
    p.add_argument("--large-n", type=int, default=2**20, help="large: sample size (2^20)")
    p.add_argument("--plot", default=None, help="scaling: write the log-log plot here")
    p.add_argument("--markdown", action="store_true", help="print Markdown tables")
    p.add_argument("--json", default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)
    args.only = [part.strip() for part in args.only.split(",") if part.strip()]
    bad = [part for part in args.only if part not in PARTS]
    if bad:
        p.error(f"--only: unknown part(s) {bad}; choose from {PARTS}")
    if args.quick:
        args.n, args.size, args.repeats = 2**12, 64, min(args.repeats, 3)
        args.large_n = 2**16
    return args


def _gaussian(d: int) -> Any:
    from kernelkit.kernels import Gaussian

    return Gaussian(bandwidth=math.sqrt(2.0 * d))


def _mmd(X: np.ndarray, idx: np.ndarray, d: int) -> float:
    from kernelkit.coresets import coreset_mmd

    return coreset_mmd(X, idx, _gaussian(d))


def _methods(d: int, m: int, g: int) -> dict[str, Any]:
    """name -> function(X, size, seed) -> indices."""
    from kernelkit.coresets import kernel_thinning

    k = _gaussian(d)
    sig2 = 2.0 * d
    out: dict[str, Any] = {
        "kernelkit kt": lambda X, s, seed: kernel_thinning(X, s, k, random_state=seed),
        "kernelkit kt+": lambda X, s, seed: kernel_thinning(X, s, k, method="kt+",
                                                           random_state=seed),
        "kernelkit compress++": lambda X, s, seed: kernel_thinning(
            X, s, k, method="compress++", oversampling=g, random_state=seed),
        "uniform": lambda X, s, seed: np.random.default_rng(seed).choice(
            X.shape[0], s, replace=False),
    }
    try:
        from goodpoints import compress, kt
    except ImportError as exc:  # pragma: no cover - bench extra missing
        print(f"goodpoints not available ({exc}); install the bench extra", file=sys.stderr)
        return out

    def gk(y: np.ndarray, Z: np.ndarray) -> np.ndarray:
        return np.exp(-((Z - y) ** 2).sum(-1) / (2.0 * sig2))

    def gkrt(y: np.ndarray, Z: np.ndarray) -> np.ndarray:
        return np.exp(-((Z - y) ** 2).sum(-1) / sig2)

    out["goodpoints kt"] = lambda X, s, seed: kt.thin(X, m, gkrt, gk, delta=0.5, seed=seed,
                                                      store_K=True)
    out["goodpoints compress++"] = lambda X, s, seed: compress.compresspp_kt(
        X, b"gaussian", k_params=np.array([2.0 * sig2]), g=g, seed=seed)
    return out


def run_quality(args: argparse.Namespace, log: Any) -> list[dict[str, Any]]:
    n, size, d = args.n, args.size, 2
    m = int(round(math.log2(n / size)))
    methods = _methods(d, m, args.g)
    X0 = np.random.default_rng(0).normal(size=(256, d))
    for fn in methods.values():  # compile / warm up outside the timings
        fn(X0, 16, 0)
    rows = []
    for name, fn in methods.items():
        times, mmds = [], []
        for seed in range(args.repeats):
            X = np.random.default_rng(1000 + seed).normal(size=(n, d))
            t0 = time.perf_counter()
            idx = np.asarray(fn(X, size, seed))
            times.append(time.perf_counter() - t0)
            mmds.append(_mmd(X, idx, d))
        rows.append({"method": name, "n": n, "size": size, "seconds": statistics.median(times),
                     "mmd": statistics.median(mmds), "mmds": mmds, "times": times})
        log(f"{name}: {rows[-1]['seconds']:.2f} s, MMD {rows[-1]['mmd']:.3e}")
    ref = {r["method"]: r for r in rows}
    for r in rows:
        kt_ref = ref.get("goodpoints kt")
        same = ref.get("goodpoints " + r["method"].split()[-1]) if "compress" in r["method"] \
            else kt_ref
        r["mmd_vs_goodpoints_kt"] = r["mmd"] / kt_ref["mmd"] if kt_ref else None
        r["time_vs_goodpoints"] = r["seconds"] / same["seconds"] if same else None
    return rows


def _peak_rss() -> int:
    """Peak resident memory of this process in bytes (VmHWM, else ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _reset_peak_rss() -> int:
    """Reset the peak to the current resident memory (Linux) and return it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass
    return _peak_rss()


def run_large(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    from kernelkit.coresets import kernel_thinning

    n, d = args.large_n, 2
    X = np.random.default_rng(7).normal(size=(n, d))
    kernel_thinning(X[:4096], 64, _gaussian(d), method="compress++", random_state=0)
    rss0 = _reset_peak_rss()
    tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    idx = kernel_thinning(X, None, _gaussian(d), method="compress++", oversampling=args.g,
                          random_state=0)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss1 = _peak_rss()
    out = {"n": n, "size": len(idx), "g": args.g, "seconds": seconds, "cpu_seconds": cpu,
           "traced_peak_mib": peak / 2**20, "rss_peak_growth_mib": (rss1 - rss0) / 2**20,
           "data_mib": X.nbytes / 2**20}
    log(f"compress++ n={n}: {seconds:.1f} s, traced peak {out['traced_peak_mib']:.0f} MiB, "
        f"RSS peak growth {out['rss_peak_growth_mib']:.0f} MiB")
    return out


def _scaling_example() -> Any:
    """The module examples/coreset_scaling.py (the scaling experiment lives there)."""
    import importlib.util

    path = _REPO / "examples" / "coreset_scaling.py"
    spec = importlib.util.spec_from_file_location("coreset_scaling", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_scaling(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    """examples/coreset_scaling.py: MMD to P = N(0, I_d) in closed form against n."""
    example = _scaling_example()
    tops = (6, 5, 6) if args.quick else (7, 6, 8)
    result: dict[str, Any] = example.run(kt_top=tops[0], kt_top_high_d=tops[1],
                                         cpp_top=tops[2], reps=args.repeats, log=log)
    if args.plot:
        example.plot(result, args.plot)
        log(f"wrote {args.plot}")
    return result


def run_scaling_peer(args: argparse.Namespace, log: Any) -> list[dict[str, Any]]:
    """goodpoints' KT (root and target kernel) against kernelkit's on the same samples."""
    from goodpoints import kt

    example = _scaling_example()
    js = range(3, 6 if args.quick else 7)
    rows = []
    for d in (10, 100):
        sig2 = 2.0 * d
        k = _gaussian(d)

        def gk(y: np.ndarray, Z: np.ndarray, v: float = sig2) -> np.ndarray:
            return np.exp(-((Z - y) ** 2).sum(-1) / (2.0 * v))

        def gkrt(y: np.ndarray, Z: np.ndarray, v: float = sig2) -> np.ndarray:
            return np.exp(-((Z - y) ** 2).sum(-1) / v)

        methods: dict[str, Any] = {
            "kernelkit kt": lambda X, s, j, r, k=k: example.coreset("kt", X, s, k, r),
            "kernelkit target kt": lambda X, s, j, r, k=k: example.coreset("target kt", X, s,
                                                                          k, r),
            "goodpoints kt": lambda X, s, j, r: kt.thin(X, j, gkrt, gk, delta=0.5, seed=r,
                                                        store_K=True),
            "goodpoints target kt": lambda X, s, j, r: kt.thin(X, j, gk, gk, delta=0.5,
                                                               seed=r, store_K=True),
        }
        means: dict[str, list[float]] = {name: [] for name in methods}
        for j in js:
            vals: dict[str, list[float]] = {name: [] for name in methods}
            for r in range(args.repeats):
                X = np.random.default_rng(1000 * d + r).normal(size=(4**j, d))
                for name, fn in methods.items():
                    idx = np.asarray(fn(X, 2**j, j, r))
                    vals[name].append(example.gaussian_mmd_to_normal(X[idx], sig2))
            for name in methods:
                means[name].append(float(np.mean(vals[name])))
            log(f"scaling-peer d={d} n=4^{j}: " + ", ".join(
                f"{name} {means[name][-1]:.3e}" for name in methods))
        ns = [4**j for j in js]
        for name in methods:
            rows.append({"d": d, "method": name, "n": ns, "mmd": means[name],
                         "slope": float(np.polyfit(np.log(ns), np.log(means[name]), 1)[0])})
    return rows


def run_recombination(args: argparse.Namespace, log: Any) -> list[dict[str, Any]]:
    """Weighted recombination coresets against KT and uniform, MMD to the sample."""
    from kernelkit import kernel_sum
    from kernelkit.coresets import kernel_thinning, recombination

    n, d = args.n, 2
    k = _gaussian(d)
    sizes = (16, 64) if args.quick else (16, 64, 256)
    recombination(np.random.default_rng(0).normal(size=(256, d)), 8, k, random_state=0)
    rows = []
    for size in sizes:
        res: dict[str, list[float]] = {"points": [], "recomb": [], "recomb_s": [], "kt": [],
                                       "kt_s": [], "uniform": []}
        for seed in range(args.repeats):
            X = np.random.default_rng(1000 + seed).normal(size=(n, d))
            t0 = time.perf_counter()
            idx, w = recombination(X, size, k, random_state=seed)
            res["recomb_s"].append(time.perf_counter() - t0)
            kxx = float(np.sum(kernel_sum(k, X))) / n**2
            kcx = np.asarray(kernel_sum(k, X[idx], X)) / n
            res["recomb"].append(math.sqrt(max(kxx - 2 * w @ kcx + w @ k(X[idx]) @ w, 0.0)))
            res["points"].append(len(idx))
            t0 = time.perf_counter()
            kt_idx = kernel_thinning(X, size, k, random_state=seed)
            res["kt_s"].append(time.perf_counter() - t0)
            res["kt"].append(_mmd(X, kt_idx, d))
            rand = np.random.default_rng(seed).choice(n, size, replace=False)
            res["uniform"].append(_mmd(X, rand, d))
        row = {"size": size, "n": n, **{key: statistics.median(v) for key, v in res.items()},
               "points_range": (min(res["points"]), max(res["points"]))}
        rows.append(row)
        log(f"recombination size {size}: {row['points']:.0f} points, MMD {row['recomb']:.2e} "
            f"(KT {row['kt']:.2e}, uniform {row['uniform']:.2e})")
    return rows


def _table(headers: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*headers)] + [fmt.format(*r) for r in rows])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {msg}", file=sys.stderr, flush=True)

    results: dict[str, Any] = {"command": "python benchmarks/bench_coresets.py " +
                               " ".join(sys.argv[1:] if argv is None else argv)}
    if "quality" in args.only:
        rows = run_quality(args, log)
        results["quality"] = rows
        print(f"\nn = {args.n}, d = 2, Gaussian kernel (bandwidth^2 = 4), {args.size} points; "
              f"medians of {args.repeats} seeds; Compress++ g = {args.g}")
        print(_table(
            ["method", "MMD", "MMD / goodpoints KT", "seconds", "time / goodpoints same"],
            [[r["method"], f"{r['mmd']:.3e}",
              "-" if r["mmd_vs_goodpoints_kt"] is None else f"{r['mmd_vs_goodpoints_kt']:.3f}",
              f"{r['seconds']:.2f}",
              "-" if r["time_vs_goodpoints"] is None or r["method"] == "uniform"
              else f"{r['time_vs_goodpoints']:.2f}"] for r in rows], args.markdown))
    if "large" in args.only:
        big = run_large(args, log)
        results["large"] = big
        print(f"\nCompress++ (g = {big['g']}) on n = {big['n']}, d = 2 -> {big['size']} points")
        print(_table(
            ["seconds", "CPU seconds", "traced peak MiB", "RSS peak growth MiB", "data MiB"],
            [[f"{big['seconds']:.1f}", f"{big['cpu_seconds']:.1f}",
              f"{big['traced_peak_mib']:.0f}",
              f"{big['rss_peak_growth_mib']:.0f}", f"{big['data_mib']:.0f}"]],
            args.markdown))
    if "scaling" in args.only:
        sc = run_scaling(args, log)
        results["scaling"] = sc
        print(f"\nMMD_k(P, coreset) vs n, P = N(0, I_d), sigma^2 = 2d, coreset sqrt(n); "
              f"{args.repeats} samples per n (iid: >= 20); slopes of log rms MMD vs log n")
        print(_scaling_example().table(sc, markdown=args.markdown))
    if "scaling-peer" in args.only:
        peer = run_scaling_peer(args, log)
        results["scaling_peer"] = peer
        print(f"\nslopes cross-checked: MMD_k(P, coreset), P = N(0, I_d), sigma^2 = 2d, "
              f"coreset sqrt(n), mean over {args.repeats} samples (the same for every method)")
        print(_table(
            ["d", "method", "n", "slope", "MMD at largest n"],
            [[str(r["d"]), r["method"], f"4^3..4^{round(math.log(r['n'][-1], 4))}",
              f"{r['slope']:.3f}", f"{r['mmd'][-1]:.3e}"] for r in peer], args.markdown))
    if "recombination" in args.only:
        rec = run_recombination(args, log)
        results["recombination"] = rec
        print(f"\nrecombination (weighted) vs KT and uniform: n = {args.n}, d = 2, Gaussian "
              f"bandwidth^2 = 4, MMD to the sample, medians of {args.repeats} seeds "
              "(no peer implementation in the same run)")
        print(_table(
            ["size", "recombination points", "recombination MMD", "seconds", "KT MMD",
             "KT seconds", "uniform MMD", "recombination / KT MMD"],
            [[str(r["size"]), f"{r['points_range'][0]}-{r['points_range'][1]}",
              f"{r['recomb']:.2e}", f"{r['recomb_s']:.2f}", f"{r['kt']:.2e}",
              f"{r['kt_s']:.2f}", f"{r['uniform']:.2e}", f"{r['recomb'] / r['kt']:.3f}"]
             for r in rec], args.markdown))
    print(f"\n(total {time.perf_counter() - started:.0f} s; the machine may be shared: "
          "timings are medians, compare ratios)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

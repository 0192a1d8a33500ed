"""MMD of kernel-thinning coresets against n on a log-log plot, for P = N(0, I_d).

The protocol of the Generalized Kernel Thinning experiments (Dwivedi & Mackey, ICLR 2022;
goodpoints' ``examples/gkt``): input n = 4^j i.i.d. points from P = N(0, I_d), coreset of
sqrt(n) = 2^j points, Gaussian kernel k(x, y) = exp(-|x - y|^2 / (2 sigma^2)) with
sigma^2 = 2d, and the error reported is MMD_k(P, P_out) against P itself, in closed form:

    MMD^2 = (s2 / (s2 + 2))^(d/2) - 2 mean_i (s2 / (s2 + 1))^(d/2) exp(-|y_i|^2 / (2 (s2 + 1)))
            + mean_ij k(y_i, y_j)                                        (s2 = sigma^2)

(O(size^2 d) per coreset, so n can be large). Methods: a uniform random subsample
("iid"), ``kernel_thinning(method="kt")`` (KT-SPLIT with the square-root kernel, "root
KT"), target KT (KT-SPLIT with k itself, the variant of the GKT paper; not a public
option, run through the internal ``thin``) and ``method="compress++"`` (g = 4), which
reaches larger n. Each method is run on ``--reps`` independent samples per n (the cheap
i.i.d. baseline on at least 20); the curve is the root mean square of the MMDs over the
samples (comparable with the exact references below), and the table gives the
least-squares slope of its log against log n over the whole n range, the median and
range of the slopes fitted to each sample separately, and the local slopes between
consecutive n.

Two exact references are drawn: the expected MMD of sqrt(n) i.i.d. points,
sqrt((1 - PPk) / sqrt(n)) (slope -1/4), and that of the whole input sample,
sqrt((1 - PPk) / n) (slope -1/2), with PPk = (s2 / (s2 + 2))^(d/2). The claim of kernel
thinning is that sqrt(n) KT points do about as well as the n input points.

Run::

    python examples/coreset_scaling.py --plot coreset_scaling.png   # a few minutes
    python examples/coreset_scaling.py --quick                      # < 1 minute
    python examples/coreset_scaling.py --cpp-top 9                  # Compress++ to n = 4^9

Measured (table in docs/coresets.md): slope -0.51 in d = 2 (KT on the input sample's own
error), -0.41 to -0.44 in d = 10 and -0.33 to -0.35 in d = 100 over n <= 4^8, with KT
5x (d = 10) and 2x (d = 100) below i.i.d.; ``balanced_model_mmd`` explains why.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kernelkit import kernel_sum  # noqa: E402
from kernelkit.coresets import kernel_thinning  # noqa: E402
from kernelkit.kernels import Gaussian  # noqa: E402

METHODS = ("iid", "kt", "target kt", "compress++")
#: The i.i.d. baseline is cheap and noisy: at least this many samples per n.
IID_REPS = 20
DIMS = (2, 10, 100)


def gaussian_mmd_to_normal(Y: np.ndarray, sigma2: float) -> float:
    """MMD between the points Y (multiset) and N(0, I_d) for the Gaussian kernel with
    bandwidth^2 = sigma2, in closed form."""
    Y = np.asarray(Y, dtype=np.float64)
    d = Y.shape[1]
    pp = (sigma2 / (sigma2 + 2.0)) ** (d / 2.0)
    pk = (sigma2 / (sigma2 + 1.0)) ** (d / 2.0) * np.exp(
        -(Y * Y).sum(axis=1) / (2.0 * (sigma2 + 1.0)))
    kk = float(np.sum(kernel_sum(Gaussian(bandwidth=math.sqrt(sigma2)), Y))) / Y.shape[0] ** 2
    return math.sqrt(max(pp - 2.0 * float(pk.mean()) + kk, 0.0))


def expected_iid_mmd(size: int, d: int, sigma2: float) -> float:
    """sqrt(E MMD^2) of ``size`` i.i.d. points from N(0, I_d): sqrt((1 - PPk) / size)."""
    return math.sqrt((1.0 - (sigma2 / (sigma2 + 2.0)) ** (d / 2.0)) / size)


def balanced_model_mmd(n: int, d: int, sigma2: float) -> float:
    """A heuristic model of KT's error (not from the papers): the sqrt(n)-point coreset
    cancels the sample's imbalance along the s = sqrt(n) leading eigenfunctions of k
    under P and is no better than i.i.d. along the others, on top of the input sample's
    own error: MMD^2 ~ (sum of the eigenvalues after the s largest) / s + (1 - PPk) / n.

    Eigenvalues of the Gaussian kernel under N(0, I_d) (Mehler; Rasmussen & Williams,
    GPML section 4.3.1): lambda_0^d B^j with multiplicity C(j + d - 1, j) for j = 0, 1, ...,
    where, per coordinate, a = 1/4, b = 1 / (2 sigma2), A = a + b + sqrt(a^2 + 2ab),
    B = b / A and lambda_0 = sqrt(2a / A); they sum to k(x, x) = 1. In d = 2 the first
    s eigenfunctions carry all but a negligible part, so KT reaches the input's
    n^(-1/2); in d = 100 the d(d+1)/2 = 5050 quadratic ones hold ~8% of it and stay
    unbalanced until s is in the thousands.
    """
    s = math.isqrt(n)
    a, b = 0.25, 1.0 / (2.0 * sigma2)
    big_a = a + b + math.sqrt(a * a + 2.0 * a * b)
    ratio, lam0 = b / big_a, math.sqrt(2.0 * a / big_a) ** d
    kept, count, j = 0.0, 0, 0
    while count < s:
        take = min(math.comb(j + d - 1, j), s - count)
        kept += take * lam0 * ratio**j
        count += take
        j += 1
    pp = (sigma2 / (sigma2 + 2.0)) ** (d / 2.0)
    return math.sqrt(max(1.0 - kept, 0.0) / s + (1.0 - pp) / n)


def target_kt(X: np.ndarray, size: int, kernel: Any, seed: int) -> np.ndarray:
    """Target KT: KT-SPLIT and KT-SWAP both with ``kernel`` (GKT paper)."""
    from kernelkit.coresets._prepare import prepare
    from kernelkit.coresets._thinning import thin

    m = int(round(math.log2(X.shape[0] / size)))
    kd = prepare(kernel, X)
    return np.sort(thin(kd, kd, np.arange(X.shape[0]), m, 0.5, np.random.default_rng(seed)))


def coreset(method: str, X: np.ndarray, size: int, kernel: Any, seed: int) -> np.ndarray:
    if method == "iid":
        return np.random.default_rng(seed).choice(X.shape[0], size, replace=False)
    if method == "kt":
        return kernel_thinning(X, size, kernel, random_state=seed)
    if method == "target kt":
        return target_kt(X, size, kernel, seed)
    return kernel_thinning(X, size, kernel, method="compress++", oversampling=4,
                           random_state=seed)


def _slope(ns: list[int], values: list[float]) -> float:
    return float(np.polyfit(np.log(ns), np.log(values), 1)[0])


def run(dims: tuple[int, ...] = DIMS, low: int = 3, kt_top: int = 7, kt_top_high_d: int = 6,
        cpp_top: int = 8, reps: int = 5, log: Any = print) -> dict[str, Any]:
    """Run the experiment; returns {d: {method: {n, mmd (samples x len(n)), rms_mmd,
    seconds, slope, slope_per_rep, local_slopes}}}.

    n = 4^low .. 4^top: ``kt_top`` for KT and target KT (``kt_top_high_d`` when d >= 100,
    KT being O(n^2 d)), ``cpp_top`` for Compress++ and i.i.d. Sample r of size n is the
    same for every method.
    """
    out: dict[str, Any] = {}
    for d in dims:
        sigma2 = 2.0 * d
        kernel = Gaussian(bandwidth=math.sqrt(sigma2))
        top = {"iid": cpp_top, "compress++": cpp_top,
               "kt": kt_top if d < 100 else kt_top_high_d}
        top["target kt"] = top["kt"]
        res: dict[str, Any] = {}
        for method in METHODS:
            ns = [4**j for j in range(low, top[method] + 1)]
            n_reps = max(reps, IID_REPS) if method == "iid" else reps
            mmd = np.empty((n_reps, len(ns)))
            secs = np.empty((n_reps, len(ns)))
            for a, n in enumerate(ns):
                size = math.isqrt(n)
                for r in range(n_reps):
                    X = np.random.default_rng([d, n, r]).normal(size=(n, d))
                    t0 = time.perf_counter()
                    idx = coreset(method, X, size, kernel, seed=r)
                    secs[r, a] = time.perf_counter() - t0
                    mmd[r, a] = gaussian_mmd_to_normal(X[idx], sigma2)
                log(f"d={d} {method:>10} n=4^{int(round(math.log(n, 4)))}: rms MMD "
                    f"{np.sqrt(np.mean(mmd[:, a] ** 2)):.3e}, {np.median(secs[:, a]):.2f} s")
            rms = np.sqrt(np.mean(mmd**2, axis=0))
            per_rep = [_slope(ns, list(mmd[r])) for r in range(n_reps)]
            res[method] = {
                "n": ns, "mmd": mmd.tolist(), "rms_mmd": rms.tolist(),
                "seconds": np.median(secs, axis=0).tolist(),
                "slope": _slope(ns, list(rms)),
                "slope_per_rep": per_rep,
                "local_slopes": [float(np.log(rms[a + 1] / rms[a]) / np.log(4.0))
                                 for a in range(len(ns) - 1)],
            }
        out[str(d)] = res
    return out


def table(result: dict[str, Any], markdown: bool = True) -> str:
    head = ["d", "method", "n range", "slope (rms curve)", "per-sample slopes: median "
            "[min, max]", "local slopes", "rms MMD at largest n", "/ iid there",
            "model at largest n", "seconds at largest n"]
    rows = []
    for d, res in result.items():
        iid = dict(zip(res["iid"]["n"], res["iid"]["rms_mmd"], strict=True))
        for method, v in res.items():
            n_top = v["n"][-1]
            rows.append([
                d, method, f"4^{round(math.log(v['n'][0], 4))}..4^{round(math.log(n_top, 4))}",
                f"{v['slope']:.2f}",
                f"{statistics.median(v['slope_per_rep']):.2f} "
                f"[{min(v['slope_per_rep']):.2f}, {max(v['slope_per_rep']):.2f}]",
                " ".join(f"{s:.2f}" for s in v["local_slopes"]),
                f"{v['rms_mmd'][-1]:.2e}", f"{v['rms_mmd'][-1] / iid[n_top]:.2f}",
                "-" if method == "iid"
                else f"{balanced_model_mmd(n_top, int(d), 2.0 * int(d)):.2e}",
                f"{v['seconds'][-1]:.1f}"])
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head)] + [fmt.format(*r) for r in rows])


def plot(result: dict[str, Any], path: str) -> None:
    from kernelkit._optional import import_optional

    import_optional("matplotlib")
    from matplotlib.figure import Figure

    dims = list(result)
    fig = Figure(figsize=(4.0 * len(dims), 3.8))
    axes = np.atleast_1d(fig.subplots(1, len(dims), sharex=True, sharey=True))
    styles = {"iid": "s:", "kt": "o-", "target kt": "^-", "compress++": "D--"}
    for ax, d in zip(axes, dims, strict=True):
        res = result[d]
        for method, v in res.items():
            ax.loglog(v["n"], v["rms_mmd"], styles[method], ms=4,
                      label=f"{method}: n^{v['slope']:.2f}")
        ns = np.array(res["iid"]["n"], dtype=float)
        sigma2 = 2.0 * int(d)
        ax.loglog(ns, [expected_iid_mmd(math.isqrt(int(n)), int(d), sigma2) for n in ns],
                  color="0.6", lw=1, label="E iid, sqrt(n) points: n^-1/4")
        ax.loglog(ns, [expected_iid_mmd(int(n), int(d), sigma2) for n in ns],
                  color="0.3", lw=1, ls="-.", label="E all n input points: n^-1/2")
        ax.loglog(ns, [balanced_model_mmd(int(n), int(d), sigma2) for n in ns], color="k",
                  lw=0.8, ls=":", label="model: sqrt(n) eigenfunctions balanced")
        ax.set_title(f"d = {d}, sigma^2 = 2d")
        ax.set_xlabel("input size n (coreset sqrt(n))")
        ax.legend(fontsize=7, loc="lower left")
    axes[0].set_ylabel("MMD_k(P, coreset), root mean square")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reps", type=int, default=5, help="independent samples per n (5)")
    p.add_argument("--kt-top", type=int, default=7, help="KT up to n = 4^this (d < 100)")
    p.add_argument("--kt-top-high-d", type=int, default=6, help="KT up to 4^this, d = 100")
    p.add_argument("--cpp-top", type=int, default=8, help="Compress++ up to n = 4^this")
    p.add_argument("--quick", action="store_true", help="n <= 4^6, 3 samples (< 1 min)")
    p.add_argument("--plot", default=None, help="write the log-log plot here")
    p.add_argument("--json", default=None, help="write the results as JSON here")
    args = p.parse_args(argv)
    if args.quick:
        args.reps, args.kt_top, args.kt_top_high_d, args.cpp_top = 3, 6, 5, 6
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {msg}", file=sys.stderr, flush=True)

    result = run(kt_top=args.kt_top, kt_top_high_d=args.kt_top_high_d, cpp_top=args.cpp_top,
                 reps=args.reps, log=log)
    print(table(result))
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    if args.plot:
        plot(result, args.plot)
        log(f"wrote {args.plot}")
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

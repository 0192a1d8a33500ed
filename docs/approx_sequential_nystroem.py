"""SequentialNystroem on a stream: dictionary size vs the effective dimension d_eff.

Rows of a 2-D uniform sample on [-3, 3]² arrive in batches; after each checkpoint we
compare the dictionary size with d_eff = tr(K (K + γI)⁻¹) of all rows seen so far (dense
oracle), the estimate ``effective_dimension_``, and the spectral error ||K − K̃||₂ / γ.
Prints a Markdown table and, if matplotlib is installed, writes a PNG::

    python docs/approx_sequential_nystroem.py [--png approx_sequential_nystroem.png]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.linalg

from kernelkit.approx import SequentialNystroem
from kernelkit.exceptions import OptionalDependencyError
from kernelkit.kernels import Gaussian


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gamma", type=float, default=1.0)
    parser.add_argument("--oversampling", type=float, default=3.0)
    parser.add_argument("--checkpoints", type=int, nargs="+",
                        default=[250, 500, 1000, 2000, 3000])
    parser.add_argument("--png", default="approx_sequential_nystroem.png")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    X = rng.uniform(-3.0, 3.0, size=(max(args.checkpoints), 2))
    kernel, gamma = Gaussian(bandwidth=1.0), args.gamma
    sn = SequentialNystroem(kernel=kernel, regularization=gamma,
                            oversampling=args.oversampling, random_state=args.seed)
    rows = []
    seen, fit_seconds = 0, 0.0
    print(f"Gaussian(h=1), gamma = {gamma}, oversampling = {args.oversampling}, "
          "X uniform on [-3, 3]^2")
    print("| n | d_eff (dense) | dictionary | dictionary / d_eff | d_eff estimate "
          "| spectral error / gamma | stream seconds |")
    print("|---|---|---|---|---|---|---|")
    for n in args.checkpoints:
        t = time.perf_counter()
        sn.partial_fit(X[seen:n])
        fit_seconds += time.perf_counter() - t
        seen = n
        K = np.asarray(kernel(X[:n]))
        ev = scipy.linalg.eigvalsh(K)
        deff = float((ev / (ev + gamma)).sum())
        Z = sn.transform(X[:n])
        E = scipy.linalg.eigvalsh(K - Z @ Z.T)
        err = float(np.abs(E).max()) / gamma
        rows.append((n, deff, sn.n_components_, sn.effective_dimension_, err))
        print(f"| {n} | {deff:.1f} | {sn.n_components_} | {sn.n_components_ / deff:.2f} | "
              f"{sn.effective_dimension_:.1f} | {err:.3f} | {fit_seconds:.2f} |")
    try:
        from kernelkit._optional import import_optional

        figure = import_optional("matplotlib.figure")
    except OptionalDependencyError:
        print("matplotlib not installed: no plot")
        return
    fig = figure.Figure(figsize=(5, 3.5))
    ax = fig.add_subplot()
    ns = [r[0] for r in rows]
    ax.plot(ns, [r[2] for r in rows], "o-", label="dictionary size")
    ax.plot(ns, [r[1] for r in rows], "s--", label="d_eff (dense oracle)")
    ax.plot(ns, [args.oversampling * r[1] for r in rows], ":", label="oversampling x d_eff")
    ax.plot(ns, ns, color="0.7", label="n (all rows)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows seen n")
    ax.set_ylabel("size")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.png, dpi=100)
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()

"""Random-projection mode finding: density of the lifted mode vs full-dimensional mean shift.

Reproduces the behaviour of "Dimensionality Reduction for General KDE Mode Finding"
(Luo, Musco and Widdershoven, ICML 2023; Lee et al., ESA 2021 for the Gaussian case): project
the data to k dimensions with a Gaussian random matrix, find the modes of the projected
KDE by mean shift, lift each back with one mean-shift step that uses the projected kernel
weights, and compare the density of the best lifted point with the best mode found by
mean shift in all d dimensions. The ratio tends to 1 as k grows (k = O(log n / eps^2)).

Run::

    python docs/density_projection_modes.py            # about a minute
    python docs/density_projection_modes.py --quick
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kernelkit.density import mean_shift, projection_dimension  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=3, help="random projections per k")
    args = parser.parse_args(argv)
    n, d = (600, 100) if args.quick else (2000, 300)
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, d)) * 1.5
    spreads = np.array([0.8, 1.0, 1.0, 1.2])
    labels = rng.integers(0, 4, size=n)
    X = centres[labels] + spreads[labels, None] * rng.normal(size=(n, d))
    h = float(np.sqrt(d) * 0.6)
    t0 = time.perf_counter()
    full = mean_shift(X, bandwidth=h, max_seeds=300, random_state=0)
    t_full = time.perf_counter() - t0
    print(f"n={n}, d={d}, bandwidth={h:.3g}; full mean shift: {len(full.modes)} modes, "
          f"{t_full:.2f} s; JL dimension for eps=0.5: {projection_dimension(n, 0.5)}")
    print(f"{'k':>5} {'density ratio (median, min)':>30} {'seconds':>8}")
    for k in (2, 5, 10, 20, 50, 100):
        ratios, secs = [], []
        for s in range(args.seeds):
            t0 = time.perf_counter()
            res = mean_shift(X, bandwidth=h, n_components=k, max_seeds=300, random_state=s)
            secs.append(time.perf_counter() - t0)
            ratios.append(float(np.exp(res.log_density[0] - full.log_density[0])))
        print(f"{k:>5} {np.median(ratios):>18.4f}, {min(ratios):.4f} {np.median(secs):>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

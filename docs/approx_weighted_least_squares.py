"""Weighted least squares with i.i.d., DPP and volume sampling (Nouy & Michel).

Approximate f(x) = 1 / (1 + 25 x²) on [-1, 1] (uniform measure) in V_m = polynomials of
degree < m from n point evaluations, n close to m, and compare the error ratio
||f - f_n|| / ||f - P_m f|| (1 is the best approximation) of three samplers:

- ``iid``: n i.i.d. points from the optimal density ρ_m = (1/m) Σ ψ_j², weights 1/ρ_m;
- ``dpp``: the projection DPP of V_n (first n Legendre polynomials, n points) drawn with
  ``kernelkit.approx.sample_dpp`` (a k-DPP with k = n of the projection kernel), weights
  1/ρ_n;
- ``volume``: ``kernelkit.approx.volume_sampling`` (m DPP points of V_m and n - m i.i.d.
  points from ρ_m, weights 1/ρ_m).

The domain is discretised by N Gauss-Legendre nodes (the base measure is their weights),
so the L² norms are exact quadratures for polynomials. Runs in well under a minute::

    python docs/approx_weighted_least_squares.py [--trials 200]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from numpy.polynomial import legendre

from kernelkit.approx import orthonormal_features, sample_dpp, volume_sampling


def _wls(psi: np.ndarray, f: np.ndarray, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    sw = np.sqrt(w)
    coef, *_ = np.linalg.lstsq(sw[:, None] * psi[idx], sw * f[idx], rcond=None)
    return np.asarray(psi @ coef)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=12, help="dimension of V_m")
    parser.add_argument("--nodes", type=int, default=200, help="Gauss-Legendre nodes N")
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    m, N = args.m, args.nodes
    rng = np.random.default_rng(args.seed)
    x, gl = legendre.leggauss(N)
    f = 1.0 / (1.0 + 25.0 * x**2)
    n_max = int(math.ceil(3 * m * math.log(m)))
    psi_all, mu = orthonormal_features(legendre.legvander(x, n_max - 1), gl)
    psi = psi_all[:, :m]
    best = f - psi @ (psi.T @ (mu * f))
    best_err = math.sqrt(float(mu @ best**2))
    rho_m = np.einsum("ij,ij->i", psi, psi) / m

    def ratio(approx: np.ndarray) -> float:
        return math.sqrt(float(mu @ (f - approx) ** 2)) / best_err

    sizes = sorted({m, m + 2, int(1.5 * m), 2 * m, int(math.ceil(m * math.log(m))), n_max})
    print(f"f(x) = 1/(1+25x^2), m = {m}, best L2 error {best_err:.3g}, N = {N} nodes, "
          f"{args.trials} trials; m log m = {m * math.log(m):.1f}")
    print("| n | n/m | sampler | median ratio | 90% ratio | max ratio | P(ratio > 10) |")
    print("|---|---|---|---|---|---|---|")
    start = time.perf_counter()
    for n in sizes:
        rho_n = np.einsum("ij,ij->i", psi_all[:, :n], psi_all[:, :n]) / n
        q_n = np.sqrt(mu)[:, None] * psi_all[:, :n]
        L = q_n @ q_n.T  # projection kernel of V_n in the weighted discrete coordinates
        results: dict[str, list[float]] = {"iid": [], "dpp": [], "volume": []}
        for _ in range(args.trials):
            idx = rng.choice(N, n, p=mu * rho_m)
            results["iid"].append(ratio(_wls(psi, f, idx, 1.0 / rho_m[idx])))
            idx, w = volume_sampling(psi, n, base_weights=mu, random_state=rng)
            results["volume"].append(ratio(_wls(psi, f, idx, w)))
            idx = sample_dpp(L, k=n, random_state=rng)
            results["dpp"].append(ratio(_wls(psi, f, idx, 1.0 / rho_n[idx])))
        for name, r in results.items():
            a = np.asarray(r)
            print(f"| {n} | {n / m:.2f} | {name} | {np.median(a):.3g} | "
                  f"{np.quantile(a, 0.9):.3g} | {a.max():.3g} | {np.mean(a > 10):.2f} |")
    print(f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()

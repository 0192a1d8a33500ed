"""volume_sampling: exact small-case laws by enumeration, unbiasedness, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from numpy.polynomial import legendre
from scipy.stats import chisquare

from kernelkit.approx import orthonormal_features, volume_sampling
from kernelkit.exceptions import InputValueError, ParameterError, ShapeError

# a fixed small problem: N = 5 candidates, m = 2 features, a non-uniform base measure
_X = np.array([-1.0, -0.4, 0.1, 0.5, 1.0])
_PHI = np.column_stack([np.ones(5), _X + 0.3 * _X**2])
_MU = np.array([0.1, 0.3, 0.2, 0.25, 0.15])


def _tuple_law(psi, mu, rho, n):
    """P(x_1..x_n) ∝ det(Σ w ψψᵀ) Π ρ μ over all ordered n-tuples (w = 1/ρ)."""
    N = psi.shape[0]
    tuples = list(itertools.product(range(N), repeat=n))
    p = np.empty(len(tuples))
    for t, idx in enumerate(tuples):
        idx = list(idx)
        G = (psi[idx] / rho[idx, None]).T @ psi[idx]
        p[t] = np.linalg.det(G) * np.prod(rho[idx] * mu[idx])
    return tuples, p / p.sum()


def _chi2_pvalue(counts, probs):
    keep = probs > 0
    assert counts[~keep].sum() == 0, "a zero-probability outcome was sampled"
    return chisquare(counts[keep], probs[keep] * counts.sum()).pvalue


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_n_equals_m_is_the_projection_dpp(dtype):
    """For n = m, P({x_1..x_m}) = det(ψ_S)² Π μ (probabilities sum to 1 by Cauchy-Binet)."""
    psi, mu = orthonormal_features(_PHI, _MU)
    sets = list(itertools.combinations(range(5), 2))
    law = np.array([np.linalg.det(psi[list(S)]) ** 2 * np.prod(mu[list(S)]) for S in sets])
    np.testing.assert_allclose(law.sum(), 1.0, rtol=1e-12)
    rng = np.random.default_rng(1)
    counts = np.zeros(len(sets))
    for _ in range(2000):
        idx, w = volume_sampling(_PHI.astype(dtype), 2, base_weights=_MU.astype(dtype),
                                 random_state=rng)
        counts[sets.index(tuple(sorted(idx)))] += 1
    assert _chi2_pvalue(counts, law) > 1e-4


@pytest.mark.parametrize("density", ["optimal", "uniform"])
def test_n_above_m_matches_enumerated_volume_law(density):
    """n = 3 > m = 2: ordered tuples against det(Σ w ψψᵀ) Π ρ μ, enumerated."""
    psi, mu = orthonormal_features(_PHI, _MU)
    rho = (np.einsum("ij,ij->i", psi, psi) / 2 if density == "optimal" else np.ones(5))
    tuples, law = _tuple_law(psi, mu, rho, 3)
    rng = np.random.default_rng(2)
    counts = np.zeros(len(tuples))
    dens = "optimal" if density == "optimal" else np.full(5, 7.0)  # normalised internally
    for _ in range(2500):
        idx, w = volume_sampling(_PHI, 3, base_weights=_MU, density=dens, random_state=rng)
        np.testing.assert_allclose(w, 1.0 / rho[idx], rtol=1e-12)
        counts[tuples.index(tuple(idx))] += 1
    assert _chi2_pvalue(counts, law) > 1e-4


def test_weighted_least_squares_is_unbiased():
    """E[f_n] = P_m f exactly under the enumerated law, and the sampler's mean agrees."""
    psi, mu = orthonormal_features(_PHI, _MU)
    f = np.array([0.3, -1.0, 2.0, 0.7, -0.2])
    proj = psi.T @ (mu * f)  # L²(μ) projection coefficients
    rho = np.einsum("ij,ij->i", psi, psi) / 2
    tuples, law = _tuple_law(psi, mu, rho, 3)
    mean = np.zeros(2)
    for idx, p in zip(tuples, law, strict=True):
        if p > 0:
            idx = list(idx)
            sw = np.sqrt(1.0 / rho[idx])
            mean += p * np.linalg.lstsq(sw[:, None] * psi[idx], sw * f[idx], rcond=None)[0]
    np.testing.assert_allclose(mean, proj, rtol=1e-10, atol=1e-12)
    # i.i.d. sampling from the same density is biased here (the test can tell them apart)
    iid_mean = np.zeros(2)
    for idx in tuples:
        idx = list(idx)
        p = np.prod(rho[idx] * mu[idx])
        sw = np.sqrt(1.0 / rho[idx])
        A = sw[:, None] * psi[idx]
        if np.linalg.matrix_rank(A) == 2:
            iid_mean += p * np.linalg.lstsq(A, sw * f[idx], rcond=None)[0]
    assert np.abs(iid_mean - proj).max() > 1e-3
    rng = np.random.default_rng(3)
    est = np.array([
        np.linalg.lstsq(np.sqrt(w)[:, None] * psi[i], np.sqrt(w) * f[i], rcond=None)[0]
        for i, w in (volume_sampling(_PHI, 3, base_weights=_MU, random_state=rng)
                     for _ in range(1500))])
    se = est.std(axis=0, ddof=1) / np.sqrt(len(est))
    assert (np.abs(est.mean(axis=0) - proj) < 4.5 * se).all()


def test_gram_invertible_and_inputs_not_mutated():
    x, mu = legendre.leggauss(100)
    Phi = legendre.legvander(x, 7)
    Phi0, mu0 = Phi.copy(), mu.copy()
    rng = np.random.default_rng(4)
    for n in (8, 9, 16):
        idx, w = volume_sampling(Phi, n, base_weights=mu, random_state=rng)
        assert idx.shape == (n,) == w.shape and idx.dtype == np.int64
        assert len(np.unique(idx)) >= 8  # the DPP part has m distinct points
        assert np.linalg.matrix_rank(Phi[idx]) == 8
    np.testing.assert_array_equal(Phi, Phi0)
    np.testing.assert_array_equal(mu, mu0)
    a = volume_sampling(Phi, 10, base_weights=mu, random_state=5)
    b = volume_sampling(Phi, 10, base_weights=mu, random_state=5)
    np.testing.assert_array_equal(a[0], b[0])


def test_bad_input():
    with pytest.raises(ParameterError, match="n >= m"):
        volume_sampling(_PHI, 1)
    with pytest.raises(ShapeError, match="base_weights"):
        volume_sampling(_PHI, 2, base_weights=np.ones(4))
    with pytest.raises(InputValueError, match="non-negative"):
        volume_sampling(_PHI, 2, base_weights=-np.ones(5))
    with pytest.raises(InputValueError, match="linearly dependent"):
        volume_sampling(np.column_stack([_PHI, _PHI[:, 0]]), 3)
    with pytest.raises(ParameterError, match="density"):
        volume_sampling(_PHI, 2, density="uniform")
    with pytest.raises(InputValueError, match="density"):
        volume_sampling(_PHI, 2, density=-np.ones(5))

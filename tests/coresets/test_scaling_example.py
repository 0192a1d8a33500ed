"""The closed-form MMD to N(0, I_d) of examples/coreset_scaling.py against quadrature."""

from __future__ import annotations

import functools
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate

_PATH = Path(__file__).resolve().parents[2] / "examples" / "coreset_scaling.py"


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("coreset_scaling", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.lru_cache
def _pair_integral(sigma2: float) -> float:
    """E k1(X, X') for X, X' ~ N(0, 1) independent, one coordinate."""
    phi = lambda x: math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # noqa: E731
    return integrate.dblquad(
        lambda x, z: math.exp(-(x - z) ** 2 / (2 * sigma2)) * phi(x) * phi(z),
        -12, 12, -12, 12, epsabs=1e-12)[0]


def _quadrature_mmd(Y: np.ndarray, sigma2: float) -> float:
    """Dense oracle: the kernel and N(0, I) factorise over coordinates, so E k(X, y) and
    E k(X, X') are products of one-dimensional integrals, done by quadrature."""
    phi = lambda x: math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # noqa: E731
    k1 = lambda x, y: math.exp(-(x - y) ** 2 / (2 * sigma2))  # noqa: E731
    inf = np.inf
    pk = np.array([np.prod([integrate.quad(lambda x, t=t: k1(x, t) * phi(x), -inf, inf,
                                           epsabs=1e-13)[0] for t in y]) for y in Y])
    pp1 = _pair_integral(sigma2)
    d = Y.shape[1]
    kk = np.exp(-((Y[:, None, :] - Y[None, :, :]) ** 2).sum(-1) / (2 * sigma2)).mean()
    return math.sqrt(pp1**d - 2 * pk.mean() + kk)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mmd_to_normal_matches_quadrature(example, dtype):
    Y = np.random.default_rng(0).normal(size=(7, 3)).astype(dtype)
    Y[3] = Y[1]  # a repeated point counts twice
    got = example.gaussian_mmd_to_normal(Y, 6.0)
    want = _quadrature_mmd(Y.astype(np.float64), 6.0)
    assert got == pytest.approx(want, rel=1e-6)


def test_expected_iid_mmd(example):
    # E MMD^2 of s i.i.d. points is (1 - PPk) / s: average over 1000 draws (SE of the root ~ 1.5 %)
    rng = np.random.default_rng(1)
    d, s, sigma2 = 2, 4, 4.0
    sq = [example.gaussian_mmd_to_normal(rng.normal(size=(s, d)), sigma2) ** 2
          for _ in range(1000)]
    assert math.sqrt(np.mean(sq)) == pytest.approx(example.expected_iid_mmd(s, d, sigma2),
                                                   rel=0.06)


def test_model_eigenvalues_match_quadrature_spectrum(example):
    # the model's eigenvalues lambda_0 B^j (d = 1) are those of the integral operator
    # f -> E k(., X) f(X), X ~ N(0, 1), discretised by Gauss-Hermite quadrature
    nodes, weights = np.polynomial.hermite_e.hermegauss(24)
    w = np.sqrt(weights / weights.sum())
    sigma2 = 2.0
    op = w[:, None] * np.exp(-((nodes[:, None] - nodes[None, :]) ** 2) / (2 * sigma2)) * w
    top = np.sort(np.linalg.eigvalsh(op))[::-1][:5]
    # the model's error for n = s^2 reveals the sum of the s largest eigenvalues:
    # kept(s) = 1 - s * (mmd^2 - (1 - PPk) / n)
    pp = math.sqrt(sigma2 / (sigma2 + 2))
    kept = [1 - s * (example.balanced_model_mmd(s * s, 1, sigma2) ** 2 - (1 - pp) / (s * s))
            for s in range(1, 6)]
    np.testing.assert_allclose(np.diff([0.0, *kept]), top, rtol=1e-6)
    # d = 2: kernel and measure factorise, so the 2-D operator is kron(op, op), whose
    # eigenvalues are the pairwise products; the model counts them with multiplicity
    # C(j + 1, j) = j + 1
    ev = np.linalg.eigvalsh(op)
    top2 = np.sort(np.outer(ev, ev).ravel())[::-1][:10]
    pp2 = sigma2 / (sigma2 + 2)
    kept2 = [1 - s * (example.balanced_model_mmd(s * s, 2, sigma2) ** 2 - (1 - pp2) / (s * s))
             for s in range(1, 11)]
    np.testing.assert_allclose(np.diff([0.0, *kept2]), top2, rtol=1e-6)
    assert example.balanced_model_mmd(4**12, 2, 4.0) == pytest.approx(
        example.expected_iid_mmd(4**12, 2, 4.0), rel=1e-6)  # d = 2: the input's own error

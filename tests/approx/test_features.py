"""RandomFeatures: unbiasedness, variance ordering, errors, and the scikit-learn contract."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from kernelkit.approx import RandomFeatures
from kernelkit.approx._features import METHODS, sample_frequencies
from kernelkit.approx._spectral import spectrum_of
from kernelkit.exceptions import InputTypeError
from kernelkit.kernels import (
    IMQ,
    Cosine,
    Gaussian,
    Laplace,
    Matern,
    Periodic,
    Polynomial,
    RationalQuadratic,
)
from kernelkit.testing import naive_kernel_matrix

FOURIER = [m for m in METHODS if m != "positive"]
KERNELS = [Gaussian(bandwidth=1.0), Laplace(bandwidth=1.5), Matern(nu=1.5, bandwidth=1.2),
           Matern(nu=2.5, bandwidth=[1.0, 2.0, 1.0]), RationalQuadratic(alpha=0.7),
           IMQ(c=1.5, beta=0.8), 2.0 * Gaussian(bandwidth=0.8)]


def _estimates(kernel, method, X, repeats, n_components=12, **kw):
    """k̃ over independent seeds, each an (n, n) matrix: shape (repeats, n, n)."""
    out = []
    for seed in range(repeats):
        Z = RandomFeatures(kernel=kernel, n_components=n_components, method=method,
                           random_state=seed, **kw).fit_transform(X)
        out.append(Z @ Z.T)
    return np.array(out)


CASES = ([(k, "iid") for k in KERNELS]
         + [(k, m) for m in ("orthogonal", "simplex", "qmc")
            for k in (Gaussian(bandwidth=1.0), Matern(nu=1.5, bandwidth=1.2), IMQ(c=1.5))])


@pytest.mark.parametrize(("kernel", "method"), CASES, ids=repr)
def test_fourier_features_are_unbiased(kernel, method):
    """k̃(x, y) = a · mean cos(W (x - y)) (what z(x)·z(y) computes) over 600 independent
    draws of 6 frequencies: the mean is within 4.5 standard errors of the dense oracle for
    3 pairs. Fails if a spectral density or a coupling is wrong."""
    rng = np.random.default_rng(1)
    X = 0.7 * rng.normal(size=(4, 3))
    diffs = (X[1:] - X[0]) / np.asarray(spectrum_of(kernel).bandwidth)
    spectrum = spectrum_of(kernel)
    est = np.array([
        spectrum.amplitude * np.cos(
            sample_frequencies(spectrum, method, 6, 3, np.random.default_rng(s)) @ diffs.T
        ).mean(axis=0)
        for s in range(600)])
    exact = naive_kernel_matrix(kernel, X[:1], X[1:])[0]
    se = est.std(axis=0) / np.sqrt(len(est))
    assert np.all(np.abs(est.mean(axis=0) - exact) <= 4.5 * se), (est.mean(axis=0), exact)


@pytest.mark.parametrize("kernel", [Gaussian(), Matern(nu=1.5)], ids=repr)
def test_structured_features_nearly_unbiased_in_16_dims(kernel):
    """SORF directions are only approximately uniform (the bias shrinks with d; at d = 3 a
    pair can be off by 0.1): at d = 16 the mean is within 4.5 s.e. + 0.01."""
    rng = np.random.default_rng(1)
    X = 0.2 * rng.normal(size=(4, 16))
    spectrum = spectrum_of(kernel)
    diffs = X[1:] - X[0]
    est = np.array([np.cos(sample_frequencies(spectrum, "structured", 16, 16,
                                              np.random.default_rng(s)) @ diffs.T).mean(axis=0)
                    for s in range(600)])
    exact = naive_kernel_matrix(kernel, X[:1], X[1:])[0]
    se = est.std(axis=0) / np.sqrt(len(est))
    assert np.all(np.abs(est.mean(axis=0) - exact) <= 4.5 * se + 0.01)


@pytest.mark.parametrize("coupling", ["iid", "orthogonal", "simplex"])
def test_positive_features_are_unbiased_and_positive(coupling):
    rng = np.random.default_rng(2)
    X = 0.4 * rng.normal(size=(4, 3))
    kernel = 1.5 * Gaussian(bandwidth=1.2)
    est = _estimates(kernel, "positive", X, 200, coupling=coupling)
    exact = naive_kernel_matrix(kernel, X)
    se = est.std(axis=0) / np.sqrt(len(est))
    assert np.all(np.abs(est.mean(axis=0) - exact) <= 4.5 * se)
    Z = RandomFeatures(kernel=kernel, n_components=7, method="positive",
                       random_state=0).fit_transform(X)
    assert Z.shape == (4, 7) and np.all(Z > 0)


def _mse(method, X, draws, positive):
    """Mean over draws of the mean squared error of the Gram matrix (m = d frequencies)."""
    spectrum = spectrum_of(Gaussian())
    K = naive_kernel_matrix(Gaussian(), X)
    sq = (X * X).sum(axis=1)
    d = X.shape[1]
    errs = []
    for seed in range(draws):
        W = sample_frequencies(spectrum, method, d, d, np.random.default_rng(seed))
        if positive:
            Z = np.exp(X @ W.T - sq[:, None]) / np.sqrt(d)
        else:
            P = X @ W.T
            Z = np.c_[np.cos(P), np.sin(P)] / np.sqrt(d)
        errs.append(((Z @ Z.T - K) ** 2).mean())
    return float(np.mean(errs)), float(np.std(errs) / np.sqrt(draws))


def test_positive_mse_ordering_simplex_orthogonal_iid():
    """SimRFs < ORFs < i.i.d. for positive features (Reid et al. 2023): 1000 draws, d = 16;
    measured: simplex 0.0023, orthogonal 0.0166, iid 0.0200 (s.e. 0.0012)."""
    rng = np.random.default_rng(3)
    X = 0.1 * rng.normal(size=(12, 16))
    X -= X.mean(axis=0)
    mse = {c: _mse(c, X, 1000, positive=True) for c in ("simplex", "orthogonal", "iid")}
    assert mse["simplex"][0] < mse["orthogonal"][0] < mse["iid"][0], mse


@pytest.mark.parametrize("d", [2, 5, 16])
def test_simplex_frequencies_geometry_and_laws(d):
    """SimRFs as in Reid et al. (2023): each block of d directions is a regular simplex
    (unit rows, pairwise inner products -1/(d-1)) under its own Haar rotation, and the
    norms are independent chi_d draws (the Gaussian kernel's radial law)."""
    import scipy.stats

    blocks = 400
    W = sample_frequencies(spectrum_of(Gaussian()), "simplex", blocks * d, d,
                           np.random.default_rng(0))
    radii = np.linalg.norm(W, axis=1)
    U = (W / radii[:, None]).reshape(blocks, d, d)
    G = np.einsum("bij,bkj->bik", U, U)
    expected = np.full((d, d), -1.0 / (d - 1)) + (1.0 + 1.0 / (d - 1)) * np.eye(d)
    np.testing.assert_allclose(G, np.broadcast_to(expected, G.shape), atol=1e-12)
    # norms: chi with d degrees of freedom, independent of the direction
    assert scipy.stats.kstest(radii, scipy.stats.chi(d).cdf).pvalue > 1e-3
    # rotation per block: a block's first direction is uniform on the sphere, so its mean
    # is 0 and its second moment I/d (4.5 standard errors)
    first = U[:, 0, :]
    assert np.all(np.abs(first.mean(axis=0)) < 4.5 * np.sqrt(1.0 / (d * blocks)))
    second = np.einsum("bi,bj->ij", first, first) / blocks
    assert np.abs(second - np.eye(d) / d).max() < 4.5 * np.sqrt(2.0 / (d * d * blocks))


def test_coupled_fourier_features_beat_iid():
    rng = np.random.default_rng(4)
    X = 0.3 * rng.normal(size=(12, 8))
    mse = {m: _mse(m, X, 300, positive=False)[0]
           for m in ("iid", "orthogonal", "simplex", "structured")}
    assert max(mse["orthogonal"], mse["simplex"], mse["structured"]) < mse["iid"], mse


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", METHODS)
def test_many_features_converge_to_oracle(method, dtype):
    """Slow twin: with 8000 features the Gram matrix is within 0.05 of the dense oracle,
    in both dtypes, and the output keeps the input dtype."""
    rng = np.random.default_rng(5)
    X = (0.3 * rng.normal(size=(15, 4))).astype(dtype)
    Z = RandomFeatures(kernel=Gaussian(bandwidth=1.0), n_components=8000, method=method,
                       random_state=0).fit_transform(X)
    assert Z.dtype == dtype
    err = np.abs(Z.astype(np.float64) @ Z.T.astype(np.float64)
                 - naive_kernel_matrix(Gaussian(), X.astype(np.float64))).max()
    assert err < 0.05


@pytest.mark.parametrize("n_components", [1, 3])
def test_odd_components_are_unbiased(n_components):
    """An odd count adds one random-phase cosine; the estimate stays unbiased."""
    rng = np.random.default_rng(6)
    X = 0.7 * rng.normal(size=(3, 2))
    est = _estimates(Matern(nu=2.5), "orthogonal", X, 150, n_components=n_components)
    exact = naive_kernel_matrix(Matern(nu=2.5), X)
    se = est.std(axis=0) / np.sqrt(len(est)) + 1e-12
    assert np.all(np.abs(est.mean(axis=0) - exact) <= 4.5 * se)
    assert est.shape == (150, 3, 3)


def test_more_components_than_samples_is_fine():
    X = np.random.default_rng(0).normal(size=(3, 2))
    Z = RandomFeatures(n_components=50, random_state=0).fit_transform(X)
    assert Z.shape == (3, 50)


def test_unsupported_kernel_lists_supported():
    X = np.ones((3, 2))
    for kernel in (Polynomial(), Cosine(), Periodic(), Gaussian() + Laplace()):
        with pytest.raises(InputTypeError, match="Gaussian, Laplace, Matern"):
            RandomFeatures(kernel=kernel).fit(X)
    with pytest.raises(TypeError, match="Gaussian kernel"):
        RandomFeatures(kernel=Laplace(), method="positive").fit(X)


def test_bad_parameters():
    X = np.ones((3, 2))
    with pytest.raises(ValueError, match="method"):
        RandomFeatures(method="sobol").fit(X)
    with pytest.raises(ValueError, match="n_components"):
        RandomFeatures(n_components=0).fit(X)
    with pytest.raises(ValueError, match="features"):
        RandomFeatures(kernel=Gaussian(bandwidth=[1.0, 2.0, 3.0])).fit(X)


def test_input_not_mutated_and_reproducible():
    X = np.random.default_rng(0).normal(size=(6, 3))
    before = X.copy()
    a = RandomFeatures(method="simplex", random_state=7).fit_transform(X)
    b = RandomFeatures(method="simplex", random_state=7).fit(X).transform(X)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(a, b)


@parametrize_with_checks([RandomFeatures(method=m, random_state=0) for m in METHODS])
def test_sklearn_compatible(estimator, check):
    check(estimator)

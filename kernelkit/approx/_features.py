"""Random features: random Fourier features with coupled frequencies, and FAVOR+."""

from __future__ import annotations

import math
from numbers import Integral
from typing import Any

import numpy as np
import scipy.linalg
import scipy.special
import scipy.stats
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from ..exceptions import InputTypeError
from ..kernels import Kernel
from ._common import FeatureMapMixin, as_generator
from ._spectral import Spectrum, spectrum_of

__all__ = ["RandomFeatures", "METHODS"]

METHODS = ("iid", "orthogonal", "structured", "simplex", "positive", "qmc")
#: Exponents of positive features are clipped here (exp(700) is near the float64 limit).
_MAX_EXPONENT = 700.0


def _haar(d: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed random orthogonal d × d matrix (QR with the sign fix)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))[None, :]


def _simplex_block(d: int, rng: np.random.Generator) -> np.ndarray:
    """d unit rows with pairwise inner products -1/(d - 1), randomly rotated."""
    v = np.eye(d) - 1.0 / d
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v @ _haar(d, rng).T


def _hadamard_block(d: int, rng: np.random.Generator) -> np.ndarray:
    """Directions of SORF (Yu et al. 2016): rows of H D1 H D2 H D3 restricted to d columns,
    with H the normalised Hadamard matrix of the next power of two and D_i random signs."""
    p = 1 << max(0, (d - 1).bit_length())
    H = scipy.linalg.hadamard(p).astype(np.float64) / math.sqrt(p)
    M = np.eye(p)
    for _ in range(3):
        M = H @ (rng.choice([-1.0, 1.0], size=p)[:, None] * M)
    rows = M[:, :d]
    norms = np.linalg.norm(rows, axis=1)
    return rows[norms > 1e-12] / norms[norms > 1e-12, None]


def _haar_blocks(k: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """k Haar orthogonal d × d matrices stacked as (k d, d) rows: the same draws, and the
    same matrices, as k successive :func:`_haar` calls, by one batched QR (for small d a
    Python loop of k QRs dominated the cost of orthogonal features)."""
    q, r = np.linalg.qr(rng.standard_normal((k, d, d)))
    q = q * np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    return q.reshape(k * d, d)


def _directions(method: str, m: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """m unit directions in blocks of (at most) d coupled rows."""
    if method == "orthogonal" or (method == "simplex" and d == 1):
        return _haar_blocks(-(-m // d), d, rng)[:m]
    # (a one-point "simplex", d = 1, is degenerate: one Haar direction per block above)
    make = {"simplex": _simplex_block, "structured": _hadamard_block}[method]
    blocks, total = [], 0
    while total < m:
        block = make(d, rng)
        blocks.append(block)
        total += block.shape[0]
    return np.concatenate(blocks)[:m]


def sample_frequencies(spectrum: Spectrum, method: str, m: int, d: int,
                       rng: np.random.Generator) -> np.ndarray:
    """m frequencies (rows, shape (m, d)) in the bandwidth-1 space for ``method``."""
    if method == "iid":
        return spectrum.sample(m, d, rng)
    if method == "positive":
        raise AssertionError("positive features take their coupling as the method")
    if method == "qmc":
        extra = 0 if spectrum.mixing is None else 1
        engine = scipy.stats.qmc.Halton(d + extra, scramble=True, seed=rng)
        u = np.clip(engine.random(m), 1e-12, 1 - 1e-12)
        z = scipy.special.ndtri(u[:, :d])
        g = spectrum.g_from_uniform(u[:, d]) if extra else np.ones(m)
        return z * np.sqrt(g)[:, None]
    return _directions(method, m, d, rng) * spectrum.radii(m, d, rng)[:, None]


class RandomFeatures(FeatureMapMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                     BaseEstimator):
    r"""Random features whose inner products approximate a kernel: z(x)·z(y) ≈ k(x, y).

    Random Fourier features (Rahimi & Recht 2007) for stationary kernels with a known
    spectral density: ``z(x) = sqrt(a / m) [cos(W x), sin(W x)]`` with m = n_components / 2
    frequencies W drawn from the kernel's spectral density (see
    :mod:`kernelkit.approx._spectral`), so ``E[z(x)·z(y)] = k(x, y)``. The ``method``
    chooses how the frequencies are coupled; every method draws each frequency from the
    exact spectral density (so the estimate is unbiased), the coupled ones (blocks of
    n_features directions) reduce its variance.

    Parameters
    ----------
    kernel : Kernel, default=None
        The kernel to approximate; None means ``Gaussian(bandwidth=1.0)``. Supported:
        Gaussian, Laplace, Matern, RationalQuadratic, InverseMultiquadric and positive
        multiples of these (``method="positive"``: Gaussian only). Others raise
        :class:`~kernelkit.exceptions.InputTypeError` (a ``TypeError``) in ``fit``.
    n_components : int, default=100
        Number of output features. Fourier methods use a cos and a sin per frequency; an
        odd count makes the last frequency a single random-phase cosine
        ``sqrt(2) cos(ω·x + b)`` (also unbiased). Unlike Nyström it may exceed the number
        of samples.
    method : {"iid", "orthogonal", "structured", "simplex", "positive", "qmc"}, default="iid"
        - ``"iid"``: independent frequencies (scikit-learn's ``RBFSampler`` law, but with
          cos/sin pairs instead of random phases, which lowers the variance).
        - ``"orthogonal"``: blocks of orthogonal directions with independent radii
          (ORF, Yu et al. 2016).
        - ``"structured"``: SORF directions, rows of H D1 H D2 H D3 (Hadamard H, random
          signs D_i), with independent radii. The Hadamard matrices are formed densely, so
          this costs the same as ``"orthogonal"``; the direction law is only approximately
          uniform, so the kernel estimate has a small bias (SORF is known to).
        - ``"simplex"``: blocks of directions with pairwise inner products -1/(d - 1), the
          vertices of a randomly rotated simplex (SimRFs, Reid et al. 2023), the most
          negatively coupled law; lowest variance for the Gaussian kernel.
        - ``"positive"``: FAVOR+ positive features for the Gaussian kernel (Choromanski
          et al. 2021), ``z(x) = sqrt(a / m) exp(ω·x' - ||x'||²)`` with x' the data centred
          at the training mean and scaled by the bandwidth, and orthogonal ω. Never
          negative (needed for attention and for kernel density estimates), but its
          variance grows like exp(||x'||²): keep ||x - mean|| / h moderate. The
          directions are coupled as ``coupling`` says.
        - ``"qmc"``: frequencies from a scrambled Halton sequence mapped through the
          inverse CDF of the spectral density (Avron et al. 2016).
    coupling : {"iid", "orthogonal", "simplex"}, default="simplex"
        How the directions of ``method="positive"`` features are coupled: independent,
        orthogonal blocks (FAVOR+ as published) or simplex blocks (SimRFs, provably the
        lowest mean squared error among such couplings for positive features). Ignored
        by the other methods, which are themselves couplings.
    random_state : int, RandomState instance or None, default=None
        Seed of the frequencies.

    Attributes
    ----------
    frequencies_ : ndarray of shape (n_frequencies, n_features_in_)
        The frequencies W (already divided by the bandwidth).
    amplitude_ : float
        k(x, x), the kernel's amplitude a.
    phase_ : float or None
        Phase b of the lone cosine when n_components is odd (Fourier methods).
    offset_ : ndarray of shape (n_features_in_,)
        Centre subtracted before ``"positive"`` features (zeros for the others).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Present when X has string column names.

    References
    ----------
    .. [1] A. Rahimi and B. Recht, "Random Features for Large-Scale Kernel Machines",
       NeurIPS 2007.
    .. [2] F. X. Yu, A. T. Suresh, K. Choromanski, D. Holtmann-Rice and S. Kumar,
       "Orthogonal Random Features", NeurIPS 2016.
    .. [3] I. Reid, K. Choromanski, V. Likhosherstov and A. Weller, "Simplex Random
       Features", ICML 2023.
    .. [4] K. Choromanski et al., "Rethinking Attention with Performers", ICLR 2021.
    .. [5] H. Avron, V. Sindhwani, J. Yang and M. W. Mahoney, "Quasi-Monte Carlo Feature
       Maps for Shift-Invariant Kernels", JMLR 17, 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian
    >>> from kernelkit.approx import RandomFeatures
    >>> X = np.random.default_rng(0).normal(size=(200, 8))
    >>> rf = RandomFeatures(kernel=Gaussian(bandwidth=3.0), n_components=2000,
    ...                     method="simplex", random_state=0)
    >>> Z = rf.fit_transform(X)
    >>> Z.shape
    (200, 2000)
    >>> K = Gaussian(bandwidth=3.0)(X)
    >>> bool(np.abs(Z @ Z.T - K).max() < 0.1)
    True
    """

    _parameter_constraints: dict = {
        "kernel": [Kernel, None],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "method": [StrOptions(set(METHODS))],
        "coupling": [StrOptions({"iid", "orthogonal", "simplex"})],
        "random_state": ["random_state"],
    }

    def __init__(self, *, kernel: Kernel | None = None, n_components: int = 100,
                 method: str = "iid", coupling: str = "simplex",
                 random_state: Any = None) -> None:
        self.kernel = kernel
        self.n_components = n_components
        self.method = method
        self.coupling = coupling
        self.random_state = random_state

    def fit(self, X: Any, y: Any = None) -> RandomFeatures:
        """Draw the frequencies for data with X's number of features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data: only its shape is used, and its mean for ``"positive"``.
        y : None
            Ignored.

        Returns
        -------
        self : RandomFeatures
        """
        self._validate_params()
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        kernel = self._kernel()
        spectrum = spectrum_of(kernel)
        d = X.shape[1]
        kernel._check_n_features(d)
        if self.method == "positive":
            if not spectrum.gaussian:
                raise InputTypeError(
                    f"method='positive' (FAVOR+) needs a Gaussian kernel (or a multiple of "
                    f"one), got {kernel!r}; use a Fourier method for this kernel."
                )
            m = self.n_components
            self.offset_ = X.mean(axis=0, dtype=np.float64)
        else:
            m = (self.n_components + 1) // 2  # the last one alone when n_components is odd
            self.offset_ = np.zeros(d)
        rng = as_generator(self.random_state)
        method = self.coupling if self.method == "positive" else self.method
        omega = sample_frequencies(spectrum, method, m, d, rng)
        self.frequencies_ = omega / spectrum.bandwidth
        odd = self.method != "positive" and self.n_components % 2 == 1
        self.phase_ = float(rng.uniform(0.0, 2.0 * math.pi)) if odd else None
        self.amplitude_ = float(spectrum.amplitude)
        self._n_features_out = self.n_components
        return self

    def _features(self, X: np.ndarray) -> np.ndarray:
        """Random features z(X) (cos/sin pairs, or FAVOR+ positive features)."""
        W = self.frequencies_
        m = W.shape[0]
        proj = (X.astype(np.float64) - self.offset_) @ W.T
        if self.method == "positive":
            h = np.asarray(spectrum_of(self._kernel()).bandwidth, dtype=np.float64)
            sq = (((X.astype(np.float64) - self.offset_) / h) ** 2).sum(axis=1)
            Z = np.exp(np.minimum(proj - sq[:, None], _MAX_EXPONENT))
            Z *= math.sqrt(self.amplitude_ / m)
            return Z.astype(X.dtype, copy=False)
        if self.phase_ is None:
            Z = np.concatenate([np.cos(proj), np.sin(proj)], axis=1)
            Z *= math.sqrt(self.amplitude_ / m)
        else:
            # m - 1 cos/sin pairs and one sqrt(2) cos(ω·x + b) with a random phase b, whose
            # product has the same expectation k as a pair's: weights a / m stay unbiased
            pairs = proj[:, :-1]
            Z = np.concatenate([np.cos(pairs), np.sin(pairs),
                                math.sqrt(2.0) * np.cos(proj[:, -1:] + self.phase_)], axis=1)
            Z *= math.sqrt(self.amplitude_ / m)
        return Z.astype(X.dtype, copy=False)

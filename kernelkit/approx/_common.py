"""Helpers shared by the approximation modules: argument checks and kernel blocks."""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

import numpy as np
import scipy.linalg
from sklearn.utils.validation import check_is_fitted, validate_data

from .._config import get_config
from .._validation import check_array
from ..exceptions import InputTypeError, ParameterError
from ..kernels import Gaussian, Kernel, StationaryKernel
from ..ops._gram import compiled_gram, gram_supported

__all__ = ["as_generator", "check_kernel", "check_count", "check_data", "row_chunks",
           "kernel_block", "stable_cholesky", "small_blas", "weighted_sample_without_replacement",
           "FeatureMapMixin", "nystroem_normalization", "nystroem_features"]

#: Eigenvalues of a centres' kernel block below this fraction of the largest are zero.
EIG_RTOL = 1e-12


class FeatureMapMixin:
    """Shared parts of the feature-map transformers (RandomFeatures and the Nyströms).

    ``_kernel()`` resolves the ``kernel`` parameter (None means Gaussian(bandwidth=1));
    ``transform`` checks the fitted state and X, then calls the subclass's ``_features``;
    the tags declare that float32 and float64 are preserved.
    """

    kernel: Kernel | None

    def _kernel(self) -> Kernel:
        return Gaussian(bandwidth=1.0) if self.kernel is None else self.kernel

    def _features(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def transform(self, X: Any) -> np.ndarray:
        """Feature map z(X), with z(X) z(Y)ᵀ approximating the kernel block k(X, Y).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_features_out)
            In X's dtype (float32 or float64); computed in float64.
        """
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self._features(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()  # type: ignore[misc]
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def check_kernel(kernel: Any, name: str = "kernel") -> Kernel:
    """A kernelkit ``Kernel`` instance, or InputTypeError naming the argument."""
    if not isinstance(kernel, Kernel):
        raise InputTypeError(
            f"{name} must be a kernelkit kernel (e.g. kernelkit.kernels.Gaussian(bandwidth=1.0)), "
            f"got {type(kernel).__name__}."
        )
    return kernel


def check_count(value: Any, name: str, *, minimum: int = 1) -> int:
    """A Python int >= ``minimum`` (bools and floats rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ParameterError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def as_generator(random_state: Any) -> np.random.Generator:
    """A numpy Generator from None, an int, a RandomState or a Generator (used as is)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    from sklearn.utils import check_random_state

    return np.random.default_rng(check_random_state(random_state).randint(2**31 - 1))


def check_data(X: Any, name: str = "X") -> np.ndarray:
    """X as a 2-D finite float32/float64 numpy array (not copied when already fine)."""
    return check_array(X, name)


def row_chunks(n_rows: int, n_cols: int, *, itemsize: int = 8,
               copies: int = 3) -> Iterator[slice]:
    """Row slices so that ``copies`` blocks of (rows, n_cols) fit the working memory."""
    budget = get_config()["working_memory"] * 2**20
    rows = int(budget // max(1, copies * n_cols * itemsize))
    rows = max(64, min(n_rows, rows))
    for start in range(0, n_rows, rows):
        yield slice(start, min(n_rows, start + rows))


def kernel_block(kernel: Kernel, A: np.ndarray, B: np.ndarray, *,
                 exact: bool = False) -> np.ndarray:
    """Dense float64 block K(A, B) (A and B small enough to hold the block).

    Kernels the compiled engine evaluates (:func:`kernelkit.ops._gram.gram_supported`),
    with at most ``_COMPILED_MAX_FEATURES`` features, are filled by its compiled rows:
    distances from direct differences (no cancellation, so as accurate as ``exact``)
    and the profile fused, on the engine's threads — 2-10x faster than the numpy paths
    below at d ≤ 20 (measured; at d = 784 BLAS's cross term wins, hence the limit).
    Radial kernels defined by a profile f(s) of the scaled squared distance take a lean
    path (one BLAS product on data centred at B's mean, then f in place); their values
    agree with ``kernel(A, B)`` to ~1e-12 relative except for near-coincident pairs of
    kinked kernels (Laplace), which the exact path refines and the approximations here
    do not need. Every other kernel, and every kernel with ``exact=True``, is evaluated
    by ``kernel(A, B)``.
    """
    A = A.astype(np.float64, copy=False)
    B = B.astype(np.float64, copy=False)
    if A.shape[1] <= _COMPILED_MAX_FEATURES and gram_supported(kernel):
        kernel._check_n_features(A.shape[1])
        return compiled_gram(kernel, A, B, np.empty((A.shape[0], B.shape[0])))
    if exact or not _has_plain_profile(kernel):
        return np.asarray(kernel(A, B), dtype=np.float64)
    kernel._check_n_features(A.shape[1])
    inv = 1.0 / np.asarray(kernel.bandwidth, dtype=np.float64)  # type: ignore[attr-defined]
    centre = B.mean(axis=0)
    As = (A - centre) * inv
    Bs = (B - centre) * inv
    s = As @ Bs.T
    s *= -2.0
    s += np.einsum("ij,ij->i", As, As)[:, None]
    s += np.einsum("ij,ij->i", Bs, Bs)[None, :]
    np.maximum(s, 0.0, out=s)
    if float(kernel._profile(np.array(_S_CLIP), np)) < 1e-290:  # type: ignore[attr-defined]
        # fast-decaying profile (Gaussian): keep results out of the subnormal range,
        # where exp is ~40x slower; values change by < 1e-290 absolute
        np.minimum(s, _S_CLIP, out=s)
    return np.asarray(kernel._profile(s, np), dtype=np.float64)  # type: ignore[attr-defined]


#: Blocks of data with more features than this use the numpy path: its BLAS cross term
#: beats the compiled direct differences beyond a few hundred features (d = 200: 1.3x
#: slower than compiled; d = 784: 1.4x faster, measured on 2000 x 300 blocks).
_COMPILED_MAX_FEATURES = 128
#: Scaled squared distance at which exp(-s/2) is ~1e-304, still a normal float64.
_S_CLIP = 1400.0


def _has_plain_profile(kernel: Kernel) -> bool:
    """A StationaryKernel evaluated as f(||(x - y) / h||^2) with numpy parameters."""
    if not isinstance(kernel, StationaryKernel):
        return False
    if type(kernel)._tile is not StationaryKernel._tile:  # e.g. Periodic
        return False
    return all(type(getattr(kernel, name)).__module__.split(".")[0] != "torch"
               for name in kernel._param_names)


_controller: Any = None
#: Dense factorizations up to this order run on one BLAS thread: threading them gains
#: little and, on a busy machine, spinning BLAS threads can make them 10-100x slower.
SMALL_DENSE = 1024


def small_blas(order: int) -> Any:
    """Context limiting BLAS to one thread for a dense problem of this order (if small)."""
    global _controller
    if order > SMALL_DENSE or order < 64:  # tiny problems do not start BLAS threads
        return nullcontext()
    if _controller is None:
        from threadpoolctl import ThreadpoolController

        _controller = ThreadpoolController()
    return _controller.limit(limits=1, user_api="blas")


def stable_cholesky(M: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a symmetric PD matrix, adding jitter only if needed."""
    with small_blas(M.shape[0]):
        return _stable_cholesky(M)


def _stable_cholesky(M: np.ndarray) -> np.ndarray:
    M = 0.5 * (M + M.T)
    scale = float(np.max(np.abs(np.diag(M)))) if M.size else 1.0
    jitter = 0.0
    for _ in range(8):
        try:
            return np.asarray(scipy.linalg.cholesky(M + jitter * np.eye(M.shape[0]),
                                                    lower=True, check_finite=False))
        except np.linalg.LinAlgError:
            jitter = max(jitter * 10.0, scale * 1e-12)
    raise np.linalg.LinAlgError("matrix is not positive definite even with jitter")


def nystroem_normalization(K: np.ndarray) -> np.ndarray:
    """K^{-1/2} of a centres' kernel block K (pseudo-inverse: eigenvalues below
    ``EIG_RTOL`` times the largest are dropped); symmetric, float64."""
    with small_blas(K.shape[0]):
        s, U = scipy.linalg.eigh(0.5 * (K + K.T), check_finite=False, driver="evd")
    keep = s > EIG_RTOL * max(float(s.max()), 1e-300)
    inv_sqrt = np.zeros_like(s)
    inv_sqrt[keep] = 1.0 / np.sqrt(s[keep])
    return np.asarray((U * inv_sqrt) @ U.T)


def nystroem_features(kernel: Kernel, X: np.ndarray, centres: np.ndarray,
                      normalization: np.ndarray) -> np.ndarray:
    """Nyström features k(X, C) @ normalization in X's dtype, by row chunks in float64."""
    m = centres.shape[0]
    out = np.empty((X.shape[0], m), dtype=X.dtype)
    for chunk in row_chunks(X.shape[0], m):
        out[chunk] = kernel_block(kernel, X[chunk], centres, exact=True) @ normalization
    return out


def weighted_sample_without_replacement(weights: np.ndarray, size: int,
                                        rng: np.random.Generator) -> np.ndarray:
    """``size`` distinct indices drawn one after another with probability ∝ ``weights``.

    Uses exponential keys (Efraimidis & Spirakis, 2006): index i gets key E_i / w_i with
    E_i ~ Exp(1); the ``size`` smallest keys have the law of successive sampling without
    replacement. O(n). Zero weights are drawn only after all positive ones.
    """
    w = np.asarray(weights, dtype=np.float64)
    with np.errstate(divide="ignore"):
        keys = rng.standard_exponential(w.shape[0]) / w
    if size >= w.shape[0]:
        return np.argsort(keys, kind="stable").astype(np.int64)
    part = np.argpartition(keys, size - 1)[:size]
    return part[np.argsort(keys[part], kind="stable")].astype(np.int64)

"""Dense and iterative linear algebra shared by the regression estimators.

* :func:`dense_gram` fills one preallocated n × m array tile by tile (no temporaries
  larger than a tile), so the Cholesky path holds a single n × n matrix;
* :func:`cholesky_inplace` factors it in place and turns LAPACK's failure into a typed
  :class:`~kernelkit.exceptions.NotPSDError` with the remedy;
* :func:`block_cg` runs independent preconditioned conjugate gradients on every column of a
  right-hand side at once, so each iteration costs one (multi-column) operator product: the
  engine's product with k columns costs about as much as with one;
* :func:`refined_dense_cg` solves with a float32 kernel matrix already in memory (BLAS
  products, :class:`ColumnNystrom` preconditioner) inside a float64 iterative refinement,
  so an exact solution needs no O(n³) factorisation.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from .._config import get_config
from ..exceptions import ConvergenceWarning, NotPSDError
from ..kernels._base import Kernel

__all__ = ["dense_gram", "cholesky_inplace", "block_cg", "CGInfo", "dense_fits",
           "JITTER", "small_blas", "ColumnNystrom", "refined_dense_cg", "RefinedCGInfo"]

#: Matrices up to this order are factored with single-threaded BLAS: threads cost more
#: than they save there, and far more on a busy machine.
SMALL_BLAS_ORDER = 1024


def small_blas(order: int) -> AbstractContextManager[Any]:
    """Limit BLAS to one thread while working on matrices of at most this order."""
    if order > SMALL_BLAS_ORDER:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")

#: Relative jitter (times the mean diagonal) added to K_mm before factoring it, per dtype.
JITTER = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-12}


def dense_fits(n: int, m: int, itemsize: int = 8) -> bool:
    """Whether an n × m matrix fits in ``working_memory`` (the Cholesky-path budget rule)."""
    return n * m * itemsize <= get_config()["working_memory"] * 2**20


def _row_block(n: int, m: int, itemsize: int) -> int:
    """Rows per tile: a few tile-sized temporaries stay within 1/8 of ``working_memory``
    and, for big outputs, within ~1/8 of the n × m output itself."""
    budget = get_config()["working_memory"] * 2**20 / 8
    rows = budget // max(1, 4 * m * itemsize)
    return int(max(1, min(4096, rows, max(64, n // 32))))


def dense_gram(kernel: Kernel, X: np.ndarray, Y: np.ndarray | None = None, *,
               out: np.ndarray | None = None, lower_only: bool = False) -> np.ndarray:
    """K(X, Y) written tile by tile into ``out`` (allocated once if None).

    Kernels with a compiled profile (Gaussian, Laplace, Matérn, ...) are evaluated by
    compiled, multi-threaded code (:mod:`._gram`, float64 arithmetic rounded once into
    ``out``); others by their numpy tiles.

    Parameters
    ----------
    kernel : Kernel
    X : ndarray of shape (n, d)
    Y : ndarray of shape (m, d), default=None
        None means X (symmetric K).
    out : ndarray of shape (n, m), default=None
        C-contiguous; float32 or float64.
    lower_only : bool, default=False
        With Y=None: fill only the lower triangle (j <= i), leave the rest of ``out``
        unspecified (for a factorisation that reads one triangle).

    Returns
    -------
    K : ndarray of shape (n, m)
    """
    from ..ops._gram import compiled_gram, gram_supported

    symmetric = Y is None
    Yv = X if Y is None else Y
    n, m = X.shape[0], Yv.shape[0]
    if out is None:
        out = np.empty((n, m), dtype=np.result_type(X, Yv))
    if out.flags.c_contiguous and out.dtype in (np.float32, np.float64) \
            and gram_supported(kernel):
        return compiled_gram(kernel, X, Y, out, lower=symmetric and lower_only)
    rows = _row_block(n, m, out.itemsize)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        cols = stop if symmetric else m
        out[start:stop, :cols] = kernel._tile(X[start:stop], Yv[:cols], np)
    if symmetric and not lower_only:
        # mirror the computed lower triangle into the upper one, tile by tile
        for start in range(0, n, rows):
            stop = min(n, start + rows)
            out[start:stop, stop:] = out[stop:, start:stop].T
    return out


def cholesky_inplace(A: np.ndarray, what: str = "K + alpha I",
                     remedy: str = "increase alpha") -> np.ndarray:
    """Lower Cholesky factor of the symmetric matrix ``A``, overwriting ``A``.

    Raises
    ------
    NotPSDError
        If ``A`` is not numerically positive definite.
    """
    if A.flags.c_contiguous and not A.flags.f_contiguous:
        A = A.T  # same values (A is symmetric) in the Fortran order LAPACK works in place on
    try:
        return scipy.linalg.cholesky(A, lower=True, overwrite_a=True, check_finite=False)
    except np.linalg.LinAlgError:
        raise NotPSDError(
            f"{what} is not numerically positive definite (Cholesky failed); {remedy} "
            "so that the system is better conditioned."
        ) from None


@dataclass
class CGInfo:
    """Outcome of :func:`block_cg`.

    Attributes
    ----------
    n_iter : int
        Iterations run.
    residuals : ndarray of shape (n_iter + 1, k)
        Relative residual norms ||b - A x|| / ||b|| per column, per iteration
        (in the preconditioned variables the solver iterates on).
    converged : bool
    """

    n_iter: int
    residuals: np.ndarray
    converged: bool


def block_cg(apply_A: Callable[[np.ndarray], np.ndarray], B: np.ndarray, *,
             apply_M: Callable[[np.ndarray], np.ndarray] | None = None,
             x0: np.ndarray | None = None, tol: float = 1e-10, max_iter: int = 100,
             callback: Callable[[int, np.ndarray, np.ndarray], Any] | None = None,
             warn: bool = True, what: str = "CG") -> tuple[np.ndarray, CGInfo]:
    """Preconditioned CG run independently on each column of ``B`` (one product per step).

    Parameters
    ----------
    apply_A : callable (n, k) -> (n, k)
        Symmetric positive definite operator.
    B : ndarray of shape (n, k)
    apply_M : callable (n, k) -> (n, k), default=None
        Inverse preconditioner; None is the identity.
    x0 : ndarray of shape (n, k), default=None
    tol : float, default=1e-10
        Relative residual ||b - A x|| / ||b|| to reach in every column.
    max_iter : int, default=100
    callback : callable, default=None
        ``callback(iteration, X, residuals)`` after each iteration; ``residuals`` holds
        the relative residual of each column.
    warn : bool, default=True
        Issue a ConvergenceWarning when ``tol`` is not reached.

    Returns
    -------
    X : ndarray of shape (n, k)
    info : CGInfo
    """
    X = np.zeros_like(B) if x0 is None else np.array(x0, dtype=B.dtype, copy=True)
    norm_b = np.linalg.norm(B, axis=0)
    norm_b[norm_b == 0] = 1.0
    R = B - apply_A(X) if x0 is not None else B.copy()
    Z = R if apply_M is None else apply_M(R)
    P = Z.copy()
    rz = np.einsum("ij,ij->j", R, Z)
    history = [np.linalg.norm(R, axis=0) / norm_b]
    active = history[-1] > tol
    it = 0
    while it < max_iter and active.any():
        AP = apply_A(P)
        pap = np.einsum("ij,ij->j", P, AP)
        step = np.where(active & (pap > 0), rz / np.where(pap > 0, pap, 1.0), 0.0)
        X += P * step
        R -= AP * step
        Z = R if apply_M is None else apply_M(R)
        rz_new = np.einsum("ij,ij->j", R, Z)
        beta = np.where(active & (rz != 0), rz_new / np.where(rz != 0, rz, 1.0), 0.0)
        P = Z + P * beta
        rz = rz_new
        it += 1
        history.append(np.linalg.norm(R, axis=0) / norm_b)
        active &= (history[-1] > tol) & (pap > 0)
        if callback is not None:
            callback(it, X, history[-1])
    res = np.array(history)
    converged = bool((res[-1] <= tol).all())
    if warn and not converged:
        warn_not_converged(what, it, res[-1], tol, stacklevel=4)
    return X, CGInfo(it, res, converged)


def warn_not_converged(what: str, n_iter: int, residual: np.ndarray, tol: float,
                       stacklevel: int) -> None:
    """The ConvergenceWarning of a CG solve that stopped above ``tol``."""
    warnings.warn(
        f"{what} stopped after {n_iter} iterations with relative residual "
        f"{float(np.max(residual)):.2e} > tol={tol:g}; increase max_iter, alpha or tol.",
        ConvergenceWarning, stacklevel=stacklevel)


class ColumnNystrom:
    """Inverse of the Nyström preconditioner P = K_S K_SS⁺ K_Sᵀ + α I of K + α I, built
    from ``rank`` columns of a kernel matrix that is already in memory.

    K_SS + ε I = L Lᵀ (ε = ``JITTER`` × mean diagonal, so duplicated columns are harmless),
    Φᵀ = L⁻¹ K_Sᵀ is kept in K's dtype (rank × n), and
    P⁻¹ v = (v - Φ (α I + ΦᵀΦ)⁻¹ Φᵀ v) / α (Woodbury; the small system is factored in
    float64). Building costs O(n · rank²), applying O(n · rank).

    Parameters
    ----------
    K : ndarray of shape (n, n)
        Symmetric (both triangles filled), float32 or float64; not modified.
    alpha : float > 0
    rank : int
        Columns drawn uniformly without replacement (clipped to n).
    random_state : int, RandomState or None
    """

    #: Jitter added to K_SS, relative to its mean diagonal (float32 level).
    JITTER = 1e-5

    def __init__(self, K: np.ndarray, alpha: float, rank: int, random_state: Any) -> None:
        from sklearn.utils import check_random_state

        n = K.shape[0]
        rank = min(rank, n)
        S = np.sort(check_random_state(random_state).choice(n, size=rank, replace=False))
        Ct = K[S]                                        # rows = columns (K symmetric)
        W = Ct[:, S].astype(np.float64)
        # K_SS + jitter (float32 level): cheap to factor, and duplicated columns harmless
        W.flat[:: rank + 1] += self.JITTER * max(float(np.trace(W)) / rank, 1e-300)
        L = cholesky_inplace(W, "K_SS", "increase alpha")
        # Φ = K_S L⁻ᵀ in place (BLAS trsm from the right on the Fortran view Ct.T), so
        # Φᵀ (rank × n, K's dtype, C order) reuses Ct's memory: no other rank × n copy
        trsm = scipy.linalg.get_blas_funcs("trsm", (Ct,))
        self.Phi_t = trsm(1.0, L.astype(K.dtype), Ct.T, side=1, lower=1, trans_a=1,
                          overwrite_b=1).T
        G = (self.Phi_t @ self.Phi_t.T).astype(np.float64)
        G.flat[:: G.shape[0] + 1] += alpha
        self.R = cholesky_inplace(G, "alpha I + Phi^T Phi", "increase alpha")
        self.alpha = alpha

    def __call__(self, V: np.ndarray) -> np.ndarray:
        dt = self.Phi_t.dtype
        t = (self.Phi_t @ V.astype(dt)).astype(np.float64)
        t = scipy.linalg.cho_solve((self.R, True), t, check_finite=False)
        back = (self.Phi_t.T @ t.astype(dt)).astype(np.float64)
        return (V - back) / self.alpha


@dataclass
class RefinedCGInfo:
    """Outcome of :func:`refined_dense_cg`.

    Attributes
    ----------
    converged : bool
        False when the iteration budget ran out or refinement stalled above
        ``accept``; the returned solution is then not to be used.
    n_iter : int
        Inner CG iterations (products with the in-memory matrix), all steps together.
    n_refine : int
        Outer refinement steps (float64 operator products).
    residual : float
        Largest relative float64 residual ||b - A x|| / ||b|| over the columns.
    """

    converged: bool
    n_iter: int
    n_refine: int
    residual: float


def refined_dense_cg(K: np.ndarray, apply_A: Callable[[np.ndarray], np.ndarray],
                     B: np.ndarray, alpha: float, *, rank: int, budget: int,
                     tol: float = 1e-12, accept: float = 1e-10, inner_tol: float = 1e-3,
                     max_refine: int = 12,
                     random_state: Any = None) -> tuple[np.ndarray, RefinedCGInfo]:
    """Solve (K + alpha I) X = B with the (float32) K in memory, to float64 accuracy.

    Mixed-precision iterative refinement: each step computes the float64 residual
    R = B - A X with ``apply_A`` (the exact operator, e.g. an engine product), solves
    (K + alpha I) D = R to ``inner_tol`` by CG preconditioned with a column Nyström of
    rank ``rank`` (:class:`ColumnNystrom`), each iteration one BLAS product with K, and
    updates X += D. While the rounding error of K is small against alpha every step
    shrinks the residual by about that ratio.

    Parameters
    ----------
    K : ndarray of shape (n, n)
        The symmetric matrix (both triangles) approximating A - alpha I.
    apply_A : callable (n, k) -> (n, k)
        The exact float64 operator.
    B : ndarray of shape (n, k)
    alpha : float > 0
    rank : int
        Nyström preconditioner rank.
    budget : int
        Largest total number of inner iterations; the solve gives up (``converged``
        False) as soon as it would need more (estimated after the first step).
    tol : float, default=1e-12
        Target relative float64 residual.
    accept : float, default=1e-10
        When refinement stops improving (the float64 products' own rounding floor),
        residuals up to this are accepted as converged.
    inner_tol : float, default=1e-3
        Relative residual of each inner solve (about the float32 rounding of K against
        alpha: tighter does not make a step contract more).
    max_refine : int, default=12
    random_state : int, RandomState or None
        Seeds the Nyström columns.

    Returns
    -------
    X : ndarray of shape (n, k)
    info : RefinedCGInfo

    Raises
    ------
    NotPSDError
        When the preconditioner's small system cannot be factored.
    """
    precond = ColumnNystrom(K, alpha, rank, random_state)
    dt = K.dtype

    def apply_K(V: np.ndarray) -> np.ndarray:
        return (K @ V.astype(dt)).astype(np.float64) + alpha * V

    norm_b = np.linalg.norm(B, axis=0)
    norm_b[norm_b == 0] = 1.0
    X = np.zeros_like(B)
    R = B.copy()
    rel = float((np.linalg.norm(R, axis=0) / norm_b).max())
    used = steps = 0
    cap = max(1, budget // 3)
    while rel > tol:
        if steps >= max_refine:
            return X, RefinedCGInfo(False, used, steps, rel)
        D, inner = block_cg(apply_K, R, apply_M=precond, tol=inner_tol, max_iter=cap,
                            warn=False)
        used += inner.n_iter
        if not inner.converged:
            return X, RefinedCGInfo(False, used, steps, rel)
        X += D
        R = B - apply_A(X)
        steps += 1
        new = float((np.linalg.norm(R, axis=0) / norm_b).max())
        if new > 0.5 * rel:  # no progress: the rounding floor of apply_A (or diverging)
            return X, RefinedCGInfo(new <= accept, used, steps, new)
        if steps == 1 and new > tol:  # project the total cost from the first step
            needed = int(np.ceil(np.log(tol / new) / np.log(max(new / rel, 1e-16))))
            if used * (1 + needed) > budget:
                return X, RefinedCGInfo(False, used, steps, new)
        rel = new
        cap = max(1, budget - used)
    return X, RefinedCGInfo(True, used, steps, rel)

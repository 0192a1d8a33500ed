"""Exact kernel ridge regression: dense in-place Cholesky, or Nyström-preconditioned CG."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import scipy.linalg
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data

from .. import matvec
from .._config import get_config
from ..exceptions import ConvergenceWarning, NotPSDError
from ..kernels._base import Kernel
from ._base import (
    DualPredictMixin,
    NystromPreconditioner,
    as_2d_targets,
    check_sample_weight,
    resolve_kernel,
)
from ._linalg import block_cg, dense_gram, refined_dense_cg, small_blas

__all__ = ["KernelRidge", "DENSE_FACTOR"]

#: ``solver="auto"`` uses Cholesky while the single n × n float64 matrix it holds fits in
#: ``DENSE_FACTOR * working_memory`` (4 GiB, n <= 23170, at the default 256 MiB).
DENSE_FACTOR = 16

#: Relative residual of the float64 refinement of the mixed-precision Cholesky solver.
REFINE_RTOL = 1e-13
#: Refinement steps before falling back to a float64 factorisation.
MAX_REFINE = 30

#: ``solver="dense_cg"``: relative float64 residual targeted by its refinement (true
#: residuals, recomputed by an engine product each step) ...
REFINE_RTOL_TRUE = 1e-12
#: ... and the residual accepted when refinement stalls at the engine's rounding floor.
REFINE_ACCEPT = 1e-10
#: ``solver="auto"`` tries "dense_cg" from this n on (at n = 6000, alpha = 1e-2 it needed 66
#: products with K at rank 750: about the cost of the factorisation) ...
DENSE_CG_MIN_N = 8000
#: ... while the float32 rounding of K, ~ eps32 sqrt(n) mean(diag K), is at most this
#: fraction of alpha (each refinement step shrinks the residual by about that ratio).
DENSE_CG_MAX_ROUNDING = 0.05


def dense_cg_budget(n: int) -> int:
    """Inner CG iterations allowed before "dense_cg" gives way to the factorisation:
    one product with the float32 K costs about 1/80 n of its factorisation (measured at
    n = 2e4: sgemv 0.08 s, spotrf 20 s); the budget is about 60 % of it."""
    return max(30, n // 130)


def dense_cg_rank(n: int, preconditioner_rank: int) -> int:
    """Nyström rank of "dense_cg": 3 × ``preconditioner_rank`` (its columns are free: K is
    in memory), at most n / 8 (building it costs ~2 n rank², a factorisation n³ / 3).
    At n = 2e4 (Gaussian, alpha = 1e-2) rank 1000 needed 83 products with K, rank 2000
    needed 42."""
    return max(1, min(n // 8, 3 * preconditioner_rank))


def choose_dense_solver(n: int, alpha: float, mean_diag: float) -> str:
    """The ``solver="auto"`` choice when K fits in memory: "dense_cg" or "cholesky"."""
    rounding = float(np.finfo(np.float32).eps) * np.sqrt(n) * mean_diag
    if n >= DENSE_CG_MIN_N and rounding <= DENSE_CG_MAX_ROUNDING * alpha:
        return "dense_cg"
    return "cholesky"


def dense_allowed(n: int) -> bool:
    """The ``solver="auto"`` rule: n² float64 values within DENSE_FACTOR × working_memory."""
    return 8.0 * n * n <= DENSE_FACTOR * get_config()["working_memory"] * 2**20


class KernelRidge(DualPredictMixin, MultiOutputMixin, RegressorMixin,
                  BaseEstimator):
    """Kernel ridge regression, exact, solved without copies of the kernel matrix.

    Minimises ``||y - K c||² + alpha cᵀ K c`` (sample weights weight the squared errors),
    i.e. solves ``(K + alpha W⁻¹) c = y``, like :class:`sklearn.kernel_ridge.KernelRidge`.

    Parameters
    ----------
    kernel : Kernel, default=None
        A kernelkit kernel; None means ``Gaussian(bandwidth=1.0)``.
    alpha : float, default=1.0
        Ridge regularisation (> 0).
    solver : {"auto", "cholesky", "dense_cg", "cg"}, default="auto"
        "cholesky" builds K once (compiled, multi-threaded) into one n × n array, factors
        it in place (LAPACK) and solves: an exact factorisation; peak memory one n × n
        matrix, float32 by default (see ``mixed_precision``; scikit-learn holds three
        float64 ones). "dense_cg" builds the same float32 K (both triangles) but does not
        factor it: conjugate gradients on K + alpha I, each iteration one BLAS product
        with K, preconditioned by a Nyström approximation from ``3 * preconditioner_rank``
        of its columns (at most n / 8), inside a float64 iterative refinement whose
        residuals are engine products (to a relative residual of 1e-12); when its
        iterations would cost more than about 60 % of a factorisation, or refinement
        stalls (alpha tiny against float32 rounding), it factors the K it holds instead
        (``solver_`` is then "cholesky"). "cg" never forms K: conjugate gradients on
        :class:`~kernelkit.KernelOperator` with a Nyström preconditioner of rank
        ``preconditioner_rank``. "auto": while ``8 n²`` bytes fit in
        ``DENSE_FACTOR (16) * working_memory`` (see :func:`kernelkit.config_context`),
        "dense_cg" for n >= 8000 when the float32 rounding of K
        (~ eps32 · sqrt(n) · mean diag) is below alpha / 20, else "cholesky"; beyond that
        memory, "cg".
    tol : float, default=1e-8
        Relative residual of the CG solver.
    max_iter : int, default=500
        Iteration cap of the CG solver.
    preconditioner_rank : int, default=500
        Nyström centres of the CG preconditioner (clipped to n); "dense_cg" uses three
        times as many columns.
    random_state : int, RandomState or None, default=None
        Seeds the preconditioner's centres (CG and dense CG).
    mixed_precision : bool, default=True
        Cholesky solver: build and factor K + alpha I in float32 (half the memory, about
        twice the speed), then refine the solution in float64 by CG preconditioned with
        that factor, each step one engine product, to a relative residual of 1e-13; falls
        back to a float64 factorisation when the float32 one fails or refinement stalls
        (alpha too small against float32 round-off). False: float64 factorisation only.

    Attributes
    ----------
    X_fit_ : ndarray of shape (n_samples, n_features)
    dual_coef_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
    solver_ : str
        The solver actually used ("cholesky", "dense_cg" or "cg").
    n_iter_ : int
        CG iterations ("dense_cg": products with the float32 K; "cholesky": refinement
        steps of the mixed-precision solve, 0 for a float64 factorisation).
    n_refine_ : int
        "dense_cg": float64 refinement steps (engine products); 0 otherwise.
    n_features_in_ : int

    Raises
    ------
    NotPSDError
        When K + alpha I cannot be factored: increase ``alpha``.

    See Also
    --------
    FalkonRegressor : Nyström approximation for large n.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian
    >>> from kernelkit.regression import KernelRidge
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(200, 1))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=200)
    >>> model = KernelRidge(kernel=Gaussian(bandwidth=1.0), alpha=0.1).fit(X, y)
    >>> model.solver_, round(float(model.score(X, y)), 2)
    ('cholesky', 0.98)
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "kernel": [Kernel, None],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "solver": [StrOptions({"auto", "cholesky", "dense_cg", "cg"})],
        "tol": [Interval(Real, 0, 1, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "preconditioner_rank": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "mixed_precision": ["boolean"],
    }

    def __init__(self, *, kernel: Kernel | None = None, alpha: float = 1.0,
                 solver: str = "auto", tol: float = 1e-8, max_iter: int = 500,
                 preconditioner_rank: int = 500, random_state: Any = None,
                 mixed_precision: bool = True) -> None:
        self.kernel = kernel
        self.alpha = alpha
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.preconditioner_rank = preconditioner_rank
        self.random_state = random_state
        self.mixed_precision = mixed_precision

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> KernelRidge:
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the squared errors.

        Returns
        -------
        self : KernelRidge
        """
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=np.float64)
        kernel = resolve_kernel(self.kernel)
        n = X.shape[0]
        sw = check_sample_weight(sample_weight, n)
        sqrt_w = None if sw is None else np.sqrt(sw)
        Y = as_2d_targets(y)
        if sqrt_w is not None:
            Y *= sqrt_w[:, None]
        solver = self.solver
        if solver == "auto" and not dense_allowed(n):
            solver = "cg"
        elif solver == "auto":
            diag = np.asarray(kernel.diag(X), dtype=np.float64)
            mean_diag = float(np.mean(diag if sw is None else diag * sw))
            solver = choose_dense_solver(n, float(self.alpha), mean_diag)
        with small_blas(n):
            C, solver = self._solve(kernel, X, Y, sqrt_w, solver)
        if sqrt_w is not None:
            C *= sqrt_w[:, None]
        self.X_fit_ = X
        self.dual_coef_ = C[:, 0] if y.ndim == 1 else C
        self.solver_ = solver
        return self

    def _solve(self, kernel: Kernel, X: np.ndarray, Y: np.ndarray,
               sqrt_w: np.ndarray | None, solver: str) -> tuple[np.ndarray, str]:
        """Coefficients and the solver that produced them."""
        self.n_refine_ = 0
        if solver == "dense_cg":
            return self._solve_dense_cg(kernel, X, Y, sqrt_w)
        if solver == "cholesky":
            C = self._solve_mixed(kernel, X, Y, sqrt_w) if self.mixed_precision else None
            if C is None:
                C = self._solve_direct(kernel, X, Y, sqrt_w, np.float64)
                self.n_iter_ = 0
            return C, solver
        C, self.n_iter_ = self._solve_cg(kernel, X, Y, sqrt_w)
        return C, solver

    def _gram(self, kernel: Kernel, X: np.ndarray, sqrt_w: np.ndarray | None, dtype: Any,
              lower_only: bool) -> np.ndarray:
        """W^½ K W^½ in one new n × n array (only its lower triangle if ``lower_only``)."""
        n = X.shape[0]
        K = dense_gram(kernel, X, out=np.empty((n, n), dtype=dtype), lower_only=lower_only)
        if sqrt_w is not None:
            sw = sqrt_w.astype(dtype)
            with np.errstate(all="ignore"):  # the unfilled triangle may hold anything
                K *= sw[:, None]
                K *= sw[None, :]
        return K

    def _factor_gram(self, K: np.ndarray) -> tuple[np.ndarray, bool]:
        """Cholesky factor of K + alpha I, overwriting the C-ordered ``K`` (lower triangle
        read): returns ``(U, False)`` with U upper triangular in Fortran order, ready for
        :func:`scipy.linalg.cho_solve` without copies."""
        n = K.shape[0]
        K.flat[:: n + 1] += K.dtype.type(self.alpha)
        # K.T is Fortran-ordered and its upper triangle is K's lower one
        try:
            U = scipy.linalg.cholesky(K.T, lower=False, overwrite_a=True, check_finite=False)
        except np.linalg.LinAlgError:
            raise NotPSDError(
                f"K + alpha I (alpha={self.alpha:g}) is not numerically positive definite "
                "(Cholesky failed); increase alpha so that the system is better conditioned."
            ) from None
        return U, False

    def _solve_direct(self, kernel: Kernel, X: np.ndarray, Y: np.ndarray,
                      sqrt_w: np.ndarray | None, dtype: Any) -> np.ndarray:
        factor = self._factor_gram(self._gram(kernel, X, sqrt_w, dtype, lower_only=True))
        return scipy.linalg.cho_solve(factor, Y, overwrite_b=True, check_finite=False)

    def _apply_A(self, kernel: Kernel, X: np.ndarray,
                 sqrt_w: np.ndarray | None) -> Callable[[np.ndarray], np.ndarray]:
        """The float64 system W^½ K W^½ + alpha I as one engine product (no n × n)."""
        alpha = float(self.alpha)

        def apply_A(V: np.ndarray) -> np.ndarray:
            if sqrt_w is None:
                return np.asarray(matvec(kernel, X, X, V)) + alpha * V
            return sqrt_w[:, None] * np.asarray(matvec(kernel, X, X, sqrt_w[:, None] * V)) \
                + alpha * V

        return apply_A

    def _solve_mixed(self, kernel: Kernel, X: np.ndarray, Y: np.ndarray,
                     sqrt_w: np.ndarray | None,
                     K32: np.ndarray | None = None) -> np.ndarray | None:
        """float32 factor as preconditioner, float64 CG through the engine; None if it fails.

        The float32 factor of K + alpha I is accurate to about n·eps32·||K||, so while that
        is small against alpha, CG preconditioned by it converges to float64 accuracy in a
        few steps, each one engine product (no n × n float64 matrix is ever held).
        ``K32``: an already built float32 W^½ K W^½ (lower triangle used, overwritten).
        """
        try:
            if K32 is None:
                K32 = self._gram(kernel, X, sqrt_w, np.float32, lower_only=True)
            factor = self._factor_gram(K32)
        except NotPSDError:
            return None
        del K32

        def apply_M(R: np.ndarray) -> np.ndarray:
            scale = np.abs(R).max(axis=0)
            scale[scale == 0] = 1.0
            Z = scipy.linalg.cho_solve(factor, (R / scale).astype(np.float32),
                                       check_finite=False)
            return Z.astype(np.float64) * scale

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            C, info = block_cg(self._apply_A(kernel, X, sqrt_w), Y, apply_M=apply_M,
                               tol=REFINE_RTOL, max_iter=MAX_REFINE,
                               what="KernelRidge refinement")
        if not info.converged:
            return None
        self.n_iter_ = info.n_iter
        return C

    def _solve_dense_cg(self, kernel: Kernel, X: np.ndarray, Y: np.ndarray,
                        sqrt_w: np.ndarray | None) -> tuple[np.ndarray, str]:
        """float32 K in memory, Nyström-preconditioned CG on it, float64 refinement.

        Falls back to the factorisation of the same float32 K (``"cholesky"``) when the
        iterations would cost more than about 60 % of it or refinement stalls.
        """
        n = X.shape[0]
        K = self._gram(kernel, X, sqrt_w, np.float32, lower_only=False)
        try:
            C, info = refined_dense_cg(
                K, self._apply_A(kernel, X, sqrt_w), Y, float(self.alpha),
                rank=dense_cg_rank(n, self.preconditioner_rank), budget=dense_cg_budget(n),
                tol=REFINE_RTOL_TRUE, accept=REFINE_ACCEPT, random_state=self.random_state)
        except NotPSDError:
            info = None
        if info is not None and info.converged:
            self.n_iter_, self.n_refine_ = info.n_iter, info.n_refine
            return C, "dense_cg"
        mixed = self._solve_mixed(kernel, X, Y, sqrt_w, K32=K) if self.mixed_precision \
            else None
        del K
        if mixed is None:
            mixed = self._solve_direct(kernel, X, Y, sqrt_w, np.float64)
            self.n_iter_ = 0
        return mixed, "cholesky"

    def _solve_cg(self, kernel: Kernel, X: np.ndarray, Y: np.ndarray,
                  sqrt_w: np.ndarray | None) -> tuple[np.ndarray, int]:
        from sklearn.utils import check_random_state

        from .. import KernelOperator

        op = KernelOperator(kernel, X)
        alpha = float(self.alpha)
        rng = check_random_state(self.random_state)
        m = min(X.shape[0], self.preconditioner_rank)
        centres = X[np.sort(rng.choice(X.shape[0], size=m, replace=False))]
        precond = NystromPreconditioner(kernel, X, centres, alpha, sqrt_w)

        def apply_A(V: np.ndarray) -> np.ndarray:
            if sqrt_w is None:
                return op @ V + alpha * V
            return sqrt_w[:, None] * (op @ (sqrt_w[:, None] * V)) + alpha * V

        Z, info = block_cg(apply_A, Y, apply_M=precond, tol=self.tol, max_iter=self.max_iter,
                           what="KernelRidge CG")
        return Z, info.n_iter

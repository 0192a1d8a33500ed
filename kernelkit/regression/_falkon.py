"""Falkon: Nyström kernel ridge regression by preconditioned conjugate gradients."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import scipy.linalg
import scipy.optimize
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MultiOutputMixin,
    RegressorMixin,
    _fit_context,
)
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import matvec
from .._optional import import_optional
from .._validation import check_array, is_dask
from ..exceptions import (
    InputTypeError,
    InputValueError,
    NumericalWarning,
    ParameterError,
    ShapeError,
)
from ..kernels._base import Kernel
from ..ops.normal import normal_matvec
from ._base import (
    as_2d_targets,
    check_sample_weight,
    resolve_kernel,
    select_centers,
)
from ._linalg import (
    JITTER,
    CGInfo,
    block_cg,
    cholesky_inplace,
    dense_gram,
    small_blas,
    warn_not_converged,
)

__all__ = ["FalkonRegressor", "FalkonClassifier", "nystrom_normal_product"]

#: kernel_dtype="mixed": the CG residual, updated with float32 products, is replaced by the
#: float64 residual whenever it has fallen by this factor since the last replacement
#: (reliable updates; 0.1 gave the float64 residual after 30 iterations at N=2e4, d=8
#: with 3 float64 passes; 0.3 took 5 for the same, 0.03 lost accuracy).
MIXED_REPLACEMENT = 0.1
#: ... and at least every this many iterations: a float64 residual that grew since the
#: previous check, or did not halve while CG's own residual claims twice its progress,
#: means float32 is too coarse for the system.
MIXED_CHECK_EVERY = 10


def nystrom_normal_product(kernel: Kernel, X: Any, C: np.ndarray, U: np.ndarray,
                           w: Any = None, *, compute_dtype: Any = None) -> np.ndarray:
    """K(C, X) W K(X, C) U in one streamed engine pass (K(X, C) is never stored).

    Each kernel value is evaluated once (:func:`kernelkit.ops.normal_matvec`).

    Parameters
    ----------
    kernel : Kernel
    X : ndarray of shape (n, d)
    C : ndarray of shape (m, d)
    U : ndarray of shape (m, k)
    w : ndarray of shape (n,), default=None
        Row weights W = diag(w); None is the identity.
    compute_dtype : {None, "float32", "float64"}, default=None
        Precision of the kernel evaluations (sums are accumulated in float64).

    Returns
    -------
    out : ndarray of shape (m, k)
    """
    out = normal_matvec(kernel, X, C, U, w, compute_dtype=compute_dtype)
    return np.asarray(out.compute() if is_dask(out) else out)


def _gram_of_triangular(T: np.ndarray) -> np.ndarray:
    """T Tᵀ for an upper triangular T, by LAPACK ``lauum`` (a third of a general product).

    Only the lower triangle of the (Fortran-ordered) result is set: it is what the
    Cholesky factorization that follows reads.
    """
    L = np.asfortranarray(T.T)  # lower, a view of T: lauum must not overwrite it
    (lauum,) = scipy.linalg.get_lapack_funcs(("lauum",), (L,))
    G, info = lauum(L, lower=1)  # T Tᵀ = Lᵀ L
    if info != 0:  # pragma: no cover - only on an invalid argument
        return np.asfortranarray(T @ T.T)
    return G


def _tri_solve(M: np.ndarray, B: np.ndarray, trans: bool = False) -> np.ndarray:
    """M⁻¹ B (or M⁻ᵀ B) for one of the solver's own upper triangular factors.

    The factors are finite by construction and B comes from finite products, so the
    finiteness check (two full passes over an m × m matrix per call) is skipped.
    """
    return scipy.linalg.solve_triangular(M, B, lower=False, trans="T" if trans else "N",
                                         check_finite=False)


class _FalkonSolver:
    """Falkon's preconditioned system for (K_cx W K_xc + α K_cc) β = K_cx W y.

    With T = chol(K_cc + jitter)ᵀ (upper, TᵀT = K_cc) and A = chol(s/m T Tᵀ + α I)
    (s = Σ w, the effective number of samples), the preconditioner B = T⁻¹ A⁻¹ makes
    Bᵀ H B close to the identity, because K_cx W K_xc ≈ (s/m) K_cc² for uniformly drawn
    centres (Rudi et al. 2017, Alg. 1). CG then runs on Bᵀ H B γ = Bᵀ K_cx W y, β = B γ.
    """

    def __init__(self, kernel: Kernel, X: Any, C: np.ndarray, alpha: float,
                 w: Any, kernel_dtype: str = "float64") -> None:
        self.kernel, self.X, self.C, self.alpha, self.w = kernel, X, C, alpha, w
        # "mixed": CG passes in float32, refinement residuals in float64 (_solve_mixed)
        self.mixed = kernel_dtype == "mixed"
        self.compute_dtype = np.dtype(np.float32 if self.mixed else kernel_dtype)
        # The big pass reads X and C in the kernel dtype: cast once, not per iteration.
        self.Xk = X if X.dtype == self.compute_dtype else X.astype(self.compute_dtype)
        self.Ck = C.astype(self.compute_dtype)
        m = C.shape[0]
        K_cc = dense_gram(kernel, C)
        jitter = JITTER[K_cc.dtype] * m * max(float(np.mean(np.diag(K_cc))), 1e-300)
        K_cc.flat[:: m + 1] += jitter
        self.T = cholesky_inplace(K_cc, "K(C, C) + jitter",
                                  "use fewer centres or a kernel with a larger bandwidth").T
        s = float(X.shape[0] if w is None else np.asarray(w.sum()))
        A = _gram_of_triangular(self.T)
        A *= s / m
        A.flat[:: m + 1] += alpha
        self.A = cholesky_inplace(A, "(s/m) T T^T + alpha I", "increase alpha").T

    def to_coef(self, gamma: np.ndarray) -> np.ndarray:
        """β = B γ = T⁻¹ A⁻¹ γ."""
        return _tri_solve(self.T, _tri_solve(self.A, gamma))

    def from_coef(self, beta: np.ndarray) -> np.ndarray:
        """γ = B⁻¹ β = A T β."""
        return self.A @ (self.T @ beta)

    def apply_BtHB(self, gamma: np.ndarray, exact: bool = False) -> np.ndarray:
        """Bᵀ H B γ with the kernel in ``compute_dtype``, or in float64 if ``exact``."""
        t = _tri_solve(self.A, gamma)
        u = _tri_solve(self.T, t)
        if exact:
            v = nystrom_normal_product(self.kernel, self.X, self.C, u, self.w,
                                       compute_dtype=np.float64)
        else:
            v = nystrom_normal_product(self.kernel, self.Xk, self.Ck, u, self.w,
                                       compute_dtype=self.compute_dtype)
        v = _tri_solve(self.T, v, trans=True)
        v += self.alpha * t  # α T u, as T u = A⁻¹ γ = t
        return _tri_solve(self.A, v, trans=True)

    def rhs(self, Y: Any) -> np.ndarray:
        if is_dask(self.X):
            from ..distributed import _normal

            r = np.asarray(_normal.cross_product(self.kernel, self.X, self.C, Y,
                                                 self.w).compute())
        else:
            Yw = Y if self.w is None else Y * self.w[:, None]
            r = np.asarray(matvec(self.kernel, self.C, self.X, Yw))
        return _tri_solve(self.A, _tri_solve(self.T, r, trans=True), trans=True)

    def solve(self, Y: np.ndarray, *, beta0: np.ndarray | None, tol: float, max_iter: int,
              callback: Callable[..., Any] | None, what: str) -> tuple[np.ndarray, CGInfo]:
        gamma0 = None if beta0 is None else self.from_coef(beta0)

        def report(it: int, gamma: np.ndarray, res: np.ndarray) -> None:
            if callback is not None:
                callback(it, self.to_coef(gamma), res)

        if self.mixed:
            gamma, info = self._solve_mixed(self.rhs(Y), gamma0, tol, max_iter, callback,
                                            what)
        else:
            gamma, info = block_cg(self.apply_BtHB, self.rhs(Y), x0=gamma0, tol=tol,
                                   max_iter=max_iter, callback=report, what=what)
        return self.to_coef(gamma), info

    def _solve_mixed(self, b: np.ndarray, gamma0: np.ndarray | None, tol: float,
                     max_iter: int, callback: Callable[..., Any] | None,
                     what: str) -> tuple[np.ndarray, CGInfo]:
        """CG on Bᵀ H B γ = b with float32 kernel passes and float64 residuals.

        Float32 kernel values (relative error ~1e-7) perturb H by far more than a small
        ridge can absorb, so CG with float32 products alone converges to another
        solution. Here the iterate γ and residual r are float64 and every product uses
        float32 kernel values, but whenever the recurrence residual has fallen by
        ``MIXED_REPLACEMENT`` since the last replacement, and after the last iteration,
        r is replaced by the true float64 residual b - Bᵀ H B γ (one float64 pass;
        "reliable updates", Sleijpen & van der Vorst 1996). CG's search directions are
        kept, so unlike restarted iterative refinement the Krylov space is not lost.
        The true residual is also checked every ``MIXED_CHECK_EVERY`` iterations: if it
        grew since the previous check, or did not halve while CG's own (float32-updated)
        residual is below half of it (float32 too coarse for this system),
        the iterate goes back to the previous check when that was better, a
        ``NumericalWarning`` is issued and the remaining iterations use float64
        products. The returned iterate is thus never worse (in residual) than the last
        checked one.
        """
        norm_b = np.linalg.norm(b, axis=0)
        norm_b[norm_b == 0] = 1.0

        def colnorm(V: np.ndarray) -> np.ndarray:
            return np.asarray(np.linalg.norm(V, axis=0) / norm_b)

        if gamma0 is None:
            G, R = np.zeros_like(b), b.copy()
        else:
            G = gamma0.copy()
            R = b - self.apply_BtHB(G, exact=True)
        rel = colnorm(R)
        history = [rel]
        # the last float64-checked state: residual norms, iterate and residual
        trusted, G_ok, R_ok = rel.copy(), G.copy(), R.copy()
        since = 0  # iterations since the last check
        P = R.copy()
        rz = np.einsum("ij,ij->j", R, R)
        active = rel > tol
        exact = False
        it = 0
        while it < max_iter and active.any():
            AP = self.apply_BtHB(P, exact=exact)
            pap = np.einsum("ij,ij->j", P, AP)
            step = np.where(active & (pap > 0), rz / np.where(pap > 0, pap, 1.0), 0.0)
            G += P * step
            R -= AP * step
            it += 1
            since += 1
            rel = colnorm(R)
            due = (it == max_iter or since >= MIXED_CHECK_EVERY
                   or (active & ((rel < MIXED_REPLACEMENT * trusted) | (rel <= tol))).any())
            restart = False
            if not exact and due:
                R = b - self.apply_BtHB(G, exact=True)
                checked = colnorm(R)
                claimed, rel = rel, checked
                # float32 too coarse: the float64 residual grew since the last check, or
                # did not halve while CG's own residual claims twice the progress
                coarse = (checked > trusted) | ((checked > 0.5 * trusted)
                                                & (checked > 2.0 * claimed))
                if (active & coarse).any():
                    # float32 is too coarse here: go back to the last checked state if
                    # this one is worse, and continue with float64 products
                    if (active & (checked > trusted)).any():
                        G, R, rel = G_ok.copy(), R_ok.copy(), trusted.copy()
                    if it < max_iter:
                        exact = restart = True
                        warnings.warn(
                            f"{what}: kernel_dtype='mixed' is too coarse for this system "
                            f"(in {since} float32 iterations the float64 residual went from "
                            f"{float(trusted.max()):.2e} to {float(checked.max()):.2e} while "
                            f"CG's own estimate reached {float(claimed.max()):.2e}); the "
                            "remaining iterations use float64 products.",
                            NumericalWarning, stacklevel=4)
                trusted, G_ok, R_ok, since = rel.copy(), G.copy(), R.copy(), 0
            history.append(rel)
            active &= (rel > tol) & (pap > 0)
            rz_new = np.einsum("ij,ij->j", R, R)
            if restart:  # new directions from the (float64) residual
                P = R.copy()
            else:
                beta = np.where(active & (rz != 0), rz_new / np.where(rz != 0, rz, 1.0), 0.0)
                P = R + P * beta
            rz = rz_new
            if callback is not None:
                callback(it, self.to_coef(G), rel)
        res = np.array(history)
        converged = bool((res[-1] <= tol).all())
        if not converged:
            warn_not_converged(what, it, res[-1], tol, stacklevel=5)
        return G, CGInfo(it, res, converged)


class _FalkonBase(BaseEstimator):
    centers_: np.ndarray
    coef_: np.ndarray
    _y_1d: bool

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "kernel": [Kernel, None],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "n_centers": [Interval(Integral, 1, None, closed="left")],
        "centers": [StrOptions({"uniform", "leverage"})],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, 1, closed="neither")],
        "callback": [callable, None],
        "warm_start": ["boolean"],
        "random_state": ["random_state"],
        "kernel_dtype": [StrOptions({"float64", "float32", "mixed"})],
    }

    def __init__(self, *, kernel: Kernel | None = None, alpha: float = 1e-3,
                 n_centers: int = 1000, centers: str = "uniform", max_iter: int = 30,
                 tol: float = 1e-6, callback: Callable[..., Any] | None = None,
                 warm_start: bool = False, random_state: Any = None,
                 kernel_dtype: str = "float64") -> None:
        self.kernel = kernel
        self.alpha = alpha
        self.n_centers = n_centers
        self.centers = centers
        self.max_iter = max_iter
        self.tol = tol
        self.callback = callback
        self.warm_start = warm_start
        self.random_state = random_state
        self.kernel_dtype = kernel_dtype

    def _fit_targets(self, X: Any, Y: Any, sample_weight: Any) -> None:
        kernel = resolve_kernel(self.kernel)
        w = sample_weight if is_dask(X) else check_sample_weight(sample_weight, X.shape[0])
        warm = (self.warm_start and hasattr(self, "coef_")
                and self.centers_.shape[1] == X.shape[1]
                and self.coef_.reshape(self.centers_.shape[0], -1).shape[1] == Y.shape[1])
        if warm:
            C = self.centers_
            beta0 = self.coef_.reshape(C.shape[0], -1)
        else:
            if is_dask(X) and self.centers != "uniform":
                raise ParameterError(
                    f"centers={self.centers!r} needs X in memory; with a Dask X use "
                    "centers='uniform' (or pass X.compute() if it fits in memory).")
            idx = select_centers(kernel, X, self.n_centers, self.centers,
                                 alpha=float(self.alpha),
                                 random_state=self.random_state)
            # Dask: only the m sampled rows are computed and brought to the client.
            C = np.asarray(X[idx].compute()) if is_dask(X) else X[idx].copy()
            beta0 = None
        with small_blas(C.shape[0]):
            solver = _FalkonSolver(kernel, X, C, float(self.alpha), w, self.kernel_dtype)
            beta, info = solver.solve(Y, beta0=beta0, tol=self.tol, max_iter=self.max_iter,
                                      callback=self.callback, what=type(self).__name__)
        self.centers_ = C
        self.coef_ = beta[:, 0] if self._y_1d else beta
        self.n_iter_ = info.n_iter
        self.residuals_ = info.residuals

    def _validate_dask(self, X: Any, y: Any, sample_weight: Any) -> tuple[Any, Any, Any]:
        """Dask X (and y, sample_weight): checked lazily, kept on the cluster."""
        from ..distributed import _engine, active_client
        from ..distributed._normal import aligned_rows

        if not is_dask(X):
            raise InputTypeError(
                f"y or sample_weight is a Dask array but X is a {type(X).__name__}; pass X "
                "as a Dask array too (dask.array.from_array(X, chunks=(rows, -1))) or "
                "everything in memory.")
        X = _engine._check_dask(X, "X", (2,)).astype(np.float64)
        if X.numblocks[1] > 1:
            X = X.rechunk({1: -1})
        if not (self.warm_start and hasattr(self, "coef_")):
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ShapeError(f"X has {X.shape[1]} features, but {type(self).__name__} is "
                             f"expecting {self.n_features_in_} features as input.")
        y = (_engine._check_dask(y, "y", (1, 2)) if is_dask(y)
             else check_array(y, "y", ndim=(1, 2)))
        if y.shape[0] != X.shape[0]:
            raise ShapeError(f"y has {y.shape[0]} rows but X has {X.shape[0]}; pass one "
                             "target per row of X.")
        self._y_1d = y.ndim == 1
        Y = aligned_rows(y.astype(np.float64), X)
        Y = Y[:, None] if Y.ndim == 1 else Y
        w: Any = None
        if sample_weight is not None:
            w = (_engine._check_dask(sample_weight, "sample_weight", (1,))
                 if is_dask(sample_weight) else check_sample_weight(sample_weight, X.shape[0]))
            if w.shape[0] != X.shape[0]:
                raise ShapeError(f"sample_weight has {w.shape[0]} entries but X has "
                                 f"{X.shape[0]} rows.")
            w = aligned_rows(w.astype(np.float64), X)
        da = import_optional("dask.array")
        checks = [da.isfinite(Y).all()]
        if w is not None:
            checks.append((w >= 0).all() & da.isfinite(w).all())
        client = active_client()
        if client is not None:  # every CG iteration reads X: keep it on the workers
            X, Y = client.persist([X, Y])
            if w is not None:
                w = client.persist(w)
        finite = import_optional("dask").compute(*checks)
        if not finite[0]:
            raise InputValueError("y contains NaN or infinity; remove or impute those "
                                  "values first.")
        if w is not None and not finite[1]:
            raise InputValueError("sample_weight must be finite and non-negative.")
        return X, Y, w

    def _decision(self, X: Any) -> Any:
        check_is_fitted(self)
        if is_dask(X):
            from ..distributed import _engine

            X = _engine._check_dask(X, "X", (2,)).astype(np.float64)
            if X.shape[1] != self.n_features_in_:
                raise ShapeError(f"X has {X.shape[1]} features, but {type(self).__name__} "
                                 f"is expecting {self.n_features_in_} features as input.")
            return matvec(resolve_kernel(self.kernel), X, self.centers_, self.coef_)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return np.asarray(matvec(resolve_kernel(self.kernel), X, self.centers_, self.coef_))


_PARAMS_DOC = """
    Parameters
    ----------
    kernel : Kernel, default=None
        A kernelkit kernel; None means ``Gaussian(bandwidth=1.0)``.
    alpha : float, default=1e-3
        Ridge regularisation (> 0), in :class:`KernelRidge`'s convention: the model solves
        ``(K(C, X) W K(X, C) + alpha K(C, C)) coef = K(C, X) W y``, so with every
        training point as a centre it is exact kernel ridge regression.
        (Falkon's ``penalty`` λ is ``alpha / n``.)
    n_centers : int, default=1000
        Nyström centres m; clipped to n with a warning.
    centers : {"uniform", "leverage"}, default="uniform"
        How centres are drawn from the training rows: uniformly without replacement, or
        by approximate ridge leverage scores (:func:`kernelkit.approx.rls_sample`).
    max_iter : int, default=30
        Conjugate-gradient iterations (each costs one streamed pass over X,
        :func:`kernelkit.ops.normal_matvec`).
    tol : float, default=1e-6
        Relative residual of the preconditioned system at which CG stops.
    callback : callable, default=None
        ``callback(iteration, coef, residual)`` after every CG iteration, with the current
        coefficients (m,) or (m, k) and the relative residual per target.
    warm_start : bool, default=False
        Start CG from the previous fit's coefficients and keep its centres.
    random_state : int, RandomState or None, default=None
        Seeds the choice of centres.
    kernel_dtype : {"float64", "float32", "mixed"}, default="float64"
        Precision of the kernel values in the streamed pass of every CG iteration (sums,
        the preconditioner and CG stay in float64). ``"float32"`` is about twice as fast,
        but with a small ``alpha`` its rounding changes the solution (see
        ``docs/regression.md``). ``"mixed"`` runs CG with float32 products and float64
        iterates, replacing CG's residual by the float64 one at checks (one float64 pass
        each, about every 10 iterations), so it converges to the float64 solution at
        close to float32 speed; if float32 proves too coarse for the system it warns
        and continues in float64.
"""


class FalkonRegressor(MultiOutputMixin, RegressorMixin, _FalkonBase):
    __doc__ = """Falkon: Nyström kernel ridge regression by preconditioned CG.

    Fits f(x) = Σ_j coef_j k(x, c_j) over m centres c_j drawn from the training data,
    solving the Nyström ridge system with Falkon's two-Cholesky preconditioner and
    conjugate gradients. Every product with K(X, C) streams through the engine
    (:func:`kernelkit.matvec`), so memory is O(m² + n d), never n × m.
""" + _PARAMS_DOC + """
    Attributes
    ----------
    centers_ : ndarray of shape (m, n_features)
    coef_ : ndarray of shape (m,) or (m, n_targets)
    n_iter_ : int
    residuals_ : ndarray of shape (n_iter_ + 1, n_targets)
        Relative residual per CG iteration.
    n_features_in_ : int

    Warns
    -----
    ConvergenceWarning
        When ``tol`` is not reached within ``max_iter`` (the message gives the residual).

    References
    ----------
    A. Rudi, L. Carratino, L. Rosasco. FALKON: An optimal large scale kernel method.
    NeurIPS 2017. G. Meanti, L. Carratino, L. Rosasco, A. Rudi. Kernel methods through
    the roof: handling billions of points efficiently. NeurIPS 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian
    >>> from kernelkit.regression import FalkonRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(2000, 1))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=2000)
    >>> model = FalkonRegressor(kernel=Gaussian(bandwidth=1.0), alpha=1e-2, n_centers=50,
    ...                         random_state=0).fit(X, y)
    >>> model.centers_.shape, round(float(model.score(X, y)), 2)
    ((50, 1), 0.98)
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> FalkonRegressor:
        """Fit the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : FalkonRegressor
        """
        if any(is_dask(a) for a in (X, y, sample_weight)):
            X, Y, w = self._validate_dask(X, y, sample_weight)
            self._fit_targets(X, Y, w)
            return self
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=np.float64, reset=not (self.warm_start
                                                          and hasattr(self, "coef_")))
        self._y_1d = y.ndim == 1
        self._fit_targets(X, as_2d_targets(y), sample_weight)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Predict ``K(X, centers_) @ coef_``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_targets)
        """
        return self._decision(X)


def _softmax_nll(log_t: float, F: np.ndarray, Y: np.ndarray) -> float:
    Z = np.exp(log_t) * F
    Z -= Z.max(axis=1, keepdims=True)
    return float(-(Z * Y).sum() + np.log(np.exp(Z).sum(axis=1)).sum())


class FalkonClassifier(ClassifierMixin, _FalkonBase):
    __doc__ = """Falkon classifier: one-vs-rest squared-loss Nyström KRR on ±1 targets.

    All classes share the centres and one block CG solve. ``predict`` takes the arg-max
    of the decision values; ``predict_proba`` is a logistic (softmax) calibration of them,
    ``softmax(t · f(x))`` with one temperature t > 0 fitted by maximum likelihood on the
    training data, so it ranks classes exactly like ``predict``. (The temperature is
    fitted on training scores, which are optimistic: probabilities tend to be
    over-confident when the model overfits.)
""" + _PARAMS_DOC + """
    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    centers_ : ndarray of shape (m, n_features)
    coef_ : ndarray of shape (m,) for two classes, else (m, n_classes)
    temperature_ : float
        Calibration temperature t of ``predict_proba``.
    n_iter_ : int
    residuals_ : ndarray
    n_features_in_ : int

    Examples
    --------
    >>> from kernelkit.datasets import make_moons
    >>> from kernelkit.kernels import Gaussian
    >>> from kernelkit.regression import FalkonClassifier
    >>> X, y = make_moons(400, noise=0.1, random_state=0)
    >>> clf = FalkonClassifier(kernel=Gaussian(bandwidth=0.5), alpha=1e-3, n_centers=100,
    ...                        tol=1e-4, random_state=0).fit(X, y)
    >>> float(clf.score(X, y)) > 0.95, clf.predict_proba(X[:2]).shape
    (True, (2, 2))
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> FalkonClassifier:
        """Fit one-vs-rest regressions on ±1 targets and calibrate probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : FalkonClassifier
        """
        X, y = validate_data(self, X, y, dtype=np.float64,
                             reset=not (self.warm_start and hasattr(self, "coef_")))
        check_classification_targets(y)
        binarizer = LabelBinarizer(neg_label=-1, pos_label=1)
        Y = binarizer.fit_transform(y).astype(np.float64)
        self.classes_ = binarizer.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"FalkonClassifier needs samples of at least 2 classes in the "
                             f"data, but the data contains only one class: "
                             f"{self.classes_[0]!r}.")
        self._y_1d = Y.shape[1] == 1
        self._fit_targets(X, Y, sample_weight)
        self.temperature_ = self._calibrate(self._decision(X), y)
        return self

    def _scores(self, F: np.ndarray) -> np.ndarray:
        """Per-class scores (n, n_classes) from decision values."""
        return np.column_stack([-F, F]) if F.ndim == 1 else F

    def _calibrate(self, F: np.ndarray, y: np.ndarray) -> float:
        S = self._scores(F)
        Y = (y[:, None] == self.classes_[None, :]).astype(np.float64)
        res = scipy.optimize.minimize_scalar(_softmax_nll, bounds=(-5.0, 10.0),
                                             args=(S, Y), method="bounded")
        return float(np.exp(res.x))

    def decision_function(self, X: Any) -> np.ndarray:
        """One-vs-rest decision values.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)

        Returns
        -------
        scores : ndarray of shape (n_queries,) for two classes (positive means
            ``classes_[1]``), else (n_queries, n_classes)
        """
        return self._decision(X)

    def predict(self, X: Any) -> np.ndarray:
        """Class with the largest decision value.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)

        Returns
        -------
        labels : ndarray of shape (n_queries,)
        """
        S = self._scores(self.decision_function(X))
        return self.classes_[np.argmax(S, axis=1)]

    def predict_proba(self, X: Any) -> np.ndarray:
        """Calibrated class probabilities ``softmax(temperature_ * scores)``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)

        Returns
        -------
        proba : ndarray of shape (n_queries, n_classes)
        """
        S = self._scores(self.decision_function(X))  # checks that the model is fitted
        Z = self.temperature_ * S
        Z -= Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        return P / P.sum(axis=1, keepdims=True)

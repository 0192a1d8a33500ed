"""Exact Gaussian-process regression with analytic log-marginal-likelihood gradients."""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import scipy.linalg
import scipy.optimize
from sklearn.base import BaseEstimator, MultiOutputMixin, RegressorMixin, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import matvec
from ..exceptions import ConvergenceWarning, ParameterError
from ..kernels import IMQ, Gaussian, Laplace, Matern, RationalQuadratic
from ..kernels._base import Kernel, StationaryKernel
from . import _gp_iterative as it
from ._base import resolve_kernel
from ._krr import dense_allowed
from ._linalg import cholesky_inplace, dense_gram, small_blas

__all__ = ["GaussianProcessRegressor", "BOUNDS"]

#: Search box of the hyper-parameters (bandwidth, output_scale, noise), as scikit-learn's
#: defaults; the optimiser works on their logarithms.
BOUNDS = {"bandwidth": (1e-5, 1e5), "output_scale": (1e-5, 1e5), "noise": (1e-8, 1e5)}

#: Relative objective decrease at which L-BFGS-B stops on the iterative path: the
#: estimated LML is smooth in θ (fixed probes) only up to the CG tolerance, so the
#: default 2.2e-9 makes the line search chase round-off.
ITERATIVE_FTOL = 1e-7

def _profile_slope(kernel: Kernel, s: np.ndarray) -> np.ndarray:
    """g(s) = -2 f'(s) for k = f(s), s = ||(x - y) / h||², so dk/dlog h_j = g(s) s_j."""
    if isinstance(kernel, Gaussian):
        return np.exp(-0.5 * s)
    if isinstance(kernel, Laplace) or (isinstance(kernel, Matern) and kernel.nu == 0.5):
        r = np.sqrt(s)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(r > 0, np.exp(-r) / np.where(r > 0, r, 1.0), 0.0)
    if isinstance(kernel, Matern) and kernel.nu == 1.5:
        return 3.0 * np.exp(-math.sqrt(3.0) * np.sqrt(s))
    if isinstance(kernel, Matern) and kernel.nu == 2.5:
        a = math.sqrt(5.0) * np.sqrt(s)
        return (5.0 / 3.0) * (1.0 + a) * np.exp(-a)
    if isinstance(kernel, RationalQuadratic):
        return (1.0 + s / (2.0 * kernel.alpha)) ** (-kernel.alpha - 1.0)
    if isinstance(kernel, IMQ):
        return 2.0 * kernel.beta * (kernel.c ** 2 + s) ** (-kernel.beta - 1.0)
    raise ParameterError(  # pragma: no cover - guarded in fit
        f"no bandwidth derivative for {kernel!r}")


def _supports_gradient(kernel: Kernel) -> bool:
    return isinstance(kernel, (Gaussian, Laplace, Matern, RationalQuadratic, IMQ))


class GaussianProcessRegressor(MultiOutputMixin, RegressorMixin,
                               BaseEstimator):
    """Gaussian-process regression, y = f(x) + ε, exact or matrix-free.

    Prior covariance ``output_scale * kernel(x, x')`` plus ``noise`` on the diagonal,
    zero mean. The hyper-parameters θ = log(bandwidth(s), output_scale, noise) maximise
    the log marginal likelihood by L-BFGS-B with analytic gradients.

    Two solvers. "cholesky" is exact: one Cholesky factorisation and one inverse from it
    per evaluation (the squared distances are computed once per fit for a scalar
    bandwidth). "iterative" never forms the n × n matrix (BBMM, Gardner et al. 2018):
    K̂⁻¹y by conjugate gradients on engine products, preconditioned by a rank-
    ``preconditioner_rank`` pivoted Cholesky factor P; log|K̂| = log|P| + stochastic
    Lanczos quadrature over ``n_probes`` probe vectors z ~ (0, P) built from Rademacher
    signs, whose solves run in the same block CG as y; the gradient's trace term by
    Hutchinson, tr(K̂⁻¹ ∂K̂) ≈ mean (K̂⁻¹z)ᵀ ∂K̂ (P⁻¹z). The probes are drawn once per fit
    (from ``random_state``), so the estimated objective is a deterministic function of θ.

    Parameters
    ----------
    kernel : Kernel, default=None
        A stationary kernelkit kernel with a ``bandwidth`` (Gaussian, Laplace, Matérn
        ν ∈ {0.5, 1.5, 2.5}, rational quadratic, IMQ for optimisation; any kernel with
        ``optimizer=None``); None means ``Gaussian(bandwidth=1.0)``. Its bandwidth is the
        starting value; a per-feature bandwidth array gives one length scale per feature
        (ARD).
    noise : float, default=1e-2
        Noise variance σ² added to the diagonal (> 0); a starting value when optimised.
    output_scale : float, default=1.0
        Signal variance multiplying the kernel (> 0); a starting value when optimised.
    optimizer : {"lbfgs"} or None, default="lbfgs"
        None keeps the given hyper-parameters.
    n_restarts : int, default=0
        Extra optimiser runs from log-uniform random starts within ``BOUNDS``.
    random_state : int, RandomState or None, default=None
        Seeds the restarts and the probe vectors of the iterative solver.
    solver : {"auto", "cholesky", "iterative"}, default="auto"
        "auto" takes Cholesky while the n × n float64 matrix fits the rule of
        :class:`KernelRidge` (``8 n² <= 16 * working_memory``, n <= 23170 at the default
        256 MiB), the iterative solver above.
    n_probes : int, default=16
        Iterative solver: probe vectors of the log-determinant and trace estimates. The
        log marginal likelihood's standard error falls as 1/sqrt(n_probes); it is reported
        in ``log_marginal_likelihood_std_``.
    preconditioner_rank : int, default=100
        Iterative solver: rank of the pivoted-Cholesky preconditioner (0: none).
    cg_tol : float, default=1e-6
        Iterative solver: relative residual of every CG solve (mean, probes, std/cov).

    Attributes
    ----------
    kernel_ : Kernel
        The kernel with the fitted bandwidth.
    output_scale_, noise_ : float
    log_marginal_likelihood_value_ : float
    X_train_ : ndarray of shape (n_samples, n_features)
    y_train_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
    L_ : ndarray of shape (n_samples, n_samples) or None
        Lower Cholesky factor of ``output_scale_ K + noise_ I``; None for the iterative
        solver.
    solver_ : str
        "cholesky" or "iterative", as resolved from ``solver``.
    log_marginal_likelihood_std_ : float
        Standard error of ``log_marginal_likelihood_value_`` from the spread of the probe
        estimates (0.0 for Cholesky, which is exact).
    n_cg_iter_ : int
        Iterations of the final CG solve (0 for Cholesky).
    alpha_ : ndarray of shape (n_samples,) or (n_samples, n_targets)
        ``(output_scale_ K + noise_ I)⁻¹ y``.
    n_features_in_ : int

    Raises
    ------
    NotPSDError
        When the covariance cannot be factored: increase ``noise``.

    References
    ----------
    C. E. Rasmussen and C. K. I. Williams. Gaussian Processes for Machine Learning,
    MIT Press 2006, Alg. 2.1 and eq. 5.9.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian
    >>> from kernelkit.regression import GaussianProcessRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-3, 3, size=(60, 1))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=60)
    >>> gp = GaussianProcessRegressor(kernel=Gaussian(bandwidth=1.0), noise=0.1).fit(X, y)
    >>> mean, std = gp.predict(np.array([[0.5]]), return_std=True)
    >>> round(float(mean[0]), 1), bool(0 < std[0] < 0.1)
    (0.5, True)

    The matrix-free solver (for n beyond Cholesky) gives the same mean to ``cg_tol``:

    >>> it = GaussianProcessRegressor(kernel=Gaussian(bandwidth=1.0), noise=0.1,
    ...                               optimizer=None, solver="iterative", cg_tol=1e-10,
    ...                               random_state=0).fit(X, y)
    >>> ex = GaussianProcessRegressor(kernel=Gaussian(bandwidth=1.0), noise=0.1,
    ...                               optimizer=None).fit(X, y)
    >>> bool(np.allclose(it.predict(X[:5]), ex.predict(X[:5]), rtol=1e-6))
    True
    """

    L_: np.ndarray | None

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "kernel": [Kernel, None],
        "noise": [Interval(Real, 0, None, closed="neither")],
        "output_scale": [Interval(Real, 0, None, closed="neither")],
        "optimizer": [StrOptions({"lbfgs"}), None],
        "n_restarts": [Interval(Integral, 0, None, closed="left")],
        "random_state": ["random_state"],
        "solver": [StrOptions({"auto", "cholesky", "iterative"})],
        "n_probes": [Interval(Integral, 1, None, closed="left")],
        "preconditioner_rank": [Interval(Integral, 0, None, closed="left")],
        "cg_tol": [Interval(Real, 0, 1, closed="neither")],
    }

    def __init__(self, *, kernel: Kernel | None = None, noise: float = 1e-2,
                 output_scale: float = 1.0, optimizer: str | None = "lbfgs",
                 n_restarts: int = 0, random_state: Any = None, solver: str = "auto",
                 n_probes: int = 16, preconditioner_rank: int = 100,
                 cg_tol: float = 1e-6) -> None:
        self.kernel = kernel
        self.noise = noise
        self.output_scale = output_scale
        self.optimizer = optimizer
        self.n_restarts = n_restarts
        self.random_state = random_state
        self.solver = solver
        self.n_probes = n_probes
        self.preconditioner_rank = preconditioner_rank
        self.cg_tol = cg_tol

    # ------------------------------------------------------------------ parameters
    def _theta0(self, kernel: Any) -> np.ndarray:
        bw = np.atleast_1d(np.asarray(kernel.bandwidth, dtype=np.float64))
        return np.log(np.concatenate([bw, [self.output_scale, self.noise]]))

    @staticmethod
    def _with_bandwidth(kernel: Any, log_bw: np.ndarray) -> Kernel:
        new = copy.deepcopy(kernel)
        bw = np.exp(log_bw)
        new.set_params(bandwidth=float(bw[0]) if np.ndim(kernel.bandwidth) == 0 else bw)
        return new

    def _lml(self, theta: np.ndarray, X: np.ndarray, Y: np.ndarray, kernel: Kernel,
             eval_gradient: bool, D2: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """Log marginal likelihood at θ and its gradient (empty when not requested).

        ``D2``: unscaled squared distances ||x_i - x_j||² (computed once per fit) for a
        scalar bandwidth, so each evaluation only rescales them.
        """
        n, t = Y.shape
        n_bw = len(theta) - 2
        scale, noise = math.exp(theta[-2]), math.exp(theta[-1])
        k: Any = self._with_bandwidth(kernel, theta[:n_bw]) if isinstance(
            kernel, StationaryKernel) else kernel
        S = None
        if D2 is not None and n_bw == 1:
            S = D2 / float(k.bandwidth) ** 2
            K0 = k._profile(S, np)
        else:
            K0 = dense_gram(k, X)
        K = K0 * scale
        K.flat[:: n + 1] += noise
        L = cholesky_inplace(K, "output_scale K + noise I", "increase noise")
        alpha = scipy.linalg.cho_solve((L, True), Y, check_finite=False)
        lml = (-0.5 * float(np.einsum("ij,ij->", Y, alpha))
               - t * float(np.log(np.diag(L)).sum()) - 0.5 * n * t * math.log(2 * math.pi))
        if not eval_gradient:
            return lml, np.empty(0)
        # K⁻¹ by two triangular solves against I (OpenBLAS's trsm beats potri here)
        Kinv = scipy.linalg.cho_solve((L, True), np.eye(n), overwrite_b=True,
                                      check_finite=False)
        Q = alpha @ alpha.T
        Q -= t * Kinv
        del Kinv
        grad = np.empty(len(theta))
        grad[-2] = 0.5 * scale * float(np.einsum("ij,ij->", Q, K0))
        grad[-1] = 0.5 * noise * float(np.trace(Q))
        if n_bw:
            kb = k.bandwidth
            if S is None:
                S = k._sqdist(X, X, np)
            G = _profile_slope(k, S)
            if n_bw == 1:
                grad[0] = 0.5 * scale * float(np.einsum("ij,ij->", Q, G * S))
            else:
                QG = Q * G
                for j in range(n_bw):
                    xj = X[:, j] / kb[j]
                    Sj = (xj[:, None] - xj[None, :]) ** 2
                    grad[j] = 0.5 * scale * float(np.einsum("ij,ij->", QG, Sj))
        return lml, grad

    def log_marginal_likelihood(self, theta: Any = None, eval_gradient: bool = False
                                ) -> float | tuple[float, np.ndarray]:
        """Log marginal likelihood of the training data.

        Parameters
        ----------
        theta : array-like of shape (n_bandwidths + 2,), default=None
            log(bandwidth(s)), log(output_scale), log(noise); None uses the fitted values.
        eval_gradient : bool, default=False
            Also return the gradient with respect to ``theta``.

        Returns
        -------
        lml : float
        grad : ndarray of shape (n_bandwidths + 2,)
            Only when ``eval_gradient`` is True.

        Notes
        -----
        With ``solver_ == "iterative"`` both are stochastic estimates (the same probe
        vectors as in ``fit`` when ``random_state`` is an int).
        """
        check_is_fitted(self)
        if theta is None:
            theta = self.theta_
        theta = np.asarray(theta, dtype=np.float64)
        if theta.shape != self.theta_.shape:
            raise ParameterError(f"theta must have shape {self.theta_.shape} "
                                 f"(log bandwidths, log output_scale, log noise), "
                                 f"got {theta.shape}.")
        kernel = resolve_kernel(self.kernel)
        if eval_gradient and not _supports_gradient(kernel):
            raise ParameterError(f"no analytic gradient for {kernel!r}; use Gaussian, "
                                 "Laplace, Matern, RationalQuadratic or IMQ.")
        Y = self.y_train_.reshape(len(self.y_train_), -1)
        with small_blas(len(Y)):
            if self.solver_ == "iterative":
                ev = self._iterative_likelihood(kernel, self.X_train_, Y)(theta, eval_gradient)
                return (ev.lml, ev.grad) if eval_gradient else ev.lml
            lml, grad = self._lml(theta, self.X_train_, Y, kernel, eval_gradient)
        return (lml, grad) if eval_gradient else lml

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X: Any, y: Any) -> GaussianProcessRegressor:
        """Optimise the hyper-parameters (if asked) and factor the covariance.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        self : GaussianProcessRegressor
        """
        X, y = validate_data(self, X, y, multi_output=True, y_numeric=True,
                             dtype=np.float64)
        kernel = resolve_kernel(self.kernel)
        stationary = isinstance(kernel, StationaryKernel) and hasattr(kernel, "bandwidth")
        if self.optimizer is not None and not (stationary and _supports_gradient(kernel)):
            raise ParameterError(
                f"optimizer='lbfgs' needs a Gaussian, Laplace, Matern (nu 0.5/1.5/2.5), "
                f"RationalQuadratic or IMQ kernel, got {kernel!r}; pass optimizer=None to "
                "keep fixed hyper-parameters.")
        theta = (self._theta0(kernel) if stationary
                 else np.log([self.output_scale, self.noise]))
        Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        iterative = self.solver == "iterative" or (self.solver == "auto"
                                                   and not dense_allowed(X.shape[0]))
        self.solver_ = "iterative" if iterative else "cholesky"
        with small_blas(X.shape[0]):
            if iterative:
                self._fit_iterative(theta, X, y, Y, kernel)
            else:
                self._fit_theta(theta, X, y, Y, kernel)
        return self

    def _set_hyperparameters(self, theta: np.ndarray, kernel: Kernel) -> None:
        self.theta_ = theta
        n_bw = len(theta) - 2
        self.kernel_ = self._with_bandwidth(kernel, theta[:n_bw]) if n_bw else kernel
        self.output_scale_ = float(math.exp(theta[-2]))
        self.noise_ = float(math.exp(theta[-1]))

    def _iterative_likelihood(self, kernel: Kernel, X: np.ndarray, Y: np.ndarray
                              ) -> it.IterativeMarginalLikelihood:
        return it.IterativeMarginalLikelihood(
            kernel, X, Y, n_probes=self.n_probes, preconditioner_rank=self.preconditioner_rank,
            cg_tol=self.cg_tol, rng=check_random_state(self.random_state))

    def _fit_iterative(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray, Y: np.ndarray,
                       kernel: Kernel) -> None:
        lik = self._iterative_likelihood(kernel, X, Y)
        if self.optimizer is not None:
            def lml(th: np.ndarray) -> tuple[float, np.ndarray]:
                with warnings.catch_warnings():  # the final solve below warns if it matters
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    ev = lik(th)
                return ev.lml, ev.grad

            theta = self._optimise(theta, lml, ITERATIVE_FTOL)
        ev = lik(theta, eval_gradient=False)
        self._set_hyperparameters(theta, kernel)
        self.L_ = None
        self.X_train_ = X
        self.y_train_ = y
        self.alpha_ = ev.alpha[:, 0] if y.ndim == 1 else ev.alpha
        t = Y.shape[1]
        self.log_marginal_likelihood_value_ = ev.lml
        self.log_marginal_likelihood_std_ = float(
            0.5 * t * ev.logdet_probes.std(ddof=1) / math.sqrt(len(ev.logdet_probes))
            if len(ev.logdet_probes) > 1 else math.inf)
        self.n_cg_iter_ = int(ev.cg_iterations)

    def _fit_theta(self, theta: np.ndarray, X: np.ndarray, y: np.ndarray, Y: np.ndarray,
                   kernel: Kernel) -> None:
        if self.optimizer is not None:
            D2 = None
            if len(theta) == 3:
                D2 = kernel._sqdist(X, X, np) * float(kernel.bandwidth) ** 2  # type: ignore[attr-defined]
            theta = self._optimise(theta, lambda th: self._lml(th, X, Y, kernel, True, D2))
        self._set_hyperparameters(theta, kernel)
        n = X.shape[0]
        K = dense_gram(self.kernel_, X)
        K *= self.output_scale_
        K.flat[:: n + 1] += self.noise_
        self.L_ = cholesky_inplace(K, "output_scale K + noise I", "increase noise")
        alpha = scipy.linalg.cho_solve((self.L_, True), Y, check_finite=False)
        self.X_train_ = X
        self.y_train_ = y
        self.alpha_ = alpha[:, 0] if y.ndim == 1 else alpha
        t = Y.shape[1]
        self.log_marginal_likelihood_value_ = float(
            -0.5 * np.einsum("ij,ij->", Y, alpha) - t * np.log(np.diag(self.L_)).sum()
            - 0.5 * n * t * math.log(2 * math.pi))
        self.log_marginal_likelihood_std_ = 0.0
        self.n_cg_iter_ = 0

    def _optimise(self, theta0: np.ndarray,
                  lml: Callable[[np.ndarray], tuple[float, np.ndarray]],
                  ftol: float | None = None) -> np.ndarray:
        n_bw = len(theta0) - 2
        bounds = np.log([BOUNDS["bandwidth"]] * n_bw
                        + [BOUNDS["output_scale"], BOUNDS["noise"]])
        theta0 = np.clip(theta0, bounds[:, 0], bounds[:, 1])

        def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
            try:
                value, grad = lml(theta)
            except Exception:  # a non-PSD corner of the box: steer away from it
                return np.inf, np.zeros_like(theta)
            if not np.isfinite(value):
                return np.inf, np.zeros_like(theta)
            return -value, -grad

        rng = check_random_state(self.random_state)
        starts = [theta0] + [rng.uniform(bounds[:, 0], bounds[:, 1])
                             for _ in range(self.n_restarts)]
        best: tuple[float, np.ndarray] | None = None
        for start in starts:
            res = scipy.optimize.minimize(objective, start, jac=True, method="L-BFGS-B",
                                          bounds=bounds,
                                          options=None if ftol is None else {"ftol": ftol})
            if not res.success:
                warnings.warn(f"L-BFGS-B stopped early: {res.message}", ConvergenceWarning,
                              stacklevel=3)
            if np.isfinite(res.fun) and (best is None or res.fun < best[0]):
                best = (float(res.fun), res.x)
        if best is None:
            raise ParameterError("every optimiser run hit a non-PSD covariance; increase "
                                 "noise or pass optimizer=None.")
        return best[1]

    # ------------------------------------------------------------------ prediction
    def predict(self, X: Any, return_std: bool = False, return_cov: bool = False) -> Any:
        """Posterior mean, and optionally its standard deviation or covariance.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
        return_std : bool, default=False
        return_cov : bool, default=False
            Not both. Std and covariance are those of f (without the noise), as in
            scikit-learn. After an iterative fit both are computed without any n × n
            matrix, by one CG solve per query point (batched, to ``cg_tol``): exact up to
            the CG residual, costing about ``n_queries`` right-hand sides of the fit's
            mean solve — meant for query sets of up to a few thousand points.

        Returns
        -------
        mean : ndarray of shape (n_queries,) or (n_queries, n_targets)
        std : ndarray of shape (n_queries,)
            When ``return_std``.
        cov : ndarray of shape (n_queries, n_queries)
            When ``return_cov``.
        """
        if return_std and return_cov:
            raise ParameterError("pass at most one of return_std and return_cov.")
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        mean = self.output_scale_ * np.asarray(matvec(self.kernel_, X, self.X_train_,
                                                      self.alpha_))
        if not (return_std or return_cov):
            return mean
        if self.L_ is None:  # iterative fit: one CG solve per query point
            with small_blas(len(self.X_train_)):
                return mean, it.posterior_covariance(
                    self.kernel_, self.X_train_, self.output_scale_, self.noise_, X,
                    full=return_cov, rank=self.preconditioner_rank, tol=self.cg_tol,
                    std=return_std)
        if return_cov:
            Ks = self.output_scale_ * dense_gram(self.kernel_, X, self.X_train_)
            V = scipy.linalg.solve_triangular(self.L_, Ks.T, lower=True, check_finite=False)
            cov = self.output_scale_ * dense_gram(self.kernel_, X) - V.T @ V
            return mean, cov
        var = self.output_scale_ * np.asarray(self.kernel_.diag(X), dtype=np.float64)
        rows = max(1, int(64 * 2**20 // (8 * max(1, len(self.X_train_)))))
        for start in range(0, X.shape[0], rows):
            Ks = self.output_scale_ * dense_gram(self.kernel_, X[start:start + rows],
                                                 self.X_train_)
            V = scipy.linalg.solve_triangular(self.L_, Ks.T, lower=True, check_finite=False)
            var[start:start + rows] -= np.einsum("ij,ij->j", V, V)
        return mean, np.sqrt(np.clip(var, 0.0, None))

    def sample_y(self, X: Any, n_samples: int = 1, random_state: Any = 0) -> np.ndarray:
        """Draw functions from the posterior at ``X``.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
        n_samples : int, default=1
        random_state : int, RandomState or None, default=0

        Returns
        -------
        samples : ndarray of shape (n_queries, n_samples), or
            (n_queries, n_targets, n_samples) for several targets
        """
        rng = check_random_state(random_state)
        mean, cov = self.predict(X, return_cov=True)
        if mean.ndim == 1:
            return rng.multivariate_normal(mean, cov, n_samples).T
        return np.stack([rng.multivariate_normal(mean[:, j], cov, n_samples).T
                         for j in range(mean.shape[1])], axis=1)

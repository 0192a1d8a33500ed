"""Matrix-free Gaussian-process marginal likelihood: BBMM-style CG + stochastic Lanczos.

For K̂ = output_scale K + noise I on n points, never formed:

* :func:`pivoted_cholesky` — a rank-r factor L with L Lᵀ ≈ output_scale K (greedy largest
  residual diagonal, Harbrecht et al. 2012), from r kernel columns;
* :class:`PivotedCholeskyPreconditioner` — P = L Lᵀ + noise I, applied by Woodbury, with
  its exact log-determinant and exact samples z ~ (0, P) from Rademacher signs;
* :func:`lanczos_cg` — preconditioned CG on all columns at once (one multi-column engine
  product per iteration) that records each column's CG coefficients, from which the
  Lanczos tridiagonal of P^{-1/2} K̂ P^{-1/2} is rebuilt (:func:`lanczos_tridiagonal`);
* :class:`IterativeMarginalLikelihood` — log|K̂| = log|P| + SLQ of the preconditioned
  matrix; the data term from the CG solve of y batched with the probe solves; the
  gradient by Hutchinson, tr(K̂⁻¹ ∂K̂) ≈ mean (K̂⁻¹z)ᵀ ∂K̂ (P⁻¹z), ∂K̂ products through the
  engine (the bandwidth derivative of a radial profile is again a radial profile for
  Gaussian, Matérn 3/2 and 5/2, RQ and IMQ; Laplace / Matérn ½ uses a central difference).

References
----------
J. R. Gardner, G. Pleiss, D. Bindel, K. Q. Weinberger, A. G. Wilson. GPyTorch: blackbox
matrix-matrix Gaussian process inference with GPU acceleration. NeurIPS 2018.
S. Ubaru, J. Chen, Y. Saad. Fast estimation of tr(f(A)) via stochastic Lanczos quadrature.
SIAM J. Matrix Anal. Appl. 38(4), 2017.
H. Harbrecht, M. Peters, R. Schneider. On the low-rank approximation by the pivoted
Cholesky decomposition. Appl. Numer. Math. 62(4), 2012.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.linalg

from .. import KernelOperator, matvec
from ..exceptions import ConvergenceWarning, ParameterError
from ..kernels import IMQ, Gaussian, Laplace, Matern, RationalQuadratic
from ..kernels._base import Kernel
from ._linalg import cholesky_inplace, dense_gram, small_blas

__all__ = ["pivoted_cholesky", "PivotedCholeskyPreconditioner", "lanczos_cg", "LanczosCGInfo",
           "lanczos_tridiagonal", "slq_quadratic_forms", "IterativeMarginalLikelihood",
           "bandwidth_derivative_products", "FD_STEP", "MAX_CG_ITER"]

#: Iteration cap of every CG run of the iterative path.
MAX_CG_ITER = 1000
#: Pivoted Cholesky stops early once the largest residual diagonal is below this fraction
#: of the largest kernel diagonal (the factor is then numerically exact).
PIVOT_RTOL = 1e-10
#: Step in log bandwidth of the central difference used for Laplace / Matérn ½, whose
#: derivative profile (r e^{-r}) the engine has no compiled form for. Truncation error
#: O(FD_STEP²) ≈ 1e-8 relative, round-off ≈ 1e-16 / FD_STEP ≈ 1e-12.
FD_STEP = 1e-4


# ---------------------------------------------------------------------- pivoted Cholesky
def pivoted_cholesky(diag: np.ndarray, column: Callable[[int], np.ndarray], rank: int,
                     rtol: float = PIVOT_RTOL) -> tuple[np.ndarray, np.ndarray]:
    """Greedy rank-``rank`` pivoted Cholesky factor of a PSD matrix given by columns.

    Parameters
    ----------
    diag : ndarray of shape (n,)
        Diagonal of the matrix A.
    column : callable int -> ndarray of shape (n,)
        ``column(i)`` returns A[:, i].
    rank : int
        Largest rank (clipped to n).
    rtol : float
        Stop once the largest residual diagonal is below ``rtol * max(diag)``.

    Returns
    -------
    L : ndarray of shape (n, r), r <= rank
        A ≈ L Lᵀ; A - L Lᵀ is PSD and its diagonal is the residual that was left.
    pivots : ndarray of shape (r,)
        Chosen column indices, in order.
    """
    d = np.array(diag, dtype=np.float64, copy=True)
    n = d.shape[0]
    rank = min(int(rank), n)
    L = np.zeros((n, rank))
    pivots = np.zeros(rank, dtype=np.int64)
    stop = rtol * max(float(d.max(initial=0.0)), np.finfo(np.float64).tiny)
    m = 0
    while m < rank:
        i = int(np.argmax(d))
        if d[i] <= stop:
            break
        pivots[m] = i
        col = np.asarray(column(i), dtype=np.float64) - L[:, :m] @ L[i, :m]
        col /= math.sqrt(d[i])
        L[:, m] = col
        d -= col * col
        d[i] = 0.0  # exactly resolved (round-off would leave ±eps)
        np.maximum(d, 0.0, out=d)
        m += 1
    return L[:, :m], pivots[:m]


class PivotedCholeskyPreconditioner:
    """P = L Lᵀ + noise I with L from :func:`pivoted_cholesky` (rank 0: P = noise I).

    Parameters
    ----------
    L : ndarray of shape (n, r)
    noise : float > 0
    """

    def __init__(self, L: np.ndarray, noise: float) -> None:
        self.L, self.noise = L, float(noise)
        r = L.shape[1]
        C = L.T @ L
        C.flat[:: r + 1] += self.noise
        self.C = cholesky_inplace(C, "noise I + L^T L", "increase noise")

    @property
    def rank(self) -> int:
        return int(self.L.shape[1])

    def solve(self, V: np.ndarray) -> np.ndarray:
        """P⁻¹ V = (V - L (noise I + LᵀL)⁻¹ Lᵀ V) / noise (Woodbury)."""
        if self.rank == 0:
            return V / self.noise
        t = scipy.linalg.cho_solve((self.C, True), self.L.T @ V, check_finite=False)
        return (V - self.L @ t) / self.noise

    def logdet(self) -> float:
        """log|P| = (n - r) log noise + log|noise I_r + LᵀL|, exact."""
        n, r = self.L.shape
        return (n - r) * math.log(self.noise) + 2.0 * float(np.log(np.diag(self.C)).sum())

    def sample(self, eps_low: np.ndarray, eps_full: np.ndarray) -> np.ndarray:
        """z = L ε₁ + √noise ε₂, so E[z zᵀ] = P whenever E[ε εᵀ] = I (Rademacher signs)."""
        return self.L @ eps_low[: self.rank] + math.sqrt(self.noise) * eps_full


# ---------------------------------------------------------------------- CG with Lanczos
@dataclass
class LanczosCGInfo:
    """Outcome of :func:`lanczos_cg`.

    Attributes
    ----------
    n_iter : ndarray of shape (k,)
        Iterations each column ran before reaching ``tol`` (or the cap).
    steps, betas : ndarray of shape (max_iter_run, k)
        CG step sizes α_j and ratios β_j = (r_{j+1}ᵀ z_{j+1}) / (r_jᵀ z_j) per column.
    rz0 : ndarray of shape (k,)
        r₀ᵀ M r₀ = bᵀ P⁻¹ b (squared norm of the start vector of the implied Lanczos run).
    residuals : ndarray of shape (k,)
        Final relative residual ||b - A x|| / ||b|| (recurrence) per column.
    converged : bool
    n_products : int
        Operator products (multi-column) performed.
    """

    n_iter: np.ndarray
    steps: np.ndarray
    betas: np.ndarray
    rz0: np.ndarray
    residuals: np.ndarray
    converged: bool
    n_products: int


def lanczos_cg(apply_A: Callable[[np.ndarray], np.ndarray], B: np.ndarray, *,
               apply_M: Callable[[np.ndarray], np.ndarray] | None = None, tol: float = 1e-6,
               max_iter: int = MAX_CG_ITER) -> tuple[np.ndarray, LanczosCGInfo]:
    """Preconditioned CG on every column of ``B`` at once, recording the coefficients.

    Each iteration is one product of ``apply_A`` with the still-active columns. Column c
    stops once ||b_c - A x_c|| <= tol ||b_c||.

    Parameters
    ----------
    apply_A : callable (n, k) -> (n, k)
        Symmetric positive definite operator.
    B : ndarray of shape (n, k)
    apply_M : callable, default=None
        Inverse preconditioner P⁻¹ (SPD); None is the identity.
    tol : float
    max_iter : int

    Returns
    -------
    X : ndarray of shape (n, k)
    info : LanczosCGInfo
    """
    n, k = B.shape
    X = np.zeros_like(B)
    R = B.copy()
    Z = R if apply_M is None else apply_M(R)
    P = Z.copy()
    rz = np.einsum("ij,ij->j", R, Z)
    rz0 = rz.copy()
    norm_b = np.linalg.norm(B, axis=0)
    norm_b[norm_b == 0] = 1.0
    res = np.linalg.norm(R, axis=0) / norm_b
    active = res > tol
    n_iter = np.zeros(k, dtype=np.int64)
    steps: list[np.ndarray] = []
    betas: list[np.ndarray] = []
    it = 0
    while it < max_iter and active.any():
        cols = np.flatnonzero(active)
        AP = apply_A(P[:, cols])
        pap = np.einsum("ij,ij->j", P[:, cols], AP)
        alpha = np.zeros(k)
        alpha[cols] = rz[cols] / np.where(pap > 0, pap, np.inf)
        X[:, cols] += P[:, cols] * alpha[cols]
        R[:, cols] -= AP * alpha[cols]
        Zc = R[:, cols] if apply_M is None else apply_M(R[:, cols])
        rz_new = np.einsum("ij,ij->j", R[:, cols], Zc)
        beta = np.zeros(k)
        beta[cols] = rz_new / np.where(rz[cols] != 0, rz[cols], np.inf)
        P[:, cols] = Zc + P[:, cols] * beta[cols]
        rz[cols] = rz_new
        steps.append(alpha)
        betas.append(beta)
        n_iter[cols] += 1
        res[cols] = np.linalg.norm(R[:, cols], axis=0) / norm_b[cols]
        active[cols] = (res[cols] > tol) & (pap > 0) & (rz_new > 0)
        it += 1
    converged = bool((res <= tol).all())
    info = LanczosCGInfo(n_iter, np.array(steps).reshape(it, k), np.array(betas).reshape(it, k),
                         rz0, res, converged, it)
    return X, info


def lanczos_tridiagonal(steps: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Diagonal and off-diagonal of the m × m Lanczos matrix implied by m CG steps.

    T[j, j] = 1/α_j + β_{j-1}/α_{j-1}, T[j, j+1] = √β_j / α_j (Saad, Iterative Methods for
    Sparse Linear Systems, §6.7.3), for the matrix P^{-1/2} A P^{-1/2} started from
    P^{-1/2} b / ||P^{-1/2} b||.
    """
    m = len(steps)
    diag = 1.0 / steps
    diag[1:] += betas[: m - 1] / steps[: m - 1]
    off = np.sqrt(np.maximum(betas[: m - 1], 0.0)) / steps[: m - 1]
    return diag, off


def slq_quadratic_forms(info: LanczosCGInfo, cols: np.ndarray,
                        f: Callable[[np.ndarray], np.ndarray] = np.log) -> np.ndarray:
    """Gauss quadrature estimates of wᵀ f(P^{-1/2} A P^{-1/2}) w for w = P^{-1/2} b_c.

    One value per column in ``cols``: ||w||² Σ_k τ_k² f(θ_k), with θ, τ the eigenvalues and
    first eigenvector components of the column's Lanczos tridiagonal.
    """
    out = np.empty(len(cols))
    for i, c in enumerate(cols):
        m = int(info.n_iter[c])
        if m == 0:  # b = 0
            out[i] = 0.0
            continue
        d, e = lanczos_tridiagonal(info.steps[:m, c], info.betas[:m, c])
        theta, V = scipy.linalg.eigh_tridiagonal(d, e)
        out[i] = info.rz0[c] * float(np.dot(V[0] ** 2, f(np.maximum(theta, 1e-300))))
    return out


# ---------------------------------------------------------------------- ∂K products
def _derivative_kernel(kernel: Kernel) -> tuple[Kernel, float] | None:
    """(G, c) with g(s) = -2 f'(s) = c · profile_G(s): dk/dlog h_j = g(s) s_j.

    The same radial family, rescaled, for every supported kernel but Laplace / Matérn ½
    (None: use a central difference).
    """
    bw = np.asarray(kernel.bandwidth, dtype=np.float64)  # type: ignore[attr-defined]

    def scaled(f: float) -> Any:
        return float(bw * f) if bw.ndim == 0 else bw * f

    if isinstance(kernel, Gaussian):
        return Gaussian(bandwidth=scaled(1.0)), 1.0
    if isinstance(kernel, Matern) and kernel.nu == 1.5:   # 3 e^{-√3 r}
        return Laplace(bandwidth=scaled(1.0 / math.sqrt(3.0))), 3.0
    if isinstance(kernel, Matern) and kernel.nu == 2.5:   # 5/3 (1 + √5 r) e^{-√5 r}
        return Matern(nu=1.5, bandwidth=scaled(math.sqrt(3.0 / 5.0))), 5.0 / 3.0
    if isinstance(kernel, RationalQuadratic):             # (1 + s / 2a)^{-a-1}
        a = kernel.alpha
        return RationalQuadratic(alpha=a + 1.0,
                                 bandwidth=scaled(math.sqrt(a / (a + 1.0)))), 1.0
    if isinstance(kernel, IMQ):                           # 2β (c² + s)^{-β-1}
        return IMQ(c=kernel.c, beta=kernel.beta + 1.0, bandwidth=scaled(1.0)), 2.0 * kernel.beta
    return None


def _with_log_bandwidth_shift(kernel: Kernel, shift: np.ndarray) -> Kernel:
    new = copy.deepcopy(kernel)
    bw = np.asarray(kernel.bandwidth, dtype=np.float64)  # type: ignore[attr-defined]
    new.set_params(bandwidth=float(bw * math.exp(shift[0])) if bw.ndim == 0
                   else bw * np.exp(shift))
    return new


def bandwidth_derivative_products(kernel: Kernel, X: np.ndarray, B: np.ndarray
                                  ) -> list[np.ndarray]:
    """[∂K/∂log h_j @ B for each bandwidth h_j], without forming any n × n matrix.

    For a radial kernel k = f(s), s = Σ_j s_j, s_j = (x_j - y_j)² / h_j²:
    ∂k/∂log h_j = g(s) s_j with g = -2 f'. With x̃ = (x - mean) / h,
    Σ_l g_il s_j,il b_l = x̃_ij² (G b)_i - 2 x̃_ij (G (x̃_j b))_i + (G (x̃_j² b))_i,
    so one engine product of the derivative kernel G with stacked columns gives all of
    them (exact; for a scalar bandwidth the sum over j is taken before the product).
    Laplace / Matérn ½ (no compiled g): central difference in log h, see ``FD_STEP``.

    Parameters
    ----------
    kernel : Kernel
        Gaussian, Laplace, Matérn (ν ∈ {0.5, 1.5, 2.5}), RationalQuadratic or IMQ.
    X : ndarray of shape (n, d)
    B : ndarray of shape (n, k)

    Returns
    -------
    products : list of ndarray of shape (n, k)
        One per bandwidth (length 1 for a scalar bandwidth, d for ARD).
    """
    bw = np.asarray(kernel.bandwidth, dtype=np.float64)  # type: ignore[attr-defined]
    ard = bw.ndim == 1
    n_bw = bw.size
    spec = _derivative_kernel(kernel)
    if spec is None:
        if not isinstance(kernel, (Laplace, Matern)):
            raise ParameterError(f"no bandwidth derivative for {kernel!r}.")
        out = []
        for j in range(n_bw):
            e = np.zeros(n_bw)
            e[j] = FD_STEP
            plus = matvec(_with_log_bandwidth_shift(kernel, e), X, X, B)
            minus = matvec(_with_log_bandwidth_shift(kernel, -e), X, X, B)
            out.append((plus - minus) / (2.0 * FD_STEP))
        return out
    G, c = spec
    Xt = (X - X.mean(axis=0)) / bw
    n, k = B.shape
    if not ard:
        q = np.einsum("ij,ij->i", Xt, Xt)
        d = X.shape[1]
        stacked = np.concatenate([B, q[:, None] * B]
                                 + [Xt[:, j, None] * B for j in range(d)], axis=1)
        R = matvec(G, X, X, stacked)
        acc = q[:, None] * R[:, :k] + R[:, k:2 * k]
        for j in range(d):
            acc -= 2.0 * Xt[:, j, None] * R[:, (2 + j) * k:(3 + j) * k]
        return [c * acc]
    stacked = np.concatenate([B] + [Xt[:, j, None] ** 2 * B for j in range(n_bw)]
                             + [Xt[:, j, None] * B for j in range(n_bw)], axis=1)
    R = matvec(G, X, X, stacked)
    GB = R[:, :k]
    out = []
    for j in range(n_bw):
        xj = Xt[:, j, None]
        out.append(c * (xj * xj * GB + R[:, (1 + j) * k:(2 + j) * k]
                        - 2.0 * xj * R[:, (1 + n_bw + j) * k:(2 + n_bw + j) * k]))
    return out


# ---------------------------------------------------------------------- the estimator
@dataclass
class IterativeEvaluation:
    """One evaluation of the iterative marginal likelihood.

    Attributes
    ----------
    lml : float
        Estimate of the log marginal likelihood.
    grad : ndarray of shape (n_theta,) or empty
    alpha : ndarray of shape (n, t)
        K̂⁻¹ Y from CG.
    logdet : float
        Estimate of log|K̂|.
    logdet_probes : ndarray of shape (n_probes,)
        Per-probe estimates of log|K̂| (their spread gives the standard error).
    cg_iterations : int
        Multi-column operator products of the CG run.
    preconditioner_rank : int
    converged : bool
    """

    lml: float
    grad: np.ndarray
    alpha: np.ndarray
    logdet: float
    logdet_probes: np.ndarray
    cg_iterations: int
    preconditioner_rank: int
    converged: bool


class IterativeMarginalLikelihood:
    """Log marginal likelihood of a zero-mean GP and its gradient, matrix-free.

    θ = (log bandwidth(s), log output_scale, log noise), K̂ = output_scale K + noise I.

    Parameters
    ----------
    kernel : Kernel
        Template; its bandwidth is replaced by exp(θ) at each evaluation.
    X : ndarray of shape (n, d)
    Y : ndarray of shape (n, t)
    n_probes : int
        Probe vectors of the stochastic log-determinant and trace estimates.
    preconditioner_rank : int
        Largest rank of the pivoted-Cholesky preconditioner (0: P = noise I).
    cg_tol : float
        Relative residual of every CG solve.
    rng : numpy RandomState
        Draws the Rademacher signs once; every evaluation reuses them (common random
        numbers, so the estimate is a smooth function of θ).
    """

    def __init__(self, kernel: Kernel, X: np.ndarray, Y: np.ndarray, *, n_probes: int,
                 preconditioner_rank: int, cg_tol: float, rng: Any) -> None:
        self.kernel, self.X, self.Y = kernel, X, Y
        self.cg_tol = cg_tol
        self.preconditioner_rank = min(int(preconditioner_rank), X.shape[0])
        n = X.shape[0]
        self.eps_low = rng.choice([-1.0, 1.0], size=(self.preconditioner_rank, n_probes))
        self.eps_full = rng.choice([-1.0, 1.0], size=(n, n_probes))
        self.n_probes = n_probes
        self.last: IterativeEvaluation | None = None

    def parts(self, theta: np.ndarray) -> tuple[Kernel, float, float]:
        n_bw = len(theta) - 2
        k = self.kernel
        if n_bw:
            k = copy.deepcopy(k)
            bw = np.exp(theta[:n_bw])
            k.set_params(bandwidth=float(bw[0]) if np.ndim(self.kernel.bandwidth) == 0  # type: ignore[attr-defined]
                         else bw)
        return k, math.exp(theta[-2]), math.exp(theta[-1])

    def __call__(self, theta: np.ndarray, eval_gradient: bool = True) -> IterativeEvaluation:
        with small_blas(self.X.shape[0]):
            return self._evaluate(theta, eval_gradient)

    def _evaluate(self, theta: np.ndarray, eval_gradient: bool) -> IterativeEvaluation:
        kernel, scale, noise = self.parts(theta)
        X, Y = self.X, self.Y
        n, t = Y.shape
        pre = make_preconditioner(kernel, X, scale, noise, self.preconditioner_rank)
        op = KernelOperator(kernel, X)

        def apply_A(V: np.ndarray) -> np.ndarray:
            return scale * op.matmat(V) + noise * V

        Z = pre.sample(self.eps_low, self.eps_full)
        sol, info = lanczos_cg(apply_A, np.concatenate([Y, Z], axis=1), apply_M=pre.solve,
                               tol=self.cg_tol)
        if not info.converged:
            warnings.warn(
                f"CG of the iterative GP stopped after {info.n_products} iterations with "
                f"relative residual {float(info.residuals.max()):.2e} > cg_tol="
                f"{self.cg_tol:g}; increase preconditioner_rank or noise, or loosen cg_tol.",
                ConvergenceWarning, stacklevel=3)
        alpha, U = sol[:, :t], sol[:, t:]
        probes = pre.logdet() + slq_quadratic_forms(info, np.arange(t, t + self.n_probes))
        logdet = float(probes.mean())
        lml = (-0.5 * float(np.einsum("ij,ij->", Y, alpha)) - 0.5 * t * logdet
               - 0.5 * n * t * math.log(2 * math.pi))
        grad = np.empty(0)
        if eval_gradient:
            grad = self._gradient(theta, kernel, scale, noise, alpha, U, pre.solve(Z))
        ev = IterativeEvaluation(lml, grad, alpha, logdet, probes, info.n_products,
                                 pre.rank, info.converged)
        self.last = ev
        return ev

    def _gradient(self, theta: np.ndarray, kernel: Kernel, scale: float, noise: float,
                  alpha: np.ndarray, U: np.ndarray, V: np.ndarray) -> np.ndarray:
        """½ Σ αᵀ ∂K̂ α - (t/2) mean_p (K̂⁻¹z_p)ᵀ ∂K̂ (P⁻¹ z_p), each ∂K̂ product exact."""
        t, p = alpha.shape[1], U.shape[1]
        left = np.concatenate([alpha, U], axis=1)
        right = np.concatenate([alpha, V], axis=1)

        def combine(prod: np.ndarray) -> float:
            forms = np.einsum("ij,ij->j", left, prod)
            return 0.5 * float(forms[:t].sum()) - 0.5 * t * float(forms[t:].sum()) / p

        grad = np.empty(len(theta))
        grad[-1] = combine(noise * right)
        grad[-2] = combine(scale * matvec(kernel, self.X, self.X, right))
        n_bw = len(theta) - 2
        if n_bw:
            for j, prod in enumerate(bandwidth_derivative_products(kernel, self.X, right)):
                grad[j] = combine(scale * prod)
        return grad


def make_preconditioner(kernel: Kernel, X: np.ndarray, scale: float, noise: float,
                        rank: int) -> PivotedCholeskyPreconditioner:
    """Pivoted-Cholesky preconditioner of ``scale K(X, X) + noise I`` (r kernel columns)."""
    diag = scale * np.asarray(kernel.diag(X), dtype=np.float64)

    def column(i: int) -> np.ndarray:
        return scale * np.asarray(kernel._tile(X, X[i:i + 1], np), dtype=np.float64)[:, 0]

    L, _ = pivoted_cholesky(diag, column, rank)
    return PivotedCholeskyPreconditioner(L, noise)


def solve(kernel: Kernel, X: np.ndarray, scale: float, noise: float, B: np.ndarray, *,
          rank: int, tol: float, pre: PivotedCholeskyPreconditioner | None = None
          ) -> tuple[np.ndarray, LanczosCGInfo]:
    """(scale K + noise I)⁻¹ B by preconditioned CG, all columns at once."""
    with small_blas(X.shape[0]):
        if pre is None:
            pre = make_preconditioner(kernel, X, scale, noise, rank)
        op = KernelOperator(kernel, X)
        sol, info = lanczos_cg(lambda V: scale * op.matmat(V) + noise * V, B,
                               apply_M=pre.solve, tol=tol)
    if not info.converged:
        warnings.warn(
            f"CG of the iterative GP stopped after {info.n_products} iterations with "
            f"relative residual {float(info.residuals.max()):.2e} > cg_tol={tol:g}; "
            "increase preconditioner_rank or noise, or loosen cg_tol.",
            ConvergenceWarning, stacklevel=3)
    return sol, info


def posterior_covariance(kernel: Kernel, X: np.ndarray, scale: float, noise: float,
                         Xq: np.ndarray, *, full: bool, std: bool, rank: int, tol: float
                         ) -> np.ndarray:
    """Posterior covariance (or std) of f at ``Xq`` by CG solves, no n × n matrix.

    cov = scale K(Xq, Xq) - K*ᵀ K̂⁻¹ K* with K* = scale K(X, Xq), the solves batched over
    blocks of query points sized so the CG work arrays (about 8 × n × block floats) stay
    within ``working_memory``.

    Returns
    -------
    cov : ndarray of shape (q, q) when ``full``; else the std, shape (q,)
        (the variance clipped at 0 when ``std``).
    """
    from .._config import get_config

    pre = make_preconditioner(kernel, X, scale, noise, rank)
    n, q = X.shape[0], Xq.shape[0]
    block = max(1, int(get_config()["working_memory"] * 2**20 // (8 * 8 * n)))
    out = np.empty((q, q)) if full else np.empty(q)
    for s in range(0, q, block):
        Q = Xq[s:s + block]
        Ks = scale * dense_gram(kernel, X, Q)
        U, _ = solve(kernel, X, scale, noise, Ks, rank=rank, tol=tol, pre=pre)
        if full:
            out[:, s:s + len(Q)] = (scale * dense_gram(kernel, Xq, Q)
                                    - scale * matvec(kernel, Xq, X, U))
        else:
            out[s:s + len(Q)] = (scale * np.asarray(kernel.diag(Q), dtype=np.float64)
                                 - np.einsum("ij,ij->j", Ks, U))
    if full:
        return 0.5 * (out + out.T)
    return np.sqrt(np.clip(out, 0.0, None)) if std else out

"""The planner: pick the cheapest approximation that meets a requested tolerance."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._config import get_config
from .._validation import check_positive
from ..exceptions import InputTypeError, MemoryBudgetError, ParameterError
from ..kernels import Kernel
from ..ops import matvec as exact_matvec
from ._common import as_generator, check_data, check_kernel, kernel_block
from ._features import RandomFeatures
from ._nystroem import LowRankOperator, Nystroem
from ._spectral import spectrum_of

__all__ = ["approximate", "Approximation"]

TASKS = ("matvec", "solve", "density")
#: Rows of the uniform subsample on which errors are measured against the exact engine.
_CHECK_ROWS = 1000
#: Probe vectors used to choose the rank, and (independent) ones for the final estimate.
_SELECT_PROBES = 10
_HELD_OUT_PROBES = 20
_START_RANK = 16


@dataclass
class Approximation:
    """A fitted low-rank kernel approximation K(X, X) ≈ Z Zᵀ chosen by :func:`approximate`.

    Attributes
    ----------
    method : str
        ``"rff-orthogonal"`` (orthogonal random Fourier features) or ``"nystroem-rls"``
        (Nyström with ridge-leverage-score centres).
    rank : int
        Number of features r.
    error_estimate : float
        The largest relative error over ``n_probes`` held-out probes (see ``task``),
        measured against the exact engine on a uniform subsample of X.
    confidence : float
        n_probes / (n_probes + 1): the probability that one more independent probe has
        an error no larger than ``error_estimate`` (exchangeability of the probes).
    estimator : RandomFeatures or Nystroem
        The fitted transformer.
    features : ndarray of shape (n_samples, rank)
        Z for the training data.
    seconds : dict
        ``{"planning": ..., "build": ...}``: time spent choosing/validating and time to
        build the chosen approximation on all of X.
    """

    method: str
    rank: int
    error_estimate: float
    confidence: float
    n_probes: int
    task: str
    estimator: Any
    features: np.ndarray
    seconds: dict = field(default_factory=dict)

    def matvec(self, v: Any) -> np.ndarray:
        """K̃ v = Z (Zᵀ v) for v of shape (n_samples,) or (n_samples, k)."""
        return np.asarray(self.features @ (self.features.T @ np.asarray(v, dtype=np.float64)))

    def transform(self, X: Any) -> np.ndarray:
        """Features of new points, shape (n, rank)."""
        return np.asarray(self.estimator.transform(X))

    @property
    def operator(self) -> LowRankOperator:
        """K̃ as a LinearOperator with Woodbury ``.solve(b, alpha)``."""
        return LowRankOperator(self.features)

    def __repr__(self) -> str:
        return (f"Approximation(method={self.method!r}, rank={self.rank}, "
                f"error_estimate={self.error_estimate:.3g}, confidence={self.confidence:.3g})")


def _make(method: str, kernel: Kernel, rank: int, seed: int) -> Any:
    if method == "rff-orthogonal":
        return RandomFeatures(kernel=kernel, n_components=rank, method="orthogonal",
                              random_state=seed)
    return Nystroem(kernel=kernel, n_components=rank, sampling="rls", random_state=seed)


def _cost(method: str, rank: int, n: int, d: int) -> float:
    """Flops to build the features of n rows (the dominant cost)."""
    if method == "rff-orthogonal":
        return n * rank * (d + 20.0)  # product plus cos/sin
    return n * rank * (d + 20.0 + rank)  # kernel block plus the K_mm^{-1/2} product


class _Checker:
    """Exact reference values on a subsample, and the task's relative error."""

    def __init__(self, kernel: Kernel, XS: np.ndarray, task: str, alpha: float,
                 rng: np.random.Generator) -> None:
        self.task, self.alpha = task, alpha
        s = XS.shape[0]
        if task == "density":
            self.V = np.full((s, 1), 1.0 / s)
        else:
            self.V = rng.standard_normal((s, _SELECT_PROBES + _HELD_OUT_PROBES))
        if task == "solve":
            K = kernel_block(kernel, XS, XS, exact=True)
            self.ref = np.linalg.solve(K + alpha * np.eye(s), self.V)
        else:
            self.ref = np.asarray(exact_matvec(kernel, XS, XS, self.V), dtype=np.float64)
        if self.ref.ndim == 1:
            self.ref = self.ref[:, None]

    def errors(self, ZS: np.ndarray, held_out: bool) -> np.ndarray:
        cols = (slice(_SELECT_PROBES, None) if held_out else slice(0, _SELECT_PROBES))
        if self.task == "density":
            approx = ZS @ (ZS.T @ self.V)
            # per-point relative error of the kernel sums, one "probe" per point
            rel = np.abs(approx - self.ref)[:, 0] / np.abs(self.ref[:, 0])
            half = rel.shape[0] // 2
            return rel[half:] if held_out else rel[:half]
        V, ref = self.V[:, cols], self.ref[:, cols]
        if self.task == "solve":
            approx = LowRankOperator(ZS).solve(V, self.alpha)
        else:
            approx = ZS @ (ZS.T @ V)
        return np.asarray(np.linalg.norm(approx - ref, axis=0) / np.linalg.norm(ref, axis=0))


def approximate(kernel: Kernel, X: Any, rtol: float = 1e-2, task: str = "matvec", *,
                alpha: float | None = None, max_rank: int | None = None,
                random_state: Any = None) -> Approximation:
    r"""Choose and build the cheapest low-rank approximation of K(X, X) meeting ``rtol``.

    Candidates are orthogonal random Fourier features (kernels with a known spectral
    density) and Nyström with ridge-leverage-score centres (any kernel). For each, the
    rank doubles from 16 until the task error, measured on probe vectors against the
    exact engine (:func:`kernelkit.matvec`) on a uniform subsample of up to 1000 rows, is
    at most ``rtol``; the cheaper (in flops to build) is then fitted on all of X and
    re-checked on 20 independent held-out probes; if they miss ``rtol`` the rank doubles
    again.

    Parameters
    ----------
    kernel : Kernel
    X : array-like of shape (n_samples, n_features)
    rtol : float, default=1e-2
        Target relative error, 0 < rtol < 1.
    task : {"matvec", "solve", "density"}, default="matvec"
        Error measured: ``"matvec"`` ||K̃v - Kv|| / ||Kv|| for Gaussian v;
        ``"solve"`` ||x̃ - x|| / ||x|| for (K + αI) x = b (needs ``alpha``);
        ``"density"`` |(K̃1)_i - (K1)_i| / (K1)_i per point (kernel sums).
    alpha : float, default=None
        Ridge of ``task="solve"``.
    max_rank : int, default=None
        Largest rank tried; None: as many features as fit ``working_memory``.
    random_state : int, RandomState, Generator or None, default=None

    Returns
    -------
    approximation : Approximation
        ``.method``, ``.rank``, ``.error_estimate``, ``.confidence``, ``.matvec``,
        ``.transform``, ``.operator``.

    Raises
    ------
    MemoryBudgetError
        When no candidate meets ``rtol`` within the rank the memory budget allows; the
        message says the best error reached and at which rank.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian
    >>> from kernelkit.approx import approximate
    >>> X = np.random.default_rng(0).normal(size=(500, 2))
    >>> approx = approximate(Gaussian(bandwidth=1.0), X, rtol=1e-2, random_state=0)
    >>> approx.error_estimate <= 1e-2, approx.rank <= 256
    (True, True)
    """
    t0 = time.perf_counter()
    kernel = check_kernel(kernel)
    X = check_data(X)
    rtol = float(check_positive(rtol, "rtol"))
    if not 0.0 < rtol < 1.0:
        raise ParameterError(f"rtol must be strictly between 0 and 1, got {rtol!r}.")
    if task not in TASKS:
        raise ParameterError(f"task must be one of {TASKS}, got {task!r}.")
    if task == "solve":
        if alpha is None:
            raise ParameterError("task='solve' needs alpha, the ridge of (K + alpha I) x = b.")
        alpha = float(check_positive(alpha, "alpha"))
    n, d = X.shape
    budget_rank = int(get_config()["working_memory"] * 2**20 // (8 * 3 * n))
    # more features than rows is never cheaper than the exact kernel
    limit = max(1, min(budget_rank, n, max_rank if max_rank is not None else budget_rank))
    rng = as_generator(random_state)
    S = np.sort(rng.choice(n, min(n, _CHECK_ROWS), replace=False))
    XS = X[S]
    checker = _Checker(kernel, XS, task, alpha or 0.0, rng)

    methods = ["nystroem-rls"]
    try:
        spectrum_of(kernel)
        methods.insert(0, "rff-orthogonal")
    except InputTypeError:
        pass
    best: dict[str, tuple[int, float]] = {}
    reached: list[str] = []
    for method in methods:
        rank, err = _START_RANK, math.inf
        while True:
            r = min(rank, limit, XS.shape[0] if method == "nystroem-rls" else limit)
            est = _make(method, kernel, r, int(rng.integers(2**31 - 1))).fit(XS)
            err = float(checker.errors(est.transform(XS).astype(np.float64), False).max())
            if err <= rtol:
                best[method] = (r, err)
                break
            if r >= limit or (method == "nystroem-rls" and r >= XS.shape[0]):
                reached.append(f"{method}: error {err:.3g} at rank {r}")
                break
            rank *= 2
    if not best:
        raise MemoryBudgetError(
            f"no approximation meets rtol={rtol:g} within the rank the memory budget allows "
            f"({limit}; working_memory={get_config()['working_memory']:g} MiB): "
            + "; ".join(reached) + ". Raise working_memory, pass a larger max_rank, or "
            "loosen rtol."
        )
    method = min(best, key=lambda m: _cost(m, best[m][0], n, d))
    rank = best[method][0]
    planning = time.perf_counter() - t0
    while True:
        t1 = time.perf_counter()
        est = _make(method, kernel, rank, int(rng.integers(2**31 - 1))).fit(X)
        Z = est.transform(X).astype(np.float64)
        build = time.perf_counter() - t1
        t2 = time.perf_counter()
        held = checker.errors(Z[S], True)
        planning += time.perf_counter() - t2
        error = float(held.max())
        if error <= rtol or rank >= limit or (method == "nystroem-rls" and rank >= n):
            break
        rank = min(2 * rank, limit)
    if error > rtol:
        raise MemoryBudgetError(
            f"{method} reached a held-out error of {error:.3g} at rank {rank}, above "
            f"rtol={rtol:g}, and the memory budget allows no larger rank ({limit}). Raise "
            "working_memory, pass a larger max_rank, or loosen rtol."
        )
    return Approximation(method=method, rank=int(Z.shape[1]), error_estimate=error,
                         confidence=held.shape[0] / (held.shape[0] + 1.0),
                         n_probes=int(held.shape[0]), task=task, estimator=est, features=Z,
                         seconds={"planning": planning, "build": build})

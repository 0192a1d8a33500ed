"""The planner: pick the cheapest approximation that meets a requested tolerance."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg

from .._config import get_config
from .._validation import check_positive
from ..exceptions import InputTypeError, MemoryBudgetError, ParameterError
from ..kernels import Kernel
from ._common import (
    as_generator,
    check_data,
    check_kernel,
    kernel_block,
    small_blas,
    stable_cholesky,
)
from ._features import RandomFeatures, sample_frequencies
from ._leverage import _OVERSAMPLE, _dictionary_cap, dictionary_scores, sample_by_scores
from ._nystroem import LowRankOperator, Nystroem
from ._spectral import spectrum_of

__all__ = ["approximate", "Approximation"]

TASKS = ("matvec", "solve", "density")
#: Rows of the uniform subsample on which errors are measured against the exact kernel.
_CHECK_ROWS = 1000
#: Probe vectors used to choose the rank, and (independent) ones for the final estimate:
#: as many of each, so that the selection max is not optimistic by having fewer samples.
_SELECT_PROBES = 20
_HELD_OUT_PROBES = 20
_START_RANK = 16
#: A Nyström rank of at least this fraction of the subsample rows is re-checked on a
#: subsample twice as large when X has at least ``_GROW_MIN_ROWS`` times the subsample's
#: rows: at rank / s = 1/4 the selection error was ~0.57x the held-out error of the build
#: (measured), so the build missed rtol about half the time and was discarded.
_GROW_AT = 0.25
_GROW_MIN_ROWS = 10
#: Uniform dictionary for the leverage scores of the first Nyström rank on the subsample.
_FIRST_DICTIONARY = 64
#: Random features are dropped from the search when their error, extrapolated at the
#: Monte-Carlo rate 1/sqrt(rank) from the last rank tried, would still exceed rtol times
#: this factor at the largest allowed rank (they could then never be chosen).
_RATE_SLACK = 2.0
#: Flop-equivalents of one exp/cos/sin in the cost model: with it, measured build times of
#: both candidates on 20000 rows (d = 3, ranks 64-2048) were within about ±20 % of proportional.
_TRANSCENDENTAL = 100.0
#: Bisection steps for λ: log λ spans 12 decades, 2^-18 of that is 1e-4 relative in λ.
_BISECTIONS = 18
#: Rows per tile of the subsample's kernel block (see _symmetric_block).
_TILE = 250


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
        measured against the exact kernel on a uniform subsample of X.
    confidence : float
        n_probes / (n_probes + 1): the probability that one more independent probe has
        an error no larger than ``error_estimate`` (exchangeability of the probes).
    estimator : RandomFeatures or Nystroem
        The fitted transformer.
    features : ndarray of shape (n_samples, rank)
        Z for the training data.
    seconds : dict
        ``{"planning": ..., "build": ...}``: ``build`` is the wall time to fit the chosen
        method on all of X and transform X (the returned features); ``planning`` is the
        rest of the call (checks, subsample references, rank search, held-out check, and
        any discarded build whose held-out error missed rtol). For RLS Nyström the build
        continues the search's leverage scores (one pass over X) and costs about a third
        of ``Nystroem(sampling="rls").fit(X).transform(X)`` at the same rank; see
        ``docs/approx.md`` for both overheads.
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
    """Flop-equivalents to build the features of n rows (the dominant terms).

    Random features: the product with the frequencies plus a cos/sin per entry. RLS
    Nyström: the leverage-score pass (each row against a dictionary of ~1.5 rank points,
    capped as in :mod:`._leverage`), then the kernel block to the centres and its product
    with K_mm^{-1/2}; every kernel entry costs an exp. A transcendental counts
    ``_TRANSCENDENTAL`` flops. The planner's Nyström build on n ≥ 2 s rows makes one
    leverage pass (:class:`_LeverageBuild`); below that, ``Nystroem.fit`` makes about two
    over its recursion levels.
    """
    t = _TRANSCENDENTAL
    if method == "rff-orthogonal":
        return n * rank * (d + t)
    q = min(1.5 * rank, _dictionary_cap(n))
    passes = 1.0 if n >= 2 * _CHECK_ROWS else 2.0
    return n * (rank * (d + t + rank) + passes * q * (d + t + q))


def _symmetric_block(kernel: Kernel, XS: np.ndarray, exact: bool) -> np.ndarray:
    """K(XS, XS) by tiles of about ``_TILE`` rows, each upper tile mirrored below.

    About half the kernel evaluations, and the tiles' temporaries stay in cache: about 2x
    faster than one :func:`kernel_block` call at s = 1000 rows here (values agree with it
    to rounding; each tile is centred at its own columns' mean).
    """
    s = XS.shape[0]
    edges = np.linspace(0, s, max(1, round(s / _TILE)) + 1).astype(int)
    K = np.empty((s, s))
    for i, (a0, a1) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        for b0, b1 in zip(edges[i:-1], edges[i + 1:], strict=True):
            tile = kernel_block(kernel, XS[a0:a1], XS[b0:b1], exact=exact)
            K[a0:a1, b0:b1] = tile
            if b0 > a0:
                K[b0:b1, a0:a1] = tile.T
    return K


class _Checker:
    """The exact kernel block of the subsample (computed once), reference values of the
    task on probe vectors, and the task's relative error."""

    def __init__(self, kernel: Kernel, XS: np.ndarray, task: str, alpha: float,
                 rng: np.random.Generator, n: int | None = None) -> None:
        self.task, self.alpha, self.rng = task, alpha, rng
        s = XS.shape[0]
        #: chance that a centre of a build on all n rows lies in the s subsample rows
        self.in_subsample = 1.0 if n is None else s / max(n, s)
        # the subsample's kernel block, evaluated once for every rank of the Nyström search
        # (and, exactly, for the reference solves of task="solve")
        self.K = _symmetric_block(kernel, XS, exact=task == "solve")
        if task == "density":
            self.V = np.full((s, 1), 1.0 / s)
        else:
            self.V = rng.standard_normal((s, _SELECT_PROBES + _HELD_OUT_PROBES))
        if task == "solve":
            self.ref = np.linalg.solve(self.K + alpha * np.eye(s), self.V)
        else:
            # K v from the dense block: it agrees with the exact engine (kernelkit.matvec) to
            # ~1e-15 relative for compiled kernels (Laplace included: see kernel_block) and
            # ~1e-9 for kinked ones on the numpy path, and costs less than an engine pass
            self.ref = self.K @ self.V

    @property
    def selection_probes(self) -> np.ndarray | None:
        """The probes W of the selection errors when they only need K̃ W (not for solves)."""
        return None if self.task == "solve" else self.V[:, :_SELECT_PROBES]

    def product_errors(self, KW: np.ndarray) -> np.ndarray:
        """Selection errors from K̃ W, W = :attr:`selection_probes` (all subsample rows)."""
        return self._compare(KW, self.ref[:, :KW.shape[1]], False)

    def _compare(self, approx: np.ndarray, ref: np.ndarray, held_out: bool) -> np.ndarray:
        if self.task != "density":
            return np.asarray(np.linalg.norm(approx - ref, axis=0)
                              / np.linalg.norm(ref, axis=0))
        # per-point relative error of the kernel sums, one "probe" per point
        rel = np.abs(approx - ref)[:, 0] / np.abs(ref[:, 0])
        half = rel.shape[0] // 2
        if half == 0:  # one point: it serves as selection and held-out probe
            return np.asarray(rel)
        return np.asarray(rel[half:] if held_out else rel[:half])

    def errors(self, ZS: np.ndarray, held_out: bool,
               exclude: np.ndarray | None = None) -> np.ndarray:
        """Relative errors of the approximation ZS ZSᵀ of the subsample's block, one per
        selection (or held-out) probe.

        ``exclude`` (Nyström centres among the subsample rows; for ``task`` "matvec" and
        "density") leaves rows and columns out: the errors are those of the block K[R, R]
        of the other rows R, with references K[R, R] v_R = (K v)_R - K[R, C] v_C. A
        Nyström approximation reproduces the rows and columns of K at its centres exactly.
        In the search every centre is a subsample row; in a build on all n rows each
        centre is one of the s checked rows with chance s / n only. So each centre is left
        out with chance 1 - s / n: the selection error then has (about) the law of the
        held-out error of the build, instead of being optimistic by the exact rows (up to
        2-7x at rank / s = 6-25 % in measurements). With ``task="solve"`` ``exclude`` is
        ignored (its reference would need a new solve of K[R, R] + αI per step; the
        held-out check on the build still applies).
        """
        keep = None  # rows kept (a mask), when some are left out
        if exclude is not None and self.task != "solve" and self.in_subsample < 1.0:
            out = exclude[self.rng.random(exclude.size) >= self.in_subsample]
            if 0 < out.size < self.K.shape[0]:
                keep = np.ones(self.K.shape[0], dtype=bool)
                keep[out] = False
        if self.task == "density":
            V, ref = self.V, self.ref
            if keep is not None:
                V = np.where(keep[:, None], V, 0.0)
                ref = ref - (self.V[~keep].T @ self.K[~keep]).T  # K symmetric: rows
            approx = ZS @ (ZS.T @ V)
            # per-point relative error of the kernel sums, one "probe" per point
            rel = np.abs(approx - ref)[:, 0] / np.abs(ref[:, 0])
            half = rel.shape[0] // 2
            if half == 0:  # one point: it serves as selection and held-out probe
                return rel
            rows = slice(half, None) if held_out else slice(0, half)
            return rel[rows] if keep is None else rel[rows][keep[rows]]
        cols = (slice(_SELECT_PROBES, None) if held_out else slice(0, _SELECT_PROBES))
        V, ref = self.V[:, cols], self.ref[:, cols]
        if self.task == "solve":
            approx = LowRankOperator(ZS).solve(V, self.alpha)
        elif keep is None:
            approx = ZS @ (ZS.T @ V)
        else:
            ref = (ref - (V[~keep].T @ self.K[~keep]).T)[keep]  # K symmetric: rows
            V = np.where(keep[:, None], V, 0.0)
            approx = (ZS @ (ZS.T @ V))[keep]
        return np.asarray(np.linalg.norm(approx - ref, axis=0) / np.linalg.norm(ref, axis=0))


class _FeatureSearch:
    """Orthogonal random features of the subsample, grown without redrawing: rank r → r'
    adds an independent set of r' - r features, and the blocks are averaged with weights
    proportional to their frequency counts (each block alone is unbiased).

    With ``probes`` W, :meth:`product` keeps Z Zᵀ W = Σ_b m_b Z_b Z_bᵀ W / Σ_b m_b up to
    date block by block, so a rank step costs only its new block's features and products
    (Z itself is assembled only by :meth:`features`, for the solves of task="solve").
    """

    def __init__(self, kernel: Kernel, XS: np.ndarray, rng: np.random.Generator,
                 probes: np.ndarray | None = None) -> None:
        self.kernel, self.rng, self.probes = kernel, rng, probes
        self._probes32 = None if probes is None else probes.astype(np.float32)
        self.XS = XS.astype(np.float64, copy=False)
        self.spectrum = spectrum_of(kernel)
        self.blocks: list[tuple[np.ndarray, int]] = []
        self.rank = 0
        self.centres = None  # no centres: the features are checked on every subsample row
        self._sum: Any = 0.0  # Σ_b m_b Z_b Z_bᵀ W

    def _grow(self, rank: int) -> None:
        new = rank - self.rank
        if new <= 0:
            return
        seed = int(self.rng.integers(2**31 - 1))
        m = (new + 1) // 2  # frequencies of the block (the weight of its estimate)
        if new % 2 == 0:
            # the features of RandomFeatures(method="orthogonal", random_state=seed) (the
            # same frequencies, without the estimator's per-call validation), with cos/sin
            # in float32, where numpy vectorizes them (~6x faster here than float64): they
            # differ by ~1e-7 |ω·x|, far below the Monte-Carlo error at any rank searched
            spectrum = self.spectrum
            W = sample_frequencies(spectrum, "orthogonal", m, self.XS.shape[1],
                                   as_generator(seed)) / spectrum.bandwidth
            proj = (self.XS @ W.T).astype(np.float32)
            Z = np.concatenate([np.cos(proj), np.sin(proj)], axis=1)
            Z *= np.float32(math.sqrt(spectrum.amplitude / m))
        else:  # an odd block (a rank cap): the estimator itself
            est = RandomFeatures(kernel=self.kernel, n_components=new, method="orthogonal",
                                 random_state=seed)
            Z = np.asarray(est.fit(self.XS).transform(self.XS), dtype=np.float64)
        self.blocks.append((Z, m))
        if self.probes is not None:  # (in Z's precision: float32 products for float32 Z)
            W = self._probes32 if Z.dtype == np.float32 else self.probes
            self._sum = self._sum + m * np.asarray(Z @ (Z.T @ W), dtype=np.float64)
        self.rank = rank

    def product(self, rank: int) -> np.ndarray:
        """Z Zᵀ W for the features of this rank (needs ``probes``)."""
        self._grow(rank)
        return np.asarray(self._sum / sum(m for _, m in self.blocks))

    def features(self, rank: int) -> np.ndarray:
        self._grow(rank)
        total = sum(m for _, m in self.blocks)
        return np.hstack([Z.astype(np.float64) * math.sqrt(m / total)
                          for Z, m in self.blocks])


def _bless(diag: np.ndarray, C: np.ndarray, mu: np.ndarray, lam: float) -> np.ndarray:
    """BLESS scores (k_ii - Σ_j C_ji / (μ_j + λ)) / λ, capped at k_ii / (k_ii + λ)."""
    tau = np.maximum(diag - (1.0 / (mu + lam)) @ C, 0.0) / lam
    return np.asarray(np.minimum(tau, diag / (diag + lam)))


class _LeverageSearch:
    """RLS Nyström of the subsample from its kernel block K, rank by rank.

    Approximately the law of :class:`Nystroem` with ``sampling="rls"``: λ with
    d_eff(λ) = rank / 2 and centres drawn without replacement by (estimated) ridge
    leverage scores at λ. The scores are the
    BLESS estimates from a weighted dictionary drawn by the previous rank's scores with
    probabilities min(1, q τ_i), q = 2 × the oversampling of :mod:`._leverage` (d_eff
    doubles per rank step), as on BLESS's path of decreasing λ; the first dictionary is
    uniform. K is never refactored: a step costs O(s·q·rank) for s subsample rows plus
    an eigendecomposition of the dictionary block.
    """

    def __init__(self, K: np.ndarray, rng: np.random.Generator) -> None:
        self.K, self.rng = K, rng
        s = K.shape[0]
        self.diag = np.maximum(np.diag(K).copy(), 0.0)
        self.p = np.full(s, min(1.0, _FIRST_DICTIONARY / s))  # dictionary probabilities
        #: subsample rows chosen as centres by the last step (its features are exact there)
        self.centres = np.zeros(0, dtype=np.intp)
        #: the last step's λ and scores at it, its score estimator, and its dictionary
        #: (rows J, weights^{1/2} D, eigenpairs μ, Q of the weighted dictionary block)
        self.lam, self.tau, self._last = 0.0, np.zeros(s), None
        self._dictionary: tuple[np.ndarray, ...] = ()

    def _scores(self) -> Any:
        K = self.K
        keep = self.rng.random(self.p.shape[0]) < self.p
        J = np.flatnonzero(keep)
        D = 1.0 / np.sqrt(self.p[J])  # importance weights W^{1/2}
        if J.size:
            # divide and conquer ("evd", as numpy's eigh): 10-40 % faster than the default
            # at the dictionary sizes here (384-1536, measured)
            mu, Q = scipy.linalg.eigh(D[:, None] * K[np.ix_(J, J)] * D[None, :],
                                      check_finite=False, driver="evd")
        else:  # an empty draw: scores from the diagonal alone (upper bounds)
            mu, Q = np.zeros(0), np.zeros((0, 0))
        self._dictionary = (J, D, np.maximum(mu, 0.0), Q)
        C = self._explained(K[J])  # (|J|, s)
        diag = self.diag
        return lambda lam: _bless(diag, C, self._dictionary[2], lam)

    def _explained(self, KJ: np.ndarray) -> np.ndarray:
        """(Qᵀ W^{1/2} K_J·)², the rows' squared coordinates in the dictionary's eigenbasis."""
        J, D, _, Q = self._dictionary
        return np.asarray((Q.T @ (D[:, None] * KJ)) ** 2) if J.size else KJ[:0]

    def scores_of(self, kernel: Kernel, XS: np.ndarray, Y: np.ndarray,
                  lam: float) -> np.ndarray:
        """Estimated scores at λ of rows Y outside the subsample XS, from the dictionary of
        the last step (the same estimate as for the subsample's own rows)."""
        J = self._dictionary[0]
        C = self._explained(kernel_block(kernel, XS[J], Y))
        diag = np.maximum(np.asarray(kernel.diag(Y), dtype=np.float64), 0.0)
        return _bless(diag, C, self._dictionary[2], lam)

    def lam_for(self, rank: int, scores: Any = None) -> float:
        """λ with estimated d_eff(λ) = rank / 2 on the subsample (bisection in log λ, as
        ``_auto_regularization``), from the last step's score estimates by default."""
        scores = self._last if scores is None else scores
        total = max(float(self.diag.sum()), 1e-300)
        lo, hi = math.log(total * 1e-12), math.log(total)
        for _ in range(_BISECTIONS):
            mid = 0.5 * (lo + hi)
            if scores(math.exp(mid)).sum() > rank / 2.0:
                lo = mid
            else:
                hi = mid
        return math.exp(hi)

    def features(self, rank: int) -> np.ndarray:
        scores = self._last = self._scores()
        self.lam = self.lam_for(rank, scores)
        self.tau = tau = scores(self.lam)  # the scores of this rank (for the build on X)
        self.p = np.minimum(1.0, 2.0 * _OVERSAMPLE * tau)
        C = sample_by_scores(tau, rank, self.rng)
        self.centres = np.asarray(C, dtype=np.intp)
        # Z = K_SC L^-T with K_CC = L Lᵀ: the same Z Zᵀ as K_SC K_CC^{-1/2} (Nystroem's
        # basis) at the cost of a Cholesky factorization instead of an eigendecomposition
        L = stable_cholesky(self.K[np.ix_(C, C)])
        return np.asarray(scipy.linalg.solve_triangular(L, self.K[C], lower=True,
                                                        check_finite=False).T)


class _LeverageBuild:
    """RLS Nyström on all of X that continues the subsample's leverage search.

    ``Nystroem(sampling="rls").fit(X)`` estimates the scores of all n rows from scratch,
    by a recursion of halvings of X (about three passes over X against its dictionary).
    The search already holds a dictionary of the uniform subsample S (s rows) at λ_S with
    d_eff = rank / 2 there: the first level of such a recursion. With it this build scores
    s other uniform rows S', keeps each with probability p = min(1, q τ) and weight
    (n / s') / p: a dictionary for X at λ = (n / s) λ_S (the subsample's spectrum scaled
    by n / s, as Nystroem's own "auto" λ). One pass over X against it gives the scores of
    all rows, by which the centres are drawn as :func:`rls_sample` draws. After a
    held-out miss, the next rank's dictionary is drawn from those scores (oversampled
    twice over for the smaller λ, as in the search) and one more pass is made.

    The dictionary never contains a row of S. A dictionary row stands for ~1/p rows and
    its own score is ~p, so rows of S in it would rarely become centres, and the held-out
    check on S would see a worse approximation than the rest of X gets (measured: about
    2x the error of the whole matrix at rank 256 of s = 1000). Needs n ≥ 2 s.
    """

    def __init__(self, kernel: Kernel, X: np.ndarray, S: np.ndarray,
                 search: _LeverageSearch, rng: np.random.Generator) -> None:
        self.kernel, self.X, self.S, self.search, self.rng = kernel, X, S, search, rng
        self.others = np.setdiff1d(np.arange(X.shape[0]), S, assume_unique=True)
        self.scores: np.ndarray | None = None  # all rows', from the last build

    def fit(self, rank: int, seed: int) -> Nystroem:
        n, s = self.X.shape[0], self.S.size
        if self.scores is None:
            rows = np.sort(self.rng.choice(self.others, s, replace=False))
            lam_s = self.search.lam
            with small_blas(s):
                p = _OVERSAMPLE * self.search.scores_of(self.kernel, self.X[self.S],
                                                        self.X[rows], lam_s)
        else:
            rows, lam_s = self.others, self.search.lam_for(rank)
            p = 2.0 * _OVERSAMPLE * self.scores[rows]
        p = np.minimum(1.0, p)
        cap = _dictionary_cap(n)
        if p.sum() > cap:  # the dictionary's expected size, capped as in _leverage
            p = np.minimum(1.0, p * (cap / p.sum()))
        keep = self.rng.random(p.shape[0]) < p
        lam = lam_s * (n / s)
        self.scores = dictionary_scores(self.kernel, self.X, lam, rows[keep],
                                        (n / rows.size) / p[keep])
        idx = sample_by_scores(self.scores, min(rank, n), self.rng)
        est = Nystroem(kernel=self.kernel, n_components=rank, sampling="rls",
                       regularization=lam, random_state=seed)
        return est._fit_rows(self.X, idx)


def _search(searches: dict[str, Any], next_rank: dict[str, int], caps: dict[str, int],
            checker: _Checker, rtol: float, n: int, d: int,
            reached: list[str]) -> tuple[str, int] | None:
    """Advance the candidates' rank searches on the subsample, cheapest next step first,
    until one meets rtol on the selection probes: (method, rank), or None when none can."""
    while next_rank:
        method = min(next_rank, key=lambda m: _cost(m, next_rank[m], n, d))
        r = next_rank[method]
        search = searches[method]
        if getattr(search, "probes", None) is not None:  # K̃ W kept up to date by the search
            err = float(checker.product_errors(search.product(r)).max())
        else:
            err = float(checker.errors(search.features(r), False, search.centres).max())
        predicted = r * (err / (_RATE_SLACK * rtol)) ** 2  # rank at rtol·slack, rate 1/sqrt(r)
        if err <= rtol:
            # if the build on all of X misses, the search resumes past this rank
            next_rank[method] = min(2 * r, caps[method]) if r < caps[method] else r
            return method, r
        if r >= caps[method] or (method == "rff-orthogonal" and r >= 2 * _START_RANK
                                 and predicted > caps[method]):
            reached.append(f"{method}: error {err:.3g} at rank {r}")
            del next_rank[method]
        else:
            next_rank[method] = min(2 * r, caps[method])
    return None


def approximate(kernel: Kernel, X: Any, rtol: float = 1e-2, task: str = "matvec", *,
                alpha: float | None = None, max_rank: int | None = None,
                random_state: Any = None) -> Approximation:
    r"""Choose and build the cheapest low-rank approximation of K(X, X) meeting ``rtol``.

    Candidates are orthogonal random Fourier features (kernels with a known spectral
    density) and Nyström with ridge-leverage-score centres (any kernel). Their ranks
    (16, 32, 64, ...) are tried on a uniform subsample of up to 1000 rows in order of
    their modelled build cost on all of X, until one meets ``rtol`` on 20 probe vectors
    against the subsample's exact kernel block (agreeing with :func:`kernelkit.matvec`
    to ~1e-15 for the compiled kernels): the cheapest that does. For Nyström the
    search's centres are left out of that error as often as a build on all of X would
    miss them. The choice is then fitted on all of X and re-checked on 20 independent
    held-out probes; if they miss ``rtol`` the rank doubles (past the rank cap, the
    search resumes without it).
    The subsample's kernel block is evaluated once and rank steps reuse earlier work; a
    Nyström build on X (n ≥ 2000) draws its centres by leverage scores continued from the
    search's dictionary in one pass over X, instead of estimating them from scratch
    (see ``docs/approx.md``). The returned ``estimator`` is then a fitted
    :class:`Nystroem` with those centres and ``regularization`` set to the λ used;
    refitting it draws new centres by its own method.

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

    def subsample(S: np.ndarray) -> tuple[_Checker, dict[str, Any], dict[str, int]]:
        """The checker and the candidates' searches on the subsample rows S."""
        XS = X[S]
        # the planner's own dense work is small (order s): one BLAS thread (see
        # small_blas); the builds on all of X run with the user's settings
        with small_blas(S.size):
            checker = _Checker(kernel, XS, task, alpha or 0.0, rng, n)
        searches: dict[str, Any] = {"nystroem-rls": _LeverageSearch(checker.K, rng)}
        caps = {"nystroem-rls": min(limit, S.size)}  # more centres than rows: exact there
        try:
            spectrum_of(kernel)
            searches["rff-orthogonal"] = _FeatureSearch(kernel, XS, rng,
                                                        checker.selection_probes)
            caps["rff-orthogonal"] = limit
        except InputTypeError:
            pass
        return checker, searches, caps

    S = np.sort(rng.choice(n, min(n, _CHECK_ROWS), replace=False))
    s = S.size
    checker, searches, caps = subsample(S)
    # cheapest step first: every candidate's next rank is tried in order of its build cost,
    # so the first one meeting rtol is the cheapest that does, and no dearer step is tried
    next_rank = {m: min(_START_RANK, caps[m]) for m in searches}
    reached: list[str] = []
    build = 0.0
    grown = False
    while True:
        with small_blas(s):
            chosen = _search(searches, next_rank, caps, checker, rtol, n, d, reached)
        if chosen is None:
            raise MemoryBudgetError(
                f"no approximation meets rtol={rtol:g} within the rank the memory budget "
                f"allows ({limit}; working_memory={get_config()['working_memory']:g} MiB): "
                + "; ".join(reached) + ". Raise working_memory, pass a larger max_rank, or "
                "loosen rtol."
            )
        if (not grown and chosen[0] == "nystroem-rls" and chosen[1] >= _GROW_AT * s
                and n >= _GROW_MIN_ROWS * s):
            # A Nyström rank that is a large fraction of the subsample: its subsample error
            # is optimistic (centres chosen among s rows only); re-check it, and redo the
            # search from it, on a subsample twice as large.
            grown = True
            rest = np.setdiff1d(np.arange(n), S, assume_unique=True)
            S = np.sort(np.concatenate([S, rng.choice(rest, s, replace=False)]))
            s = S.size
            checker, searches, caps = subsample(S)
            nys = searches["nystroem-rls"]
            with small_blas(s):  # the leverage dictionary's path up to the chosen rank
                r = _START_RANK
                while r < chosen[1]:
                    nys.features(r)
                    r *= 2
            next_rank = {m: min(r, caps[m]) for m, r in next_rank.items() if m in searches}
            next_rank["nystroem-rls"] = min(chosen[1], caps["nystroem-rls"])
            continue
        method, rank = chosen
        # build on all of X; if the held-out probes miss rtol, double the rank, and past
        # the cap resume the search without this method
        continued = (_LeverageBuild(kernel, X, S, searches[method], rng)
                     if method == "nystroem-rls" and n >= 2 * s else None)
        while True:
            t1 = time.perf_counter()
            seed = int(rng.integers(2**31 - 1))
            est = (continued.fit(rank, seed) if continued is not None
                   else _make(method, kernel, rank, seed).fit(X))
            Z = est.transform(X).astype(np.float64)
            build = time.perf_counter() - t1
            with small_blas(s):
                held = checker.errors(Z[S], True)
            error = float(held.max())
            top = min(limit, n)
            if error <= rtol or rank >= top:
                break
            rank = min(2 * rank, top)
        if error <= rtol:
            break
        reached.append(f"{method}: held-out error {error:.3g} at rank {rank}")
        next_rank.pop(method, None)
    # everything but the build of the returned features counts as planning, including
    # builds on all of X discarded because their held-out error missed rtol
    planning = time.perf_counter() - t0 - build
    return Approximation(method=method, rank=int(Z.shape[1]), error_estimate=error,
                         confidence=held.shape[0] / (held.shape[0] + 1.0),
                         n_probes=int(held.shape[0]), task=task, estimator=est, features=Z,
                         seconds={"planning": planning, "build": build})

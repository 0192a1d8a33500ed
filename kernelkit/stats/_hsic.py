"""Hilbert–Schmidt independence criterion: the statistic and the independence test.

With K = K(X, X), L = L(Y, Y), H = I - 11ᵀ/n and centred matrices K̃ = HKH, L̃ = HLH,

    HSIC_b = tr(K̃ L̃) / n² = Σ_ij K̃_ij L̃_ij / n²,   K̃_ij = K_ij - r_i - r_j + t,

where r = K1/n and t = 1ᵀK1/n². The row sums come from two engine passes; the elementwise
sum is one blocked pass over row tiles (memory O(tile), never n²). Permuting Y changes
only the elementwise sum, which has no multi-column shortcut, so:

* ``approximation="exact"`` recomputes it once per permutation (B + 1 passes; for two
  Gaussian kernels each pass is a single compiled engine call, because
  k_x(x, x') k_y(y, y') is a Gaussian on the concatenated rows [x, y] with per-feature
  bandwidths);
* ``approximation="nystrom"`` replaces both kernels by rank-r Nyström features Φ_x, Φ_y
  (landmarks drawn at random from each sample); the statistic ||Φ̃_xᵀ Φ̃_y||²_F / n² and
  all its permutations cost O(B n r²) with BLAS. The permutation test of that statistic
  is exact (valid at level α); only its power differs from the exact statistic's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from .._config import get_config
from ..exceptions import InputTypeError, ParameterError, ShapeError
from ..kernels import Gaussian
from ..kernels._base import Kernel
from ._common import (
    TestResult,
    check_alpha,
    check_choice,
    check_count,
    check_rng,
    check_samples,
    default_kernel,
    permutation_pvalue,
)
from ._dask import (
    any_dask,
    check_dask_samples,
    dask_hsic_traces,
    dask_nystrom_rows,
    dask_sums_and_diag,
)
from ._engine import Progress

__all__ = ["hsic", "hsic_test"]

#: ``approximation="auto"`` stays exact while n² (B + 1) kernel pairs stay below this.
EXACT_PAIR_BUDGET = 1e8
#: Relative eigenvalue floor of the landmark Gram matrix in the Nyström features.
NYSTROM_EIG_FLOOR = 1e-10


def _prepare(X: Any, Y: Any) -> tuple[Any, Any]:
    if any_dask(X, Y):  # both Dask (checked on the client; values checked by the tasks)
        X, Y = check_dask_samples(X, Y, min_samples=2)
    else:
        X = check_samples(X, "X", min_samples=2)
        Y = check_samples(Y, "Y", min_samples=2)
    if X.shape[0] != Y.shape[0]:
        raise ShapeError(
            f"X has {X.shape[0]} rows but Y has {Y.shape[0]}; HSIC measures dependence "
            "between paired observations (row i of X with row i of Y), so both need the "
            "same number of rows."
        )
    return X, Y


def _kernels(kernel_x: Any, kernel_y: Any, X: np.ndarray, Y: np.ndarray,
             ) -> tuple[Kernel, Kernel]:
    return default_kernel(kernel_x, X), default_kernel(kernel_y, Y)


def _gaussian_product(kx: Kernel, ky: Kernel, dx: int, dy: int) -> Kernel | None:
    """The Gaussian on [x, y] equal to k_x(x, x') k_y(y, y'), or None if not both Gaussian."""
    if type(kx) is not Gaussian or type(ky) is not Gaussian or kx._fused() is None \
            or ky._fused() is None:
        return None
    bx = np.broadcast_to(np.asarray(kx.bandwidth, dtype=np.float64), (dx,))
    by = np.broadcast_to(np.asarray(ky.bandwidth, dtype=np.float64), (dy,))
    return Gaussian(bandwidth=np.concatenate([bx, by]))


def _row_block(n: int) -> int:
    budget = get_config()["working_memory"] * 2**20
    return int(max(1, min(n, budget // (8 * 6 * max(n, 1)))))


class _Centred:
    """Row means r and grand mean t of one kernel matrix (from one engine pass)."""

    def __init__(self, kernel: Kernel, A: np.ndarray) -> None:
        self.kernel, self.A = kernel, A
        if any_dask(A):  # one distributed pass; n row sums and n diagonal values come back
            sums, diag = dask_sums_and_diag(kernel, A)
        else:
            sums, diag = ops.kernel_sum(kernel, A), kernel.diag(A)
        self.r = np.asarray(sums, dtype=np.float64) / A.shape[0]
        self.t = float(self.r.mean())
        self.diag = np.asarray(diag, dtype=np.float64)


def _blocked_sums(cx: _Centred, cy: _Centred, perm: np.ndarray | None = None,
                  squares: bool = False) -> tuple[float, float]:
    """(Σ K̃_ij L̃_π(i)π(j), Σ_{i≠j} (K̃_ij L̃_ij)²) by row tiles of dense kernel blocks."""
    n = cx.A.shape[0]
    Yp = cy.A if perm is None else cy.A[perm]
    ry = cy.r if perm is None else cy.r[perm]
    step = _row_block(n)
    total, sq = 0.0, 0.0
    for i0 in range(0, n, step):
        i1 = min(n, i0 + step)
        Kt = np.asarray(cx.kernel(cx.A[i0:i1], cx.A), dtype=np.float64)
        Kt -= cx.r[i0:i1, None] + cx.r[None, :] - cx.t
        Lt = np.asarray(cy.kernel(Yp[i0:i1], Yp), dtype=np.float64)
        Lt -= ry[i0:i1, None] + ry[None, :] - cy.t
        prod = Kt * Lt
        total += float(prod.sum())
        if squares:
            idx = np.arange(i0, i1)
            prod[idx - i0, idx] = 0.0
            sq += float(np.einsum("ij,ij->", prod, prod))
    return total, sq


def _power_kernel(cx: _Centred, cy: _Centred, p: int, q: int) -> tuple[Kernel, np.ndarray]:
    """(Gaussian, data) with k = K^p L^q elementwise (both Gaussian; p >= 1 or q >= 1)."""
    dx, dy = cx.A.shape[1], cy.A.shape[1]
    parts, cols = [], []
    for c, power, d in ((cx, p, dx), (cy, q, dy)):
        if power:
            bw = np.broadcast_to(np.asarray(c.kernel.bandwidth, dtype=np.float64), (d,))  # type: ignore[attr-defined]
            parts.append(bw / np.sqrt(power))
            cols.append(np.asarray(c.A, dtype=np.float64))
    return Gaussian(bandwidth=np.concatenate(parts)), np.concatenate(cols, axis=1)


def _gamma_sums_gaussian(cx: _Centred, cy: _Centred) -> tuple[float, float]:
    """(Σ K̃∘L̃, Σ_{i≠j} (K̃_ij L̃_ij)²) for two Gaussian kernels by engine products only.

    With K̃_ij = K_ij - a_i - a_j (a = r - t/2) and likewise L̃ with b, (K̃ L̃)² expands into
    Σ_ij G_ij u_i v_j terms where G is an elementwise power product K^p L^q — itself a
    Gaussian on the concatenated rows — so each G costs one multi-vector engine pass.
    """
    from .. import ops

    n = cx.A.shape[0]
    a, b = cx.r - cx.t / 2.0, cy.r - cy.t / 2.0
    one = np.ones(n)
    # (p, q) -> list of (coefficient, u, v): Σ_ij (K^p L^q)_ij P(i, j) = Σ c uᵀ G v.
    terms: dict[tuple[int, int], list[tuple[float, np.ndarray, np.ndarray]]] = {
        (2, 2): [(1.0, one, one)],
        (2, 1): [(-4.0, one, b)],
        (2, 0): [(2.0, one, b * b), (2.0, b, b)],
        (1, 2): [(-4.0, one, a)],
        (1, 1): [(8.0, one, a * b), (8.0, a, b)],
        (1, 0): [(-4.0, one, a * b * b), (-8.0, a * b, b), (-4.0, a, b * b)],
        (0, 2): [(2.0, one, a * a), (2.0, a, a)],
        (0, 1): [(-4.0, one, a * a * b), (-8.0, a * b, a), (-4.0, b, a * a)],
    }
    total_sq = 0.0
    for (p, q), items in terms.items():
        kern, Z = _power_kernel(cx, cy, p, q)
        GV = np.asarray(ops.matvec(kern, Z, Z, np.stack([v for _, _, v in items], axis=1)))
        total_sq += sum(c * float(u @ GV[:, k]) for k, (c, u, _) in enumerate(items))
    S = lambda f: float(np.sum(f))  # noqa: E731
    total_sq += (2 * n * S(a * a * b * b) + 4 * S(a * a * b) * S(b)
                 + 2 * S(a * a) * S(b * b) + 4 * S(a * b * b) * S(a) + 4 * S(a * b) ** 2)
    q_diag = (cx.diag - 2.0 * a) * (cy.diag - 2.0 * b)  # Q_ii = K̃_ii L̃_ii
    return _trace_centred(cx, cy), total_sq - float(q_diag @ q_diag)


def _trace_centred(cx: _Centred, cy: _Centred, perm: np.ndarray | None = None) -> float:
    """Σ_ij K̃_ij L̃_π(i)π(j) = Σ K∘L_π - 2n rxᵀ ry_π + n² tx ty, by the fastest route."""
    n = cx.A.shape[0]
    if any_dask(cx.A):
        return float(_dask_traces(cx, cy, [np.arange(n) if perm is None else perm])[0])
    prod = _gaussian_product(cx.kernel, cy.kernel, cx.A.shape[1], cy.A.shape[1])
    if prod is None:
        return _blocked_sums(cx, cy, perm)[0]
    Yp = cy.A if perm is None else cy.A[perm]
    ry = cy.r if perm is None else cy.r[perm]
    dtype = np.result_type(cx.A.dtype, cy.A.dtype)
    Z = np.concatenate([cx.A.astype(dtype, copy=False), Yp.astype(dtype, copy=False)], axis=1)
    kl = float(np.sum(ops.kernel_sum(prod, Z), dtype=np.float64))
    return kl - 2.0 * n * float(cx.r @ ry) + n * n * cx.t * cy.t


def _dask_traces(cx: _Centred, cy: _Centred, perms: list[np.ndarray]) -> np.ndarray:
    """Σ_ij K̃_ij L̃_π(i)π(j) for each π, one task per row chunk covering every π.

    X, Y, the row means and the permutation indices are placed on the cluster once. For
    two Gaussians each task makes one engine call per π (the product Gaussian on [x, y],
    as in memory) and the centring is closed-form here; otherwise dense centred row tiles.
    """
    n = cx.A.shape[0]
    prod = _gaussian_product(cx.kernel, cy.kernel, cx.A.shape[1], cy.A.shape[1])
    P = np.stack(perms).astype(np.int64, copy=False)
    traces = dask_hsic_traces(cx.kernel, cy.kernel, cx.A, cy.A, cx.r, cy.r, P, prod)
    if prod is None:
        return traces
    cross = np.array([float(cx.r @ cy.r[p]) for p in perms])
    return traces - 2.0 * n * cross + n * n * cx.t * cy.t


def hsic(X: Any, Y: Any, kernel_x: Kernel | None = None,
         kernel_y: Kernel | None = None) -> float:
    r"""Biased HSIC estimate ``tr(K H L H) / n²`` between paired samples.

    Parameters
    ----------
    X : array-like or dask array of shape (n_samples, n_features_x)
    Y : array-like or dask array of shape (n_samples, n_features_y)
        Row i of Y is paired with row i of X. Both in memory or both Dask arrays
        (row-chunked; else ``InputTypeError``): the passes then run on the cluster.
    kernel_x, kernel_y : Kernel, default=None
        None means a Gaussian with the median heuristic on that sample.

    Returns
    -------
    hsic : float
        HSIC_b >= 0 (in float64); 0 iff the centred kernel matrices are orthogonal.

    Notes
    -----
    O(n²) kernel evaluations, memory O(n d + tile): two engine passes for the row sums and
    one pass for the elementwise sum (a single compiled engine call when both kernels are
    Gaussian; dense row tiles of ``working_memory`` size otherwise).

    References
    ----------
    .. [1] A. Gretton, O. Bousquet, A. Smola, B. Schölkopf, "Measuring Statistical
       Dependence with Hilbert-Schmidt Norms", ALT 2005.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.stats import hsic
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 1))
    >>> hsic(X, np.sin(3 * X)) > 10 * hsic(X, rng.normal(size=(300, 1)))
    True
    """
    X, Y = _prepare(X, Y)
    kx, ky = _kernels(kernel_x, kernel_y, X, Y)
    n = X.shape[0]
    return _trace_centred(_Centred(kx, X), _Centred(ky, Y)) / n**2


# ------------------------------------------------------------------------- Nyström
def nystrom_features(kernel: Kernel, A: np.ndarray, n_components: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Column-centred rank-r Nyström features Φ (n, r') with ΦΦᵀ ≈ HKH (r' <= r)."""
    n = A.shape[0]
    r = min(n_components, n)
    land = A[np.sort(rng.choice(n, r, replace=False))]
    if any_dask(A):  # r landmark rows come to the client
        land = np.asarray(land.compute())
    Kmm = np.asarray(kernel(land, land), dtype=np.float64)
    w, U = np.linalg.eigh(0.5 * (Kmm + Kmm.T))
    keep = w > NYSTROM_EIG_FLOOR * max(float(w.max()), 0.0)
    if not np.any(keep):
        raise ParameterError(f"the kernel {kernel!r} is numerically zero on the landmarks; "
                             "choose a larger bandwidth.")
    proj = U[:, keep] / np.sqrt(w[keep])
    if any_dask(A):  # K(A, landmarks) @ proj: one task per row chunk, (n, r') gathered
        Phi = dask_nystrom_rows(kernel, A, land, proj)
    else:
        Phi = np.asarray(kernel(A, land), dtype=np.float64) @ proj
    Phi -= Phi.mean(axis=0)
    return Phi


def _nystrom_stats(Px: np.ndarray, Py: np.ndarray, perms: list[np.ndarray],
                   progress: Progress | None) -> np.ndarray:
    """||Φ_xᵀ Φ_y[π]||² / n² for the identity and each permutation.

    The small GEMMs run with single-threaded BLAS, one permutation group per engine worker
    (multi-threaded BLAS on r × r outputs spins and is many times slower on busy cores).
    """
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    from .._config import effective_n_jobs

    n = Px.shape[0]
    all_perms = [np.arange(n)] + perms
    out = np.empty(len(all_perms))
    PxT = np.ascontiguousarray(Px.T)
    done = [0]

    def work(idx: range) -> None:
        for b in idx:
            out[b] = np.sum((PxT @ Py[all_perms[b]]) ** 2) / n**2
            done[0] += 1
            if progress is not None:
                progress(min(done[0], len(perms)), len(perms))

    jobs = max(1, min(effective_n_jobs(), len(all_perms)))
    chunks = [range(j, len(all_perms), jobs) for j in range(jobs)]
    with threadpool_limits(1, user_api="blas"):
        if jobs == 1:
            work(chunks[0])
        else:
            with ThreadPoolExecutor(jobs) as pool:
                list(pool.map(work, chunks))
    return out


def _exact_stats(cx: _Centred, cy: _Centred, perms: list[np.ndarray],
                 progress: Progress | None) -> np.ndarray:
    """Exact HSIC_b for the identity and each permutation of Y's rows.

    When both centred Gram matrices fit in half the ``working_memory`` budget they are
    formed once (that *is* the tile) and each permutation is a gathered elementwise sum;
    otherwise every permutation is one streamed pass (:func:`_trace_centred`).
    """
    n = cx.A.shape[0]
    if any_dask(cx.A):
        out = _dask_traces(cx, cy, [np.arange(n)] + perms) / n**2
        if progress is not None:
            progress(len(perms), len(perms))
        return out
    out = np.empty(len(perms) + 1)
    dense = 2 * 8 * n * n <= get_config()["working_memory"] * 2**20 / 2
    if dense:
        Kc = np.asarray(cx.kernel(cx.A), dtype=np.float64)
        Kc -= cx.r[:, None] + cx.r[None, :] - cx.t
        Lc = np.asarray(cy.kernel(cy.A), dtype=np.float64)
        Lc -= cy.r[:, None] + cy.r[None, :] - cy.t
        out[0] = np.einsum("ij,ij->", Kc, Lc)
    else:
        out[0] = _trace_centred(cx, cy)
    for b, p in enumerate(perms, start=1):
        out[b] = np.einsum("ij,ij->", Kc, Lc[np.ix_(p, p)]) if dense \
            else _trace_centred(cx, cy, p)
        if progress is not None:
            progress(b, len(perms))
    return out / n**2


# ------------------------------------------------------------------------- the test
def hsic_test(X: Any, Y: Any, kernel_x: Kernel | None = None, kernel_y: Kernel | None = None,
              method: str = "permutation", *, n_permutations: int = 200,
              alpha: float = 0.05, random_state: Any = None, approximation: str = "auto",
              n_components: int = 100, progress: Progress | None = None) -> TestResult:
    r"""Kernel independence test of ``H0: X and Y are independent`` (paired rows).

    Parameters
    ----------
    X : array-like or dask array of shape (n_samples, n_features_x)
    Y : array-like or dask array of shape (n_samples, n_features_y)
        Both in memory or both Dask arrays (row-chunked; else ``InputTypeError``). For
        Dask samples the permutation indices, row means and Nyström landmarks stay on
        the client and are placed on the cluster once; exact permutations run as one
        task per row chunk covering every permutation, Nyström features as one task per
        row chunk (the (n, r) features then come to the client). ``method="gamma"``
        does not take Dask samples.
    kernel_x, kernel_y : Kernel, default=None
        None means a Gaussian with the median heuristic on that sample.
    method : {"permutation", "gamma"}, default="permutation"
        ``"permutation"``: the null distribution of HSIC from ``n_permutations``
        permutations of the rows of Y. ``"gamma"``: Gretton et al.'s (2008) two-moment
        Gamma approximation of the null of ``n HSIC_b`` (no permutations; one O(n²)
        blocked pass; approximate level, good for moderate n and smooth kernels).
    n_permutations : int, default=200
    alpha : float, default=0.05
    random_state : None, int or numpy Generator, default=None
        Seeds the permutations and the Nyström landmarks.
    approximation : {"auto", "exact", "nystrom"}, default="auto"
        Permutation method only. ``"exact"``: the exact HSIC_b, recomputed for every
        permutation (cost (B + 1) n² kernel pairs). ``"nystrom"``: HSIC of rank
        ``n_components`` Nyström features of both kernels; statistic and permutations
        cost O(B n r²) — a valid permutation test of a slightly different statistic.
        ``"auto"``: exact while n² (B + 1) <= 1e8 pairs, else Nyström. Exact
        permutations use the two centred Gram matrices directly when both fit in half
        of ``working_memory`` (n <= ~2900 at the default 256 MiB), else one streamed
        pass per permutation.
    n_components : int, default=100
        Nyström rank r (landmarks per sample).
    progress : callable, default=None
        ``progress(done, total)`` over permutations.

    Returns
    -------
    result : TestResult
        ``statistic`` is HSIC_b (or its Nyström version; ``details["approximation"]``
        says which), ``null_samples`` the permuted statistics (empty for ``"gamma"``;
        ``details`` then holds the Gamma shape and scale of ``n HSIC_b``).

    References
    ----------
    .. [1] A. Gretton, K. Fukumizu, C. H. Teo, L. Song, B. Schölkopf, A. Smola, "A Kernel
       Statistical Test of Independence", NeurIPS 2008.
    .. [2] Q. Zhang, S. Filippi, A. Gretton, D. Sejdinovic, "Large-scale kernel methods
       for independence testing", Statistics and Computing 28, 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.stats import hsic_test
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-2, 2, size=(200, 1))
    >>> Y = np.sin(2 * X) + 0.3 * rng.normal(size=(200, 1))
    >>> bool(hsic_test(X, Y, n_permutations=100, random_state=0).reject)
    True
    >>> bool(hsic_test(X, Y, method="gamma").reject)
    True
    """
    method = check_choice(method, "method", ("permutation", "gamma"))
    approximation = check_choice(approximation, "approximation", ("auto", "exact", "nystrom"))
    n_perm = check_count(n_permutations, "n_permutations")
    n_comp = check_count(n_components, "n_components")
    alpha = check_alpha(alpha)
    X, Y = _prepare(X, Y)
    kx, ky = _kernels(kernel_x, kernel_y, X, Y)
    n = X.shape[0]
    rng = check_rng(random_state)
    if method == "gamma":
        if any_dask(X):
            raise InputTypeError(
                "method='gamma' does not take Dask arrays (its second moment is not "
                "distributed); use method='permutation' on Dask samples, or compute X "
                "and Y into memory.")
        return _gamma_test(kx, ky, X, Y, alpha)
    if approximation == "auto":
        approximation = "exact" if n * n * (n_perm + 1) <= EXACT_PAIR_BUDGET else "nystrom"
    perms = [rng.permutation(n) for _ in range(n_perm)]
    if approximation == "nystrom":
        Px = nystrom_features(kx, X, n_comp, rng)
        Py = nystrom_features(ky, Y, n_comp, rng)
        stats = _nystrom_stats(Px, Py, perms, progress)
    else:
        stats = _exact_stats(_Centred(kx, X), _Centred(ky, Y), perms, progress)
    stat, null = float(stats[0]), stats[1:]
    pvalue = permutation_pvalue(stat, null)
    details: dict[str, Any] = {"approximation": approximation, "n_samples": n}
    if approximation == "nystrom":
        details["n_components"] = [int(Px.shape[1]), int(Py.shape[1])]
    return TestResult(statistic=stat, pvalue=pvalue, reject=pvalue <= alpha, alpha=alpha,
                      null_samples=null, kernel=[kx, ky], method="permutation",
                      details=details)


def gamma_parameters(cx: _Centred, cy: _Centred) -> tuple[float, float, float]:
    """(HSIC_b, shape, scale) of the Gamma null of ``n HSIC_b`` (Gretton et al. 2008)."""
    n = cx.A.shape[0]
    if n < 6:
        raise ParameterError(f"the Gamma approximation needs at least 6 samples (got {n}); "
                             "use method='permutation'.")
    if _gaussian_product(cx.kernel, cy.kernel, cx.A.shape[1], cy.A.shape[1]) is not None:
        total, sq = _gamma_sums_gaussian(cx, cy)
    else:
        total, sq = _blocked_sums(cx, cy, squares=True)
    stat = total / n**2
    var = (sq / 36.0) / (n * (n - 1))
    var *= 72.0 * (n - 4) * (n - 5) / (n * (n - 1) * (n - 2) * (n - 3))
    mu_x = (n * n * cx.t - cx.diag.sum()) / (n * (n - 1))
    mu_y = (n * n * cy.t - cy.diag.sum()) / (n * (n - 1))
    mean = (cx.diag.mean() - mu_x) * (cy.diag.mean() - mu_y) / n
    if not (mean > 0 and var > 0):
        raise ParameterError("the Gamma approximation is degenerate for these data and "
                             "kernels (zero null mean or variance, e.g. constant data); "
                             "use method='permutation' or other kernels.")
    shape = mean * mean / var
    scale = var * n / mean
    return stat, float(shape), float(scale)


def _gamma_test(kx: Kernel, ky: Kernel, X: np.ndarray, Y: np.ndarray,
                alpha: float) -> TestResult:
    from scipy import stats as sps

    n = X.shape[0]
    stat, shape, scale = gamma_parameters(_Centred(kx, X), _Centred(ky, Y))
    pvalue = float(sps.gamma.sf(n * stat, shape, scale=scale))
    threshold = float(sps.gamma.ppf(1 - alpha, shape, scale=scale)) / n
    return TestResult(statistic=stat, pvalue=pvalue, reject=pvalue <= alpha, alpha=alpha,
                      null_samples=np.empty(0), kernel=[kx, ky], method="gamma",
                      details={"shape": shape, "scale": scale, "threshold": threshold,
                               "n_samples": n})

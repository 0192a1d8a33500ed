"""Maximum mean discrepancy: the estimate, a reference-sample helper and the two-sample test.

Notation: Z = [X; Y] pooled (N = n_x + n_y rows), K = K(Z, Z), and for a labelling of Z a
0/1 vector p marking the rows labelled "X" (q = 1 - p). With t = 1ᵀK1, a = pᵀKp,
c = pᵀK1 and the diagonal sums δ_p = Σ p_i k_ii, δ_q = Σ q_i k_ii:

    pᵀKq = c - a,   qᵀKq = t - 2c + a,
    MMD²_b = a / n_x² + (t - 2c + a) / n_y² - 2 (c - a) / (n_x n_y),
    MMD²_u = (a - δ_p) / (n_x (n_x - 1)) + (t - 2c + a - δ_q) / (n_y (n_y - 1))
             - 2 (c - a) / (n_x n_y).

So every permutation needs only a = pᵀKp and c = pᵀK1: one engine product K [1, P] with P
of shape (N, B) evaluates all B permutations in one pass over the kernel matrix.

The sums are taken row by row with the cross term split symmetrically
(:func:`mmd_row_terms`): row i of Z labelled X contributes α (Kp_i − k_ii) − γ Kq_i, and
labelled Y β (Kq_i − k_ii) − γ Kp_i — values of the witness function μ_X − μ_Y divided by
n, which cancel far less than a, c and t. A row's term does not depend on the other rows,
so the same terms are computed by one Dask task per row chunk for Dask samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._optional import import_optional
from ..exceptions import ParameterError
from ..kernels import Gaussian, Laplace
from ..kernels._base import Kernel
from ._common import (
    TestResult,
    check_alpha,
    check_choice,
    check_count,
    check_kernel,
    check_rng,
    check_same_features,
    check_samples,
    check_weights,
    common_dtype,
    default_kernel,
    permutation_pvalue,
)
from ._dask import any_dask, check_dask_samples, dask_mmd_stats
from ._engine import Progress, kernel_diagonal_sum, kernel_product

__all__ = ["mmd", "mmd_test", "MMDReference"]

ESTIMATORS = ("unbiased", "biased", "linear")
#: Pairs per block in the linear-time estimator (k(a_i, b_i) read off block diagonals).
_LINEAR_BLOCK = 256


def _prepare(X: Any, Y: Any, min_samples: int) -> tuple[Any, Any]:
    if any_dask(X, Y):  # both Dask (checked on the client; values checked by the tasks)
        X, Y = check_dask_samples(X, Y, min_samples=min_samples)
        check_same_features(X, Y)
        dtype = common_dtype(X, Y)
        return X.astype(dtype, copy=False), Y.astype(dtype, copy=False)
    X = check_samples(X, "X", min_samples=min_samples)
    Y = check_samples(Y, "Y", min_samples=min_samples)
    check_same_features(X, Y)
    dtype = common_dtype(X, Y)
    return X.astype(dtype, copy=False), Y.astype(dtype, copy=False)


def _self_term(kernel: Kernel, A: np.ndarray, w: np.ndarray, unbiased: bool) -> float:
    """Σ_ij w_i w_j k(a_i, a_j) (biased) or its off-diagonal, renormalised version."""
    quad = float(np.dot(w, kernel_product(kernel, A, A, w.astype(A.dtype)[:, None])[:, 0]))
    if not unbiased:
        return quad
    diag = kernel_diagonal_sum(kernel, A, w * w)
    return (quad - diag) / (1.0 - float(np.dot(w, w)))


def _cross_term(kernel: Kernel, A: np.ndarray, B: np.ndarray, wa: np.ndarray,
                wb: np.ndarray) -> float:
    return float(np.dot(wa, kernel_product(kernel, A, B, wb.astype(B.dtype)[:, None])[:, 0]))


def _paired_kernel(kernel: Kernel, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """k(a_i, b_i) for each row i (block diagonals of small dense tiles)."""
    out = np.empty(A.shape[0])
    for i0 in range(0, A.shape[0], _LINEAR_BLOCK):
        i1 = min(A.shape[0], i0 + _LINEAR_BLOCK)
        out[i0:i1] = np.diagonal(np.asarray(kernel(A[i0:i1], B[i0:i1]), dtype=np.float64))
    return out


def _linear_terms(W: np.ndarray, *, kernel: Kernel) -> np.ndarray:
    """h_i of the linear estimator for rows W = [x1, x2, y1, y2] (one task per chunk)."""
    x1, x2, y1, y2 = np.split(W, 4, axis=1)
    return (_paired_kernel(kernel, x1, x2) + _paired_kernel(kernel, y1, y2)
            - _paired_kernel(kernel, x1, y2) - _paired_kernel(kernel, x2, y1))


def _linear_mmd(kernel: Kernel, X: Any, Y: Any) -> float:
    m = min(X.shape[0], Y.shape[0]) // 2
    x1, x2, y1, y2 = X[0:2 * m:2], X[1:2 * m:2], Y[0:2 * m:2], Y[1:2 * m:2]
    if any_dask(X):
        from ..distributed import map_row_chunks

        da = import_optional("dask.array")
        W = da.concatenate([x1, x2, y1, y2], axis=1)
        terms = map_row_chunks(_linear_terms, W, dtype=np.float64, kernel=kernel,
                               name="kernelkit-linear-mmd")
        return float(np.mean(terms.compute()))
    h = (_paired_kernel(kernel, x1, x2) + _paired_kernel(kernel, y1, y2)
         - _paired_kernel(kernel, x1, y2) - _paired_kernel(kernel, x2, y1))
    return float(h.mean())


def mmd(X: Any, Y: Any, kernel: Kernel | None = None, estimator: str = "unbiased", *,
        weights_x: Any = None, weights_y: Any = None) -> float:
    r"""Squared maximum mean discrepancy between two samples, streamed through the engine.

    .. math::

        \mathrm{MMD}^2 = \mathbb{E}\,k(x, x') + \mathbb{E}\,k(y, y') - 2\,\mathbb{E}\,k(x, y)

    Parameters
    ----------
    X : array-like or dask array of shape (n_x, n_features)
    Y : array-like or dask array of shape (n_y, n_features)
        Both in memory or both Dask arrays (row-chunked): then the kernel products run
        on the cluster, one task per row chunk (see ``docs/stats.md``, "On a Dask
        cluster"); one Dask and one in-memory sample raise ``InputTypeError``.
    kernel : Kernel, default=None
        None means a :class:`~kernelkit.kernels.Gaussian` whose bandwidth is the median
        pairwise distance of the pooled sample (see :func:`median_heuristic`).
    estimator : {"unbiased", "biased", "linear"}, default="unbiased"
        ``"unbiased"``: the U-statistic (diagonal terms dropped; may be negative).
        ``"biased"``: the V-statistic ``||μ_X - μ_Y||²`` (always >= 0).
        ``"linear"``: Gretton et al.'s linear-time estimate over ``min(n_x, n_y) // 2``
        disjoint pairs (O(n) time, high variance).
    weights_x, weights_y : array-like of shape (n_x,) / (n_y,), default=None
        Non-negative sample weights (normalised to sum to one); None means uniform.
        With weights the biased estimator is ``||Σ w_i φ(x_i) - Σ v_j φ(y_j)||²``; the
        unbiased one drops the diagonal terms and divides the within-sample sums by
        ``1 - Σ w_i²`` (the uniform case gives the usual U-statistic). Not available for
        ``"linear"``.

    Returns
    -------
    mmd2 : float
        The squared MMD estimate (in float64).

    Notes
    -----
    Cost O((n_x + n_y)² d) kernel evaluations in three engine calls; memory
    O((n_x + n_y) d). To compare many subsets with one large sample, use
    :class:`MMDReference`, which caches the large sample's self-term.

    References
    ----------
    .. [1] A. Gretton, K. Borgwardt, M. Rasch, B. Schölkopf, A. Smola, "A Kernel
       Two-Sample Test", JMLR 13, 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian
    >>> from kernelkit.stats import mmd
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(200, 2)), rng.normal(1.0, size=(200, 2))
    >>> mmd(X, Y, Gaussian(bandwidth=1.0)) > 0.1
    True
    >>> abs(mmd(X, rng.normal(size=(200, 2)), Gaussian(bandwidth=1.0))) < 0.02
    True
    """
    estimator = check_choice(estimator, "estimator", ESTIMATORS)
    X, Y = _prepare(X, Y, 2)
    kernel = default_kernel(kernel, X, Y)
    if estimator == "linear":
        if weights_x is not None or weights_y is not None:
            raise ParameterError("weights are not supported by the linear-time estimator; "
                                 "use estimator='biased' or 'unbiased'.")
        if min(X.shape[0], Y.shape[0]) < 2:
            raise ParameterError("the linear estimator needs at least 2 samples of each.")
        return _linear_mmd(kernel, X, Y)
    wx = check_weights(weights_x, X.shape[0], "weights_x")
    wy = check_weights(weights_y, Y.shape[0], "weights_y")
    wx = np.full(X.shape[0], 1.0 / X.shape[0]) if wx is None else wx
    wy = np.full(Y.shape[0], 1.0 / Y.shape[0]) if wy is None else wy
    unbiased = estimator == "unbiased"
    for w, name in ((wx, "weights_x"), (wy, "weights_y")):
        if unbiased and np.dot(w, w) >= 1.0 - 1e-12:
            raise ParameterError(f"{name} puts all mass on one sample, so the unbiased "
                                 "estimator is undefined; use estimator='biased'.")
    if any_dask(X):
        return _dask_mmd(kernel, X, Y, wx, wy, unbiased)
    return (_self_term(kernel, X, wx, unbiased) + _self_term(kernel, Y, wy, unbiased)
            - 2.0 * _cross_term(kernel, X, Y, wx, wy))


def _dask_mmd(kernel: Kernel, X: Any, Y: Any, wx: np.ndarray, wy: np.ndarray,
              unbiased: bool) -> float:
    """:func:`mmd` on Dask samples: the three engine passes (and the diagonals) in one
    ``dask.compute``; the n-vectors come back and are combined exactly as in memory."""
    from .. import ops
    from ..distributed import map_row_chunks
    from ._dask import _diag_task

    dask = import_optional("dask")
    lazy = [ops.matvec(kernel, X, X, wx.astype(X.dtype)[:, None]),
            ops.matvec(kernel, Y, Y, wy.astype(Y.dtype)[:, None]),
            ops.matvec(kernel, X, Y, wy.astype(Y.dtype)[:, None])]
    if unbiased:
        lazy += [map_row_chunks(_diag_task, A, dtype=np.float64, kernel=kernel,
                                name="kernelkit-diag") for A in (X, Y)]
    out = [np.asarray(v, dtype=np.float64) for v in dask.compute(*lazy)]
    terms = [float(np.dot(w, v[:, 0])) for w, v in zip((wx, wy, wx), out[:3], strict=True)]
    if unbiased:
        for k, (w, d) in enumerate(((wx, out[3]), (wy, out[4]))):
            terms[k] = (terms[k] - float(np.dot(d, w * w))) / (1.0 - float(np.dot(w, w)))
    return terms[0] + terms[1] - 2.0 * terms[2]


class MMDReference:
    """MMD to one fixed (large) reference sample, with its self-term computed once.

    ``MMDReference(Y, kernel).mmd(X)`` equals ``mmd(X, Y, kernel, "biased")`` but costs
    only O(n_x (n_x + n_y)) per call after an O(n_y²) set-up: the tool for scoring many
    candidate subsets (coresets, thinning) against the full sample.

    Parameters
    ----------
    Y : array-like of shape (n_y, n_features)
        The reference sample.
    kernel : Kernel, default=None
        None means a Gaussian with the median heuristic on ``Y``.
    weights : array-like of shape (n_y,), default=None
        Non-negative weights of the reference points (normalised); None means uniform.

    Attributes
    ----------
    kernel_ : Kernel
        The kernel used.
    self_term_ : float
        ``Σ_ij w_i w_j k(y_i, y_j)``, the squared norm of the reference mean embedding.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian
    >>> from kernelkit.stats import MMDReference, mmd
    >>> X = np.random.default_rng(0).normal(size=(300, 2))
    >>> ref = MMDReference(X, Gaussian(bandwidth=1.0))
    >>> idx = np.arange(0, 300, 10)
    >>> bool(np.isclose(ref.mmd(X[idx]), mmd(X[idx], X, Gaussian(bandwidth=1.0), "biased")))
    True
    """

    def __init__(self, Y: Any, kernel: Kernel | None = None, *, weights: Any = None) -> None:
        Y = check_samples(Y, "Y", min_samples=1)
        self.Y_ = Y
        self.kernel_ = default_kernel(kernel, Y)
        w = check_weights(weights, Y.shape[0], "weights")
        self.weights_ = np.full(Y.shape[0], 1.0 / Y.shape[0]) if w is None else w
        self.self_term_ = _self_term(self.kernel_, Y, self.weights_, unbiased=False)

    def mmd(self, X: Any, weights: Any = None) -> float:
        """Biased squared MMD between ``X`` (optionally weighted) and the reference.

        Parameters
        ----------
        X : array-like of shape (n_x, n_features)
        weights : array-like of shape (n_x,), default=None

        Returns
        -------
        mmd2 : float
        """
        X = check_samples(X, "X", min_samples=1)
        check_same_features(X, self.Y_, "X and the reference sample")
        w = check_weights(weights, X.shape[0], "weights")
        w = np.full(X.shape[0], 1.0 / X.shape[0]) if w is None else w
        Y = self.Y_
        if X.dtype != Y.dtype:
            X, Y = X.astype(np.float64), Y.astype(np.float64)
        return (_self_term(self.kernel_, X, w, unbiased=False) + self.self_term_
                - 2.0 * _cross_term(self.kernel_, X, Y, w, self.weights_))


# ------------------------------------------------------------------------- the test
def _label_matrix(rng: np.random.Generator, nx: int, ny: int, n_perm: int,
                  dtype: np.dtype) -> np.ndarray:
    """(N, 1 + n_perm) 0/1 matrix: column 0 the observed labels, then random permutations."""
    labels = np.concatenate([np.ones(nx, dtype=dtype), np.zeros(ny, dtype=dtype)])
    P = np.empty((nx + ny, 1 + n_perm), dtype=dtype)
    P[:, 0] = labels
    if n_perm:
        P[:, 1:] = rng.permuted(np.broadcast_to(labels, (n_perm, nx + ny)), axis=1).T
    return P


def _pool(X: Any, Y: Any) -> Any:
    """The pooled sample [X; Y] (a Dask array for Dask samples)."""
    if any_dask(X, Y):
        return import_optional("dask.array").concatenate([X, Y], axis=0)
    return np.concatenate([X, Y])


#: Rows per block when the per-row MMD terms are formed in memory (bounds temporaries).
_TERM_BLOCK = 4096


def mmd_row_terms(KV: np.ndarray, P: np.ndarray, diag: np.ndarray | None, nx: int,
                  ny: int) -> np.ndarray:
    """Per-row terms g (rows, B+1) whose column sums are the MMD² of each labelling.

    ``KV`` is ``K(Z[rows], Z) [1, P]`` (float64), ``P`` the rows' 0/1 labels, ``diag``
    their k(z_i, z_i) (None: biased). With Kp = K p and Kq = K 1 - Kp, row i contributes
    ``α (Kp_i - k_ii) - γ Kq_i`` when labelled X and ``β (Kq_i - k_ii) - γ Kp_i`` when
    labelled Y (α, β, γ: 1/n_x², 1/n_y², 1/(n_x n_y) biased; 1/(n_x(n_x-1)),
    1/(n_y(n_y-1)), 1/(n_x n_y) unbiased). This is the module's formula with the cross
    term split symmetrically: each term is a value of the witness function μ_X - μ_Y
    over n, so the sum over rows cancels little (its rounding is relative to the witness,
    not to the kernel values), and a row's term is the same in memory and in a Dask task.
    """
    unbiased = diag is not None
    alpha = 1.0 / (nx * (nx - 1)) if unbiased else 1.0 / nx**2
    beta = 1.0 / (ny * (ny - 1)) if unbiased else 1.0 / ny**2
    gamma = 1.0 / (nx * ny)
    Kp = KV[:, 1:]
    Kq = KV[:, :1] - Kp
    d = 0.0 if diag is None else diag[:, None]
    return np.where(P.astype(bool), alpha * (Kp - d) - gamma * Kq,
                    beta * (Kq - d) - gamma * Kp)


def _permuted_mmds(kernel: Kernel, Z: Any, P: np.ndarray, nx: int, ny: int,
                   unbiased: bool, progress: Progress | None) -> np.ndarray:
    """MMD² for every labelling column of P, with one engine pass K [1, P]."""
    if any_dask(Z):  # one task per row chunk; P and Z placed on the cluster once
        out = dask_mmd_stats(kernel, Z, P, nx, ny, unbiased)
        if progress is not None:
            progress(Z.shape[0], Z.shape[0])
        return out
    V = np.concatenate([np.ones((Z.shape[0], 1), dtype=P.dtype), P], axis=1)
    KV = kernel_product(kernel, Z, Z, V, progress)
    diag = np.asarray(kernel.diag(Z), dtype=np.float64) if unbiased else None
    out = np.zeros(P.shape[1])
    for i0 in range(0, Z.shape[0], _TERM_BLOCK):
        i1 = min(Z.shape[0], i0 + _TERM_BLOCK)
        out += mmd_row_terms(KV[i0:i1], P[i0:i1], None if diag is None else diag[i0:i1],
                             nx, ny).sum(axis=0)
    return out


def mmd_test(X: Any, Y: Any, kernel: Kernel | list[Kernel] | None = None,
             method: str = "permutation", *, n_permutations: int | None = None,
             alpha: float = 0.05, estimator: str = "unbiased", random_state: Any = None,
             n_bandwidths: int = 10, n_permutations_level: int | None = None,
             progress: Progress | None = None) -> TestResult:
    r"""Kernel two-sample test of ``H0: X and Y come from the same distribution``.

    All permutations are evaluated together: with the pooled sample Z = [X; Y] and a 0/1
    label matrix P of shape (N, n_permutations + 1), one engine product ``K(Z, Z) [1, P]``
    gives every permuted MMD² (see the module notes). Memory O(N (d + n_permutations)).

    Parameters
    ----------
    X : array-like or dask array of shape (n_x, n_features)
    Y : array-like or dask array of shape (n_y, n_features)
        Both in memory or both Dask arrays (row-chunked; else ``InputTypeError``). For
        Dask samples the label matrix stays on the client and is placed on the cluster
        once with the pooled sample; the pass ``K [1, P]`` runs as one task per row
        chunk, and the result equals the in-memory one for the same ``random_state``.
    kernel : Kernel or list of Kernel, default=None
        ``method="permutation"``: one kernel; None means a Gaussian with the median
        heuristic. ``method="aggregated"``: the collection to aggregate over; None means
        Gaussian and Laplace kernels with ``n_bandwidths`` bandwidths each, geometrically
        spaced from half the smallest to twice the largest inter-sample distance (the
        MMDAgg collection, computed on at most 500 rows of each sample).
    method : {"permutation", "aggregated"}, default="permutation"
        ``"aggregated"`` is MMDAgg [2]: one permutation test per kernel, combined with
        the level correction u_α found by bisection so the aggregate has level α.
    n_permutations : int, default=None
        Permutations B; None means 200 for ``"permutation"`` and 500 for
        ``"aggregated"`` (there B1, the permutations estimating each kernel's quantiles;
        the per-kernel thresholds are about α / |Λ|, so B1 must be well above
        |Λ| / α for the test to have power — the MMDAgg paper uses 2000).
    alpha : float, default=0.05
        Level of the test.
    estimator : {"unbiased", "biased"}, default="unbiased"
        MMD² estimator used as the statistic (``"aggregated"`` always uses unbiased).
    random_state : None, int or numpy Generator, default=None
        Seed of the permutations.
    n_bandwidths : int, default=10
        Bandwidths per kernel family in the default MMDAgg collection.
    n_permutations_level : int, default=None
        ``"aggregated"`` only: permutations B2 estimating the level correction; None
        means ``n_permutations``.
    progress : callable, default=None
        ``progress(done_rows, total_rows)`` called as the engine pass advances.

    Returns
    -------
    result : TestResult
        ``statistic`` is the MMD² estimate and ``null_samples`` the permuted MMD²
        values. For ``"aggregated"``: ``statistic`` is the smallest weighted per-kernel
        p-value ``min_λ p_λ / (|Λ| w_λ)`` (small is evidence against H0),
        ``null_samples`` its values on the B2 level-estimation permutations, ``pvalue``
        the rank of the statistic among them, ``reject`` MMDAgg's decision (it matches
        ``pvalue <= alpha`` up to the discreteness of the quantiles), and ``details``
        holds per-kernel MMD², quantiles, p-values and u_α.

    References
    ----------
    .. [1] A. Gretton et al., "A Kernel Two-Sample Test", JMLR 13, 2012.
    .. [2] A. Schrab, I. Kim, M. Albert, B. Laurent, B. Guedj, A. Gretton, "MMD
       Aggregated Two-Sample Test", JMLR 24, 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.stats import mmd_test
    >>> rng = np.random.default_rng(0)
    >>> X, Y = rng.normal(size=(150, 2)), rng.normal(0.6, size=(150, 2))
    >>> res = mmd_test(X, Y, n_permutations=100, random_state=0)
    >>> bool(res.reject), res.null_samples.shape
    (True, (100,))
    >>> res = mmd_test(X, Y, method="aggregated", n_permutations=100, n_bandwidths=3,
    ...                random_state=0)
    >>> bool(res.reject), len(res.kernel)
    (True, 6)
    """
    method = check_choice(method, "method", ("permutation", "aggregated"))
    estimator = check_choice(estimator, "estimator", ("unbiased", "biased"))
    if n_permutations is None:
        n_permutations = 500 if method == "aggregated" else 200
    n_perm = check_count(n_permutations, "n_permutations")
    alpha = check_alpha(alpha)
    X, Y = _prepare(X, Y, 2)
    rng = check_rng(random_state)
    if method == "aggregated":
        n_level = n_perm if n_permutations_level is None else check_count(
            n_permutations_level, "n_permutations_level")
        return _mmdagg(X, Y, kernel, n_perm, n_level, alpha, rng,
                       check_count(n_bandwidths, "n_bandwidths", 2), progress)
    if isinstance(kernel, (list, tuple)):
        raise ParameterError("method='permutation' takes one kernel; pass a list of kernels "
                             "with method='aggregated'.")
    kern = default_kernel(kernel, X, Y)
    nx, ny = X.shape[0], Y.shape[0]
    Z = _pool(X, Y)
    P = _label_matrix(rng, nx, ny, n_perm, Z.dtype)
    stats = _permuted_mmds(kern, Z, P, nx, ny, estimator == "unbiased", progress)
    stat, null = float(stats[0]), stats[1:]
    pvalue = permutation_pvalue(stat, null)
    return TestResult(statistic=stat, pvalue=pvalue, reject=pvalue <= alpha, alpha=alpha,
                      null_samples=null, kernel=kern, method="permutation",
                      details={"estimator": estimator, "n_x": nx, "n_y": ny})


# ------------------------------------------------------------------------- MMDAgg
def _bandwidth_grid(distances: np.ndarray, n: int) -> np.ndarray:
    """MMDAgg's geometric grid from λ_min / 2 to 2 λ_max (robust small-distance floor)."""
    d = np.sort(distances)
    lo = float(d[0]) if d[0] >= 0.1 else max(float(d[int(0.05 * len(d))]), 0.1)
    hi = max(float(d[-1]), 0.3)
    return np.geomspace(lo / 2.0, 2.0 * hi, n)


def mmdagg_collection(X: np.ndarray, Y: np.ndarray, n_bandwidths: int = 10) -> list[Kernel]:
    """Default MMDAgg collection: Gaussian and Laplace kernels on one bandwidth grid each."""
    from scipy.spatial.distance import cdist

    rows = 500
    dist = cdist(np.asarray(X[:rows], np.float64), np.asarray(Y[:rows], np.float64)).ravel()
    if not np.any(dist > 0):
        raise ParameterError("X and Y coincide (every inter-sample distance is 0), so no "
                             "bandwidth collection can be built; pass kernel=[...] "
                             "explicitly.")
    grid = _bandwidth_grid(dist, n_bandwidths)
    return [Gaussian(bandwidth=float(h)) for h in grid] + \
        [Laplace(bandwidth=float(h)) for h in grid]


def _mmdagg(X: np.ndarray, Y: np.ndarray, kernel: Any, b1: int, b2: int, alpha: float,
            rng: np.random.Generator, n_bandwidths: int,
            progress: Progress | None) -> TestResult:
    if kernel is None:
        kernels = mmdagg_collection(X, Y, n_bandwidths)
    else:
        kernels = list(kernel) if isinstance(kernel, (list, tuple)) else [kernel]
        kernels = [check_kernel(k) for k in kernels]
    nk = len(kernels)
    weights = np.full(nk, 1.0 / nk)
    nx, ny = X.shape[0], Y.shape[0]
    Z = _pool(X, Y)
    # Column 0: observed labels; 1..b1: quantile permutations; then b2 level permutations.
    P = _label_matrix(rng, nx, ny, b1 + b2, Z.dtype)
    M = np.empty((nk, 1 + b1 + b2))
    for j, kern in enumerate(kernels):
        M[j] = _permuted_mmds(kern, Z, P, nx, ny, True, progress)
    observed = M[:, 0]
    sorted1 = np.sort(M[:, :b1 + 1], axis=1)  # the observed statistic included, as in [2]
    level = M[:, b1 + 1:]

    def quantiles(u: float) -> np.ndarray:
        pos = np.ceil((b1 + 1) * (1.0 - u * weights)).astype(int) - 1
        return sorted1[np.arange(nk), np.clip(pos, 0, b1)]

    lo, hi = 0.0, float(np.min(1.0 / weights))
    for _ in range(50):  # bisection for u_α: the largest u whose aggregate level is <= α
        u = 0.5 * (lo + hi)
        if np.mean(np.max(level - quantiles(u)[:, None], axis=0) > 0) <= alpha:
            lo = u
        else:
            hi = u
    u_alpha = lo
    q = quantiles(u_alpha)
    reject_each = observed > q
    # Min-p statistic and its permutation distribution (equivalent calibration).
    p_obs = np.mean(sorted1 >= observed[:, None], axis=1)
    stat = float(np.min(p_obs / (nk * weights)))
    p_level = _pvalues_against(sorted1, level)
    null = np.min(p_level / (nk * weights)[:, None], axis=0)
    pvalue = float((1 + np.count_nonzero(null <= stat)) / (1 + b2))
    details = {"kernels": [repr(k) for k in kernels], "mmd2": observed, "quantiles": q,
               "pvalues": p_obs, "thresholds": u_alpha * weights, "u_alpha": u_alpha,
               "reject_each": reject_each, "n_permutations_level": b2}
    return TestResult(statistic=stat, pvalue=pvalue, reject=bool(np.any(reject_each)),
                      alpha=alpha, null_samples=null, kernel=kernels, method="aggregated",
                      details=details)


def _pvalues_against(sorted1: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row: fraction of the sorted reference values >= each value."""
    nk, m = sorted1.shape
    out = np.empty(values.shape)
    for j in range(nk):
        out[j] = (m - np.searchsorted(sorted1[j], values[j], side="left")) / m
    return out

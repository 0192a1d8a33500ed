"""Kernel thinning (KT, KT+) and Compress++: compress n points to about sqrt(n) points.

The three stages of kernel thinning, each run on local positions of one point set:

1. KT-SPLIT (``_jit.split``): m rounds of kernel halving split the n points into 2^m
   candidate coresets of n / 2^m points each.
2. Best (``_jit.best``): the candidate (or the plain every-2^m-th baseline) with the
   smallest MMD to all n points under the target kernel.
3. KT-SWAP (``_jit.refine``): each coreset point in turn is swapped for the input point
   that lowers that MMD the most.

Kernel values of compiled kernels are computed on demand (memory O(n d)); when the
p x 2^m matrix of candidate indicators fits the working-memory budget, one engine product
gives the kernel sums of every candidate (for stage 2 and the start of stage 3). Other
kernels use their Gram matrix within the budget. Compress++ runs KT with m = 1
(halving) on blocks in a recursion of depth log4(n / size) and finishes with KT on
2^g * size points.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._config import get_config
from .._validation import check_positive
from ..exceptions import ParameterError
from ..kernels import Kernel
from ..ops import kernel_sum, matvec
from . import _jit
from ._prepare import (
    KernelData,
    check_data,
    check_kernel,
    check_rng,
    check_size,
    drop_remainder,
    prepare,
    require_matrix,
    root_kernel,
    thinning_plan,
)

__all__ = ["kernel_thinning", "coreset_mmd"]

METHODS = ("kt", "kt+", "compress++")
#: KT-SWAP sweeps over the coreset at most (each sweep can only lower the MMD; the
#: paper's KT-SWAP is one sweep; sweeps stop early once nothing changes).
SWAP_PASSES = 4
#: Up to this many rounds (2^m candidates <= 4 right-hand sides, the engine's fused
#: path), one engine product gives every candidate's kernel sums; beyond, the product
#: would cost O(p^2 2^m) and the row means plus within-candidate sums are cheaper.
ENGINE_MAX_ROUNDS = 2
#: A candidate coreset must beat the best one so far by this fraction of k(x, x).
BEST_RTOL = 1e-12
#: Whether the halving steps of Compress++ run KT-SWAP (else KT-SPLIT only).
HALVE_SWAP = True
#: Default oversampling g of Compress++ (the intermediate coreset has 2^g * size points).
COMPRESS_OVERSAMPLING = 4


def kernel_thinning(
    X: Any,
    size: int | None = None,
    kernel: Kernel | None = None,
    *,
    method: str = "kt",
    delta: float = 0.5,
    oversampling: int = COMPRESS_OVERSAMPLING,
    unique: bool = False,
    random_state: Any = None,
) -> np.ndarray:
    """Indices of a kernel-thinning coreset: a few points whose empirical distribution
    stays close to that of all of X in maximum mean discrepancy (MMD).

    Kernel thinning [1]_ halves the data m times with a self-balancing random walk in the
    reproducing kernel Hilbert space (KT-SPLIT), keeps the best of the 2^m candidate
    coresets and then greedily swaps points to lower the MMD to the whole sample
    (KT-SWAP). With size ~ sqrt(n) its MMD to the sample is ~ n^(-1/2) (up to log
    factors), against ~ n^(-1/4) for a uniform random subsample of the same size.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The points to thin; finite, float32 or float64 (computed in float64). Not modified.
    size : int, default=None
        Coreset size, between 1 and n_samples. None picks about sqrt(n): with
        m = floor(log2(n) / 2) halving rounds, size = n // 2^m.
    kernel : Kernel, default=None
        Target kernel of the MMD. None uses a Gaussian kernel whose bandwidth is the
        median distance between points (of a random subsample of 1000).
    method : {"kt", "kt+", "compress++"}, default="kt"
        ``"kt"``: KT-SPLIT with the square-root kernel when it has a closed form (the
        Gaussian kernel, whose square root is a Gaussian with bandwidth h / sqrt(2)),
        else with the target kernel ("target KT" of [2]_); KT-SWAP with the target kernel.
        Time O(n^2), memory O(n d). ``"kt+"``: KT-SPLIT with the sum of the target and
        the square-root kernel, each of maximum 1 ([2]_; the same as "kt" when no
        square-root kernel is known). ``"compress++"``: Compress++ [3]_ with kernel
        halving inside; time O(4^g n log n), for large n.
    delta : float in (0, 1), default=0.5
        Failure probability parameter of kernel halving (it sets the swap thresholds;
        smaller is more conservative).
    oversampling : int, default=4
        Compress++ only: g >= 0; Compress builds 2^g * size points that KT then thins to
        ``size``. Larger g is closer to KT's quality and 4x slower per step.
    unique : bool, default=False
        If True, the coreset never repeats a point. By default KT-SWAP may pick a point
        twice (the coreset is then a multiset: the repeated point counts twice), which
        gives a slightly lower MMD.
    random_state : None, int or numpy.random.Generator, default=None
        Seed of the halving coin flips and of the default bandwidth's subsample.

    Returns
    -------
    indices : ndarray of int64 of shape (size,)
        Sorted row indices of X (repeated when ``unique=False`` and KT-SWAP chose a point
        twice).

    Warns
    -----
    UserWarning
        When n is not size * 2^m: halving needs that many points, so the n - size * 2^m
        extra rows are dropped uniformly at random first (up to half of them when
        n / size is just below a power of two). The default ``size=None`` drops fewer
        than 2^m ~ sqrt(n) rows.

    Raises
    ------
    ParameterError
        For a size outside [1, n], an unknown method, delta outside (0, 1) or a negative
        oversampling.
    InputValueError
        If X contains NaN or infinity, or is empty.
    MemoryBudgetError
        For a kernel without a compiled form (not Gaussian, Laplace, Matérn, IMQ,
        rational quadratic or their scaled sums) when its Gram matrix does not fit the
        working-memory budget (use method="compress++").

    See Also
    --------
    coreset_mmd : MMD between the sample and a coreset.
    kernelkit.coresets.stein_thinning, kernelkit.coresets.kernel_herding

    Notes
    -----
    Kernel values are computed on demand; no n x n matrix is formed (for kernels without
    a compiled form, only when it fits the ``working_memory`` budget). KT-SWAP runs up
    to 4 sweeps over the coreset (stopping once a sweep changes nothing); the paper's
    KT-SWAP is the first one. The halving steps inside Compress++ run one sweep (as in
    the paper); its final KT up to 4.

    References
    ----------
    .. [1] R. Dwivedi and L. Mackey, "Kernel Thinning", COLT 2021 / JMLR 2024.
    .. [2] R. Dwivedi and L. Mackey, "Generalized Kernel Thinning", ICLR 2022.
    .. [3] A. Shetty, R. Dwivedi and L. Mackey, "Distribution Compression in Near-linear
       Time", ICLR 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.coresets import kernel_thinning, coreset_mmd
    >>> from kernelkit.kernels import Gaussian
    >>> X = np.random.default_rng(0).normal(size=(1024, 2))
    >>> k = Gaussian(bandwidth=1.0)
    >>> idx = kernel_thinning(X, size=32, kernel=k, random_state=0)
    >>> idx.shape
    (32,)
    >>> rand = np.random.default_rng(1).choice(1024, 32, replace=False)
    >>> bool(coreset_mmd(X, idx, k) < 0.5 * coreset_mmd(X, rand, k))
    True
    """
    X = check_data(X)
    n = X.shape[0]
    if method not in METHODS:
        raise ParameterError(f"method must be one of {METHODS}, got {method!r}.")
    if size is not None:
        size = check_size(size, n)
    delta = float(check_positive(delta, "delta"))
    if not delta < 1.0:
        raise ParameterError(f"delta must be in (0, 1), got {delta!r}.")
    if isinstance(oversampling, bool) or not isinstance(oversampling, (int, np.integer)) \
            or oversampling < 0:
        raise ParameterError(f"oversampling must be an integer >= 0, got {oversampling!r}.")
    rng = check_rng(random_state)
    kernel = check_kernel(kernel, X, rng)
    size, m = thinning_plan(n, size)
    rows = drop_remainder(n, size << m, rng, f"kernel_thinning(method={method!r})")
    target = prepare(kernel, X)
    if method == "compress++":
        out = _compress_pp(target, rows, size, m, int(oversampling), delta, unique, rng)
    else:
        root = root_kernel(kernel)
        if root is None:
            split_kd = target
        elif method == "kt":
            split_kd = prepare(root, X)
        else:
            split_kd = prepare(_normalized(kernel, X) + _normalized(root, X), X)
        out = thin(split_kd, target, rows, m, delta, rng, unique=unique)
    return np.sort(out)


def _normalized(kernel: Kernel, X: np.ndarray) -> Kernel:
    """kernel / k(x, x) for a stationary kernel (maximum 1)."""
    peak = float(np.asarray(kernel.diag(X[:1]))[0])
    return (1.0 / peak) * kernel if peak != 1.0 else kernel


def thin(split_kd: KernelData, swap_kd: KernelData, ids: np.ndarray, m: int, delta: float,
         rng: np.random.Generator, *, unique: bool = False, symmetrize: bool = False,
         passes: int = SWAP_PASSES, swap: bool = True) -> np.ndarray:
    """KT with m halving rounds on the rows ``ids`` of the data; returns rows.

    ``symmetrize`` (m = 1, unique): return the chosen half or its complement with
    probability 1/2 each, as Compress++ requires of its halving step. ``swap=False``
    skips KT-SWAP (and the best-candidate step): the first KT-SPLIT coreset is returned.
    """
    p = ids.shape[0]
    if m == 0:
        return ids.copy()
    u = rng.random((m, p // 2))
    coin = rng.random()
    # Compiled kernels: rows on demand (faster than building a Gram matrix, measured);
    # other kernels: their Gram matrix, within the memory budget.
    matrix = not (split_kd.compiled and swap_kd.compiled)
    if matrix:
        require_matrix(p, split_kd.kernel if not split_kd.compiled else swap_kd.kernel)
    swap_args = swap_kd.block(ids)
    split_args = swap_args if split_kd is swap_kd else split_kd.block(ids)
    if not swap:
        return ids[_jit.split(m, delta, u, *split_args)[int(symmetrize and coin < 0.5)]]
    baseline = np.arange(p - 1, -1, -(1 << m), dtype=np.int64)[::-1].copy()
    cores = _jit.split(m, delta, u, *split_args)
    diag = max(abs(_jit.kpair(0, 0, *swap_args)), 1e-300)
    core_sums = np.empty(0)
    if matrix:
        mean_k = swap_args[4].mean(axis=1)
        which = _jit.best(cores, baseline, mean_k, BEST_RTOL * diag, *swap_args)
    elif m <= ENGINE_MAX_ROUNDS and 8.0 * p * (1 << m) <= get_config()["working_memory"] * 2**20:
        # one engine product gives every candidate's kernel sums (and the row means)
        Xb = np.asarray(swap_kd.X[ids], dtype=np.float64)
        V = np.zeros((p, 1 << m))
        V[cores, np.arange(1 << m)[:, None]] = 1.0
        sums = np.asarray(matvec(swap_kd.kernel, Xb, Xb, V), dtype=np.float64).reshape(p, -1)
        mean_k = sums.sum(axis=1) / p
        s = cores.shape[1]
        rel = [sums[c, j].sum() / s**2 - 2.0 * mean_k[c].sum() / s
               for j, c in enumerate(cores)]
        which = -1
        low = _jit.rel_mmd2(baseline, mean_k, *swap_args)
        for j, value in enumerate(rel):
            if value < low - BEST_RTOL * diag:
                which, low = j, value
        if which >= 0:
            core_sums = sums[:, which].copy()
    else:
        Xb = np.asarray(swap_kd.X[ids], dtype=np.float64)
        mean_k = np.asarray(kernel_sum(swap_kd.kernel, Xb), dtype=np.float64) / p
        which = _jit.best(cores, baseline, mean_k, BEST_RTOL * diag, *swap_args)
    core = baseline if which < 0 else cores[which].copy()
    _jit.refine(core, mean_k, core_sums, unique, passes, *swap_args)
    if symmetrize and coin < 0.5:
        mask = np.ones(p, dtype=bool)
        mask[core] = False
        core = np.flatnonzero(mask)
    return ids[core]


def _compress_pp(kd: KernelData, rows: np.ndarray, size: int, m: int, g: int, delta: float,
                 unique: bool, rng: np.random.Generator) -> np.ndarray:
    """Compress++: Compress to 2^g * size points, then KT (g rounds) to ``size``."""
    g = min(g, m)
    if g == m:
        return thin(kd, kd, rows, m, delta, rng, unique=unique)
    depth = m - g
    n = rows.shape[0]
    # Failure probability: half to the halving steps (shared in proportion to the
    # squared size of each step, as in the Compress++ paper), half to the final KT.
    halve_prob = 0.5 * delta / (4.0 ** (g + 1) * depth * n)

    def compress(block: np.ndarray, out: int) -> np.ndarray:
        p = block.shape[0]
        if p == 2 * out:
            return halve(block)
        if p % 4 or out % 2:  # cannot split evenly further: thin this block directly
            rounds = int(round(math.log2(p / out)))
            return thin(kd, kd, block, rounds, min(halve_prob * p * p, 0.5), rng, unique=True,
                        passes=1)
        parts = [compress(part, out // 2) for part in np.split(block, 4)]
        return halve(np.concatenate(parts))

    def halve(block: np.ndarray) -> np.ndarray:
        p = block.shape[0]
        return thin(kd, kd, block, 1, min(halve_prob * p * p, 0.5), rng, unique=True,
                    symmetrize=True, passes=1, swap=HALVE_SWAP)

    intermediate = compress(rows, size << g)
    return thin(kd, kd, intermediate, g, 0.5 * delta, rng, unique=unique)


def coreset_mmd(X: Any, indices: Any, kernel: Kernel | None = None,
                random_state: Any = None) -> float:
    """MMD between the empirical distribution of X and that of the rows ``indices``.

    MMD² = mean k(X, X) - 2 mean k(X, C) + mean k(C, C) with C = X[indices] (repeated
    indices count with their multiplicity): the biased (V-statistic) estimator of
    :func:`kernelkit.stats.mmd`, computed in float64 through the engine in O(n^2) time
    and O(n d) memory.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    indices : array-like of int of shape (size,)
        Rows of X forming the coreset.
    kernel : Kernel, default=None
        None: a Gaussian with the median-distance bandwidth (as in
        :func:`kernel_thinning`, with the same ``random_state``).
    random_state : None, int or numpy.random.Generator, default=None
        Only used for the default bandwidth's subsample.

    Returns
    -------
    mmd : float

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.coresets import coreset_mmd
    >>> X = np.array([[0.0], [1.0]])
    >>> round(coreset_mmd(X, [0, 1]), 12)
    0.0
    """
    X = np.asarray(check_data(X), dtype=np.float64)
    n = X.shape[0]
    idx = np.asarray(indices)
    if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
        raise ParameterError("indices must be a non-empty 1-D array of row indices of X.")
    if idx.min() < -n or idx.max() >= n:
        raise ParameterError(f"indices must lie in [0, {n}); got values up to {idx.max()}.")
    kernel = check_kernel(kernel, X, check_rng(random_state))
    from ..stats import mmd

    return math.sqrt(max(mmd(X, X[idx], kernel, estimator="biased"), 0.0))

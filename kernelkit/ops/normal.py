"""The Nyström normal product K(C, X) W K(X, C) U in one pass over X.

Nyström solvers (Falkon, Nyström KRR, sketched GPs) spend nearly all their time in this
product. Computing it as two engine calls, ``matvec(kernel, C, X, w * matvec(kernel, X,
C, U))``, evaluates every kernel value twice. Here each row block of X is turned into
its kernel block T = K(X_block, C) once, and ``T.T @ (w_block * (T @ U))`` is added to
the result while T is still in cache, so the kernel is evaluated once per pair and
K(X, C) is never stored: scratch memory is one row block of T per worker thread,
bounded by ``working_memory``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from .._config import effective_n_jobs, get_config
from .._validation import check_array, get_namespace, is_dask, result_dtype
from ..exceptions import InputTypeError, ParameterError, ShapeError
from ..kernels._base import FusedSpec, Kernel
from . import _parallel
from .backends import _jit, numba_backend
from .plan import DIRECT_MAX_FEATURES, SERIAL_WORK, Plan
from .reduce import _backend, _check_kernel

__all__ = ["normal_matvec"]

#: Largest number of rows in one kernel block T (rows x m).
BLOCK_ROWS = 256
#: Up to this many right-hand sides the compiled path works row by row (kernel row, its
#: dot products with U and the update of the accumulator, all in cache); above it,
#: blocks of T are multiplied by BLAS.
ROWWISE_MAX_RHS = numba_backend.FUSED_MAX_RHS
#: Row blocks per worker thread (load balance on a busy machine).
TASKS_PER_WORKER = 4
#: The numpy reference backend's kernel formulas hold a few temporaries of T's size.
_NUMPY_TEMPORARIES = 4


# ----------------------------------------------------------------------- compiled rows
#: Rows of X handled together by the compiled row loop: each value of C read from cache
#: serves this many rows, and each update of the accumulator adds this many rows.
ROW_GROUP = 4


@njit(inline="always", **_jit._JIT)
def _fill_group(Xs, Yt, i, g, j0, width, dot, R):
    """R[r, j0:j0+width] = squared distances (or dots) of x_{i+r} to c_j, r < g."""
    d = Xs.shape[1]
    for r in range(g):
        xk = Xs[i + r, 0]
        yk = Yt[0, j0:]
        rr = R[r, j0:]
        if dot:
            for j in range(width):
                rr[j] = xk * yk[j]
        else:
            for j in range(width):
                t = xk - yk[j]
                rr[j] = t * t
    for k in range(1, d):
        yk = Yt[k, j0:]
        for r in range(g):
            xk = Xs[i + r, k]
            rr = R[r, j0:]
            if dot:
                for j in range(width):
                    rr[j] += xk * yk[j]
            else:
                for j in range(width):
                    t = xk - yk[j]
                    rr[j] += t * t


@njit(**_jit._JIT)
def _normal_rows_direct(Xs, Yt, i0, i1, dot, code, p, Ut, w, use_w, tile_m, acc):
    """acc[c, :] += k(x_i, C) * (w_i * k(x_i, C) . U[:, c]) for rows i in [i0, i1).

    ``Ut`` is U transposed (k, m) in the working dtype; ``acc`` is (k, m) float64.
    Rows go in groups of ``ROW_GROUP``: their kernel rows are computed once into a
    (group, m) buffer, column tile by column tile (``tile_m`` columns stay in cache);
    dot products are summed in the working dtype per tile and in float64 across tiles.
    """
    m = Yt.shape[1]
    k = Ut.shape[0]
    G = ROW_GROUP
    R = np.empty((G, m), dtype=Xs.dtype)
    coef = np.empty(G, dtype=np.float64)
    zero = p[_jit.P_ZERO]
    for i in range(i0, i1, G):
        g = min(G, i1 - i)
        for j0 in range(0, m, tile_m):
            width = min(tile_m, m - j0)
            _fill_group(Xs, Yt, i, g, j0, width, dot, R)
            for r in range(g):
                _jit._profile(R[r, j0:], width, code, p)
        for c in range(k):
            uc = Ut[c]
            for r in range(g):
                rr = R[r]
                total = 0.0
                for j0 in range(0, m, tile_m):
                    width = min(tile_m, m - j0)
                    seg = rr[j0:]
                    useg = uc[j0:]
                    part = zero
                    for j in range(width):
                        part += seg[j] * useg[j]
                    total += part
                coef[r] = total * (w[i + r] if use_w else 1.0)
            ac = acc[c]
            if g == G:
                c0, c1, c2, c3 = coef[0], coef[1], coef[2], coef[3]
                r0, r1, r2, r3 = R[0], R[1], R[2], R[3]
                for j in range(m):
                    ac[j] += (r0[j] * c0 + r1[j] * c1) + (r2[j] * c2 + r3[j] * c3)
            else:
                for r in range(g):
                    rr = R[r]
                    cr = coef[r]
                    for j in range(m):
                        ac[j] += rr[j] * cr


# ----------------------------------------------------------------------------- helpers
def _check_inputs(kernel: Any, X: Any, C: Any, U: Any, weights: Any,
                  ) -> tuple[Kernel, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    kernel = _check_kernel(kernel)
    xp = get_namespace(X, C, U, weights)
    if xp is not np:
        raise InputTypeError("normal_matvec takes numpy arrays (or a Dask X); convert torch "
                             "tensors with .numpy() first.")
    X = check_array(X, "X")
    C = check_array(C, "C")
    if X.shape[1] != C.shape[1]:
        raise ShapeError(f"X has {X.shape[1]} features but C has {C.shape[1]}; both must "
                         "have the same number of columns.")
    kernel._check_n_features(X.shape[1])
    U = check_array(U, "U", ndim=(1, 2))
    if U.shape[0] != C.shape[0]:
        raise ShapeError(f"U has {U.shape[0]} rows but C has {C.shape[0]}; U needs one row "
                         "per centre (row of C).")
    w = None
    if weights is not None:
        w = check_array(weights, "weights", ndim=(1,))
        if w.shape[0] != X.shape[0]:
            raise ShapeError(f"weights has {w.shape[0]} entries but X has {X.shape[0]} rows; "
                             "pass one weight per row of X (shape (n,)).")
    return kernel, X, C, U, w


def _check_compute_dtype(compute_dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(compute_dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ParameterError(f"compute_dtype must be None, 'float32' or 'float64', got "
                             f"{compute_dtype!r}.")
    return dt


def _row_budget(m: int, itemsize: int, workers: int, temporaries: int = 1) -> int:
    """Rows of one kernel block T (rows x m) per worker within ``working_memory``."""
    budget = get_config()["working_memory"] * 2**20 / workers
    rows = int(budget // (temporaries * m * itemsize + 1))
    return max(1, min(BLOCK_ROWS, rows))


def _tasks(n: int, m: int, k: int, d: int, block_rows: int) -> tuple[int, list[tuple[int, int]]]:
    """Worker count and row blocks; each task owns one (k, m) float64 accumulator."""
    workers = effective_n_jobs()
    if n * m * max(d, 1) < SERIAL_WORK or n < 2:
        workers = 1
    workers = max(1, min(workers, n))
    n_tasks = workers * TASKS_PER_WORKER if workers > 1 else 1
    # Accumulators are output-sized; keep them within half the budget.
    if n_tasks * k * m * 8 > get_config()["working_memory"] * 2**20 / 2:
        n_tasks = workers
    step = max(1, math.ceil(n / n_tasks))
    if step > block_rows:
        step = block_rows * math.ceil(step / block_rows)
    return workers, [(i0, min(n, i0 + step)) for i0 in range(0, n, step)]


def _reduce(parts: list[np.ndarray]) -> np.ndarray:
    """Sum the per-task accumulators in task order (deterministic for a given n_jobs)."""
    out = parts[0]
    for part in parts[1:]:
        out += part
    return out


# ---------------------------------------------------------------------------- backends
def _normal_numba(spec: FusedSpec, X: np.ndarray, C: np.ndarray, U: np.ndarray,
                  w: np.ndarray | None) -> np.ndarray:
    """Compiled path; returns float64 (m, k)."""
    n, d = X.shape
    m, k = U.shape
    code = numba_backend.PROFILES[spec.profile][0]
    mode = "direct" if d <= DIRECT_MAX_FEATURES else "gemm"
    rowwise = mode == "direct" and k <= ROWWISE_MAX_RHS
    workers = max(1, min(effective_n_jobs(), n))
    block_rows = _row_budget(m, X.dtype.itemsize, workers)
    workers, blocks = _tasks(n, m, k, d, block_rows)
    prep = numba_backend._prepare(spec, X, C, Plan(mode, workers, n, block_rows, m, 0))
    dtype = prep.Xs.dtype
    p = numba_backend._profile_constants(spec, dtype)
    refine = numba_backend.refine_fraction(spec, dtype)
    tile_m = min(m, 2048)
    # U stays in its own (input) precision: with float32 kernel values and float64
    # coefficients, the coefficients are not rounded (they may cancel strongly).
    Ut = np.ascontiguousarray(U.T)
    Uc = np.ascontiguousarray(U, dtype=dtype)
    use_w = w is not None
    w_work = np.ascontiguousarray(w, dtype=np.float64) if use_w else np.zeros(1)
    w_cast = w_work.astype(dtype, copy=False)
    parts = [np.zeros((k, m)) if rowwise else np.zeros((m, k)) for _ in blocks]

    def task(index: int) -> None:
        i0, i1 = blocks[index]
        acc = parts[index]
        if rowwise:
            _normal_rows_direct(prep.Xs, prep.Yt, i0, i1, prep.dot, code, p, Ut, w_work,
                                use_w, tile_m, acc)
            return
        T_buf = np.empty(block_rows * m, dtype=dtype)
        for r0 in range(i0, i1, block_rows):
            r1 = min(i1, r0 + block_rows)
            T = T_buf[: (r1 - r0) * m].reshape(r1 - r0, m)
            if mode == "direct":
                _jit.tile_direct(prep.Xs, prep.Yt, r0, r1, 0, m, prep.dot, code, p, T)
            else:
                np.matmul(prep.Xs[r0:r1], prep.Ys.T, out=T)
                _jit.tile_gemm(T, prep.xn, prep.yn, r0, r1, 0, m, prep.dot, code, p,
                               prep.Xs, prep.Ys, refine)
            Z = T @ Uc
            if use_w:
                Z *= w_cast[r0:r1, None]
            acc += T.T @ Z

    _parallel.run_tasks(task, range(len(blocks)), workers, uses_blas=True)
    out = _reduce(parts)
    if rowwise:
        out = np.ascontiguousarray(out.T)
    if spec.scale != 1.0:
        out *= spec.scale ** 2
    return out


def _normal_numpy(kernel: Kernel, X: np.ndarray, C: np.ndarray, U: np.ndarray,
                  w: np.ndarray | None) -> np.ndarray:
    """Reference path (any kernel): float64 blocks of T from ``kernel._tile``."""
    n, d = X.shape
    m, k = U.shape
    X64, C64, U64 = (np.asarray(A, dtype=np.float64) for A in (X, C, U))
    workers = max(1, min(effective_n_jobs(), n))
    block_rows = _row_budget(m, 8, workers, _NUMPY_TEMPORARIES)
    workers, blocks = _tasks(n, m, k, d, block_rows)
    parts = [np.zeros((m, k)) for _ in blocks]

    def task(index: int) -> None:
        i0, i1 = blocks[index]
        for r0 in range(i0, i1, block_rows):
            r1 = min(i1, r0 + block_rows)
            T = kernel._tile(X64[r0:r1], C64, np)
            Z = T @ U64
            if w is not None:
                Z *= w[r0:r1, None]
            parts[index] += T.T @ Z

    _parallel.run_tasks(task, range(len(blocks)), workers, uses_blas=True)
    return _reduce(parts)


# ------------------------------------------------------------------------------ public
def normal_matvec(kernel: Kernel, X: Any, C: Any, U: Any, weights: Any = None, *,
                  compute_dtype: Any = None) -> Any:
    """The Nyström normal product ``K(C, X) @ diag(weights) @ K(X, C) @ U`` in one pass.

    Each kernel value k(x_i, c_j) is evaluated once: for every block of rows of X the
    kernel block T = K(X_block, C) is formed in scratch memory and
    ``T.T @ (w_block * (T @ U))`` is added to the result. K(X, C) is never stored;
    scratch memory (one block of T per worker thread) is bounded by ``working_memory``
    (:func:`kernelkit.config_context`). This is the product every iteration of a
    Nyström solver such as :class:`kernelkit.regression.FalkonRegressor` needs; it
    costs about half as much as ``matvec(kernel, C, X, w * matvec(kernel, X, C, U))``.

    Parameters
    ----------
    kernel : Kernel
        Any kernelkit kernel; kernels with a compiled profile run compiled, others on
        the numpy reference backend (``config_context(backend=...)`` is honoured).
    X : array-like of shape (n, d), or dask array
        The data. A Dask X (chunked by rows) gives a lazy Dask array: each task reduces
        one chunk, and the chunk results are summed (see :mod:`kernelkit.distributed`).
    C : array-like of shape (m, d)
        The centres.
    U : array-like of shape (m,) or (m, k)
        One or several vectors.
    weights : array-like of shape (n,), default=None
        Row weights ``W = diag(weights)`` (any finite values); None is the identity.
    compute_dtype : {None, "float32", "float64"}, default=None
        Precision of the kernel evaluations (X, C and U are cast to it; sums are
        accumulated in float64 either way). None uses the result dtype. ``"float32"``
        with float64 inputs is about twice as fast and returns float64 sums of float32
        kernel values (relative error about 1e-7, see ``TOLERANCES[float32]``);
        pass X and C already in float32 to avoid a cast per call.

    Returns
    -------
    out : ndarray of shape (m,) or (m, k)
        Same shape as U. float32 only when every input is float32, else float64.

    Raises
    ------
    ShapeError
        Different feature counts of X and C, U without one row per centre, weights
        without one entry per row of X.
    InputValueError
        NaN/inf or empty inputs.
    InputTypeError
        Non-numeric inputs or torch tensors.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian
    >>> from kernelkit.ops import normal_matvec
    >>> rng = np.random.default_rng(0)
    >>> X, C, u = rng.normal(size=(50, 3)), rng.normal(size=(5, 3)), rng.normal(size=5)
    >>> w = rng.uniform(size=50)
    >>> K = Gaussian(bandwidth=1.5)(X, C)
    >>> np.allclose(normal_matvec(Gaussian(bandwidth=1.5), X, C, u, w), K.T @ (w * (K @ u)))
    True
    """
    if any(is_dask(a) for a in (X, C, U, weights) if a is not None):
        from ..distributed import _normal

        return _normal.normal_matvec(kernel, X, C, U, weights, compute_dtype=compute_dtype)
    kernel, X, C, U, w = _check_inputs(kernel, X, C, U, weights)
    dtype = result_dtype(X, C, U, w)
    work = dtype if compute_dtype is None else _check_compute_dtype(compute_dtype)
    X, C = (A if A.dtype == work else A.astype(work) for A in (X, C))
    U = U.astype(dtype, copy=False)
    U2 = U[:, None] if U.ndim == 1 else U
    backend = _backend(kernel, np)
    spec = kernel._fused()
    if backend in ("numba", "auto") and numba_backend.supports(spec):
        out = _normal_numba(spec, X, C, U2, w)  # type: ignore[arg-type]
    else:
        out = _normal_numpy(kernel, X, C, U2, w)
    out = out.astype(dtype, copy=False)
    return out[:, 0] if U.ndim == 1 else out

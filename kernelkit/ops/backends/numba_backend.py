"""The fast CPU backend: compiled, fused, tiled and multi-threaded.

Inputs arrive validated (2-D, finite, one float dtype). For each reduction this module
prepares scaled and centred copies of X and Y (O((n + m) d) memory), plans tiles from the
memory budget, and runs the compiled kernels of :mod:`._jit` over row blocks on worker
threads. Small d uses the fused direct loop; larger d computes the cross term with BLAS
on each tile. Accumulation is in float64.
"""

from __future__ import annotations

import math

import numpy as np

from ...exceptions import InputValueError
from ...kernels._base import _REFINE_BELOW, FusedSpec
from .. import _parallel
from ..plan import Plan, make_plan
from . import _jit

__all__ = ["PROFILES", "supports", "matvec", "logsumexp", "knn"]

#: Compiled kernel profiles: name → (code, kind, has_log).
PROFILES: dict[str, tuple[int, str, bool]] = {
    "gaussian": (_jit.GAUSSIAN, "radial", True),
    "laplace": (_jit.LAPLACE, "radial", True),
    "matern32": (_jit.MATERN32, "radial", True),
    "matern52": (_jit.MATERN52, "radial", True),
    "imq": (_jit.IMQ, "radial", True),
    "rq": (_jit.RQ, "radial", True),
    "linear": (_jit.LINEAR, "dot", False),
    "poly": (_jit.POLY, "dot", False),
}

#: Largest |d log f / ds| of each radial profile (s = scaled squared distance): how much
#: an error in s moves log k. Laplace's is unbounded at s = 0 (the kink of exp(-sqrt(s))).
_SENSITIVITY = {"gaussian": 0.5, "rq": 0.5, "matern32": 1.5, "matern52": 1.0,
                "laplace": math.inf}
#: float32 GEMM path: largest tolerated error bound of log k from the cancelling cross
#: term ||x||^2 + ||y||^2 - 2 x.y. Above it the cross term is computed in float64.
GEMM32_MAX_LOG_ERROR = 2e-6

#: Above this many right-hand sides, kernel tiles are multiplied by BLAS GEMM instead of
#: fused dot products.
FUSED_MAX_RHS = 4


def supports(spec: FusedSpec | None) -> bool:
    """Whether the compiled backend can evaluate a kernel with this fused spec."""
    return spec is not None and spec.profile in PROFILES and \
        PROFILES[spec.profile][1] == spec.kind


def _profile_constants(spec: FusedSpec, dtype: np.dtype) -> np.ndarray:
    p = np.zeros(_jit.N_CONST, dtype=np.float64)
    name, params = spec.profile, spec.params
    if name == "gaussian":
        p[_jit.P_A] = -0.5
    elif name == "matern32":
        p[_jit.P_A] = math.sqrt(3.0)
    elif name == "matern52":
        p[_jit.P_A] = math.sqrt(5.0)
        p[_jit.P_B] = 5.0 / 3.0
    elif name == "imq":
        c2, beta = params
        p[_jit.P_A], p[_jit.P_B] = c2, -beta
    elif name == "rq":
        (alpha,) = params
        p[_jit.P_A], p[_jit.P_B] = 1.0 / (2.0 * alpha), -alpha
    elif name == "poly":
        gamma, coef0, degree = params
        p[_jit.P_A], p[_jit.P_B], p[_jit.P_C] = gamma, coef0, degree
    p[_jit.P_ONE] = 1.0
    p[_jit.P_NEGINF] = -np.inf
    return p.astype(dtype)


class _Prepared:
    """Scaled, centred (radial) or normalised (cosine) copies of X and Y."""

    def __init__(self, spec: FusedSpec | None, X: np.ndarray, Y: np.ndarray,
                 mode: str) -> None:
        dtype = X.dtype
        dot = spec is not None and spec.kind == "dot"
        inv = np.asarray(1.0 if spec is None else spec.inv_bandwidth, dtype=dtype)
        if dot:
            Xs = np.ascontiguousarray(X * inv, dtype=dtype)
            Ys = np.ascontiguousarray(Y * inv, dtype=dtype)
            if spec is not None and spec.normalize:
                for name, A in (("X", Xs), ("Y", Ys)):
                    peak = np.abs(A).max(axis=1)
                    if np.any(peak == 0):
                        raise InputValueError(
                            f"{name} row {int(np.argmin(peak))} is all zeros; the cosine "
                            "kernel is undefined there. Remove zero rows or use Linear()."
                        )
                    A /= peak[:, None]  # avoids overflow of the squared norm
                    A /= np.sqrt(np.einsum("ij,ij->i", A, A, dtype=np.float64)).astype(
                        dtype)[:, None]
        else:
            # Centre on Y's mean *before* scaling: distances are unchanged, and neither
            # the scaling nor the BLAS cross term sees large offsets that cancel later.
            centre = Y.mean(axis=0, dtype=np.float64).astype(dtype)
            Xs = np.ascontiguousarray((X - centre) * inv, dtype=dtype)
            Ys = np.ascontiguousarray((Y - centre) * inv, dtype=dtype)
        self.dot = dot
        self.Xs = Xs
        self.Ys = Ys
        self.Yt = np.ascontiguousarray(Ys.T) if mode == "direct" else None
        if mode == "gemm" and not dot:
            self.xn = np.einsum("ij,ij->i", Xs, Xs, dtype=np.float64).astype(dtype)
            self.yn = np.einsum("ij,ij->i", Ys, Ys, dtype=np.float64).astype(dtype)
        else:
            self.xn = self.yn = np.zeros(1, dtype=dtype)


def _sensitivity(spec: FusedSpec) -> float:
    if spec.profile == "imq":
        c2, beta = spec.params
        return beta / c2
    return _SENSITIVITY[spec.profile]


def refine_fraction(spec: FusedSpec, dtype: np.dtype) -> float:
    """In GEMM mode, squared distances below this fraction of ||x||² + ||y||² are recomputed
    from direct differences: for profiles with a kink at 0 (Laplace: exp(-sqrt(s))), whose
    value reads sqrt(s) and would carry the expansion's cancellation, ~1e-8 in float64 at
    coincident points (as the numpy path, ``kernels._base._squared_distances``). 0: none
    (smooth profiles: an error δs moves log k by at most its sensitivity times δs)."""
    if spec.kind != "radial" or math.isfinite(_sensitivity(spec)):
        return 0.0
    return _REFINE_BELOW["float32" if np.dtype(dtype) == np.float32 else "float64"]


def _prepare(spec: FusedSpec | None, X: np.ndarray, Y: np.ndarray,
             plan: Plan) -> _Prepared:
    """Prepared inputs, in float64 when the float32 BLAS cross term is too inaccurate.

    In GEMM mode the squared distance is ||x||^2 + ||y||^2 - 2 x.y, whose rounding error
    grows like sqrt(d) u (||x||^2 + ||y||^2) after centring (u: unit roundoff). When that
    error, times the profile's sensitivity, could exceed ``GEMM32_MAX_LOG_ERROR`` (small bandwidths
    relative to the data's spread, or the Laplace kink at 0), the tile is computed in
    float64 instead: slower, but the promised float32 accuracy holds.
    """
    prep = _Prepared(spec, X, Y, plan.mode)
    if X.dtype != np.float32 or plan.mode != "gemm" or spec is None or spec.kind != "radial":
        return prep
    d = X.shape[1]
    # Calibrated on random and near-duplicate data: about 10x above the worst error seen.
    unit_roundoff = np.finfo(np.float32).eps / 2
    err_s = (math.sqrt(d) / 2 + 2) * unit_roundoff * (
        float(prep.xn.max()) + float(prep.yn.max()))
    if _sensitivity(spec) * err_s <= GEMM32_MAX_LOG_ERROR:
        return prep
    return _Prepared(spec, X.astype(np.float64), Y.astype(np.float64), plan.mode)


def _row_blocks(n: int, step: int) -> list[tuple[int, int]]:
    return [(i0, min(n, i0 + step)) for i0 in range(0, n, step)]


class _TileBuffers:
    """One reusable scratch tile per worker thread (contiguous views of any shape)."""

    def __init__(self, plan: Plan, dtype: np.dtype) -> None:
        import threading

        self._local = threading.local()
        self._size = plan.tile_rows * plan.tile_cols
        self._dtype = dtype

    def get(self, rows: int, cols: int) -> np.ndarray:
        flat = getattr(self._local, "flat", None)
        if flat is None:
            flat = self._local.flat = np.empty(self._size, dtype=self._dtype)
        return flat[: rows * cols].reshape(rows, cols)


def _gemm_tiles(prep: _Prepared, plan: Plan, i0: int, i1: int, buffers: _TileBuffers):
    """Yield (r0, r1, j0, w, T) with T = Xs[r0:r1] @ Ys[j0:j0+w].T computed by BLAS."""
    m = prep.Ys.shape[0]
    for r0 in range(i0, i1, plan.tile_rows):
        r1 = min(i1, r0 + plan.tile_rows)
        for j0 in range(0, m, plan.tile_cols):
            w = min(plan.tile_cols, m - j0)
            T = buffers.get(r1 - r0, w)
            np.matmul(prep.Xs[r0:r1], prep.Ys[j0:j0 + w].T, out=T)
            yield r0, r1, j0, w, T


def matvec(spec: FusedSpec, X: np.ndarray, Y: np.ndarray, V: np.ndarray) -> np.ndarray:
    """K(X, Y) @ V for V of shape (m, k); returns float64 of shape (n, k)."""
    n, d = X.shape
    m, k = V.shape
    dtype = X.dtype
    code = PROFILES[spec.profile][0]
    many = k > FUSED_MAX_RHS
    plan = make_plan(n, m, d, dtype.itemsize, needs_tile=many)
    prep = _prepare(spec, X, Y, plan)
    dtype = prep.Xs.dtype
    p = _profile_constants(spec, dtype)
    refine = refine_fraction(spec, dtype)
    Vt = np.ascontiguousarray(V.T, dtype=dtype)
    Vc = np.ascontiguousarray(V, dtype=dtype) if many else V
    acc = np.zeros((n, k), dtype=np.float64)
    buffers = _TileBuffers(plan, dtype)

    def task(block: tuple[int, int]) -> None:
        i0, i1 = block
        if plan.mode == "direct" and not many:
            _jit.matvec_direct(prep.Xs, prep.Yt, i0, i1, plan.tile_cols, prep.dot, code, p,
                               Vt, acc[i0:i1])
            return
        if plan.mode == "direct":
            for r0 in range(i0, i1, plan.tile_rows):
                r1 = min(i1, r0 + plan.tile_rows)
                for j0 in range(0, m, plan.tile_cols):
                    w = min(plan.tile_cols, m - j0)
                    T = buffers.get(r1 - r0, w)
                    _jit.tile_direct(prep.Xs, prep.Yt, r0, r1, j0, w, prep.dot, code, p, T)
                    acc[r0:r1] += T @ Vc[j0:j0 + w]
            return
        for r0, r1, j0, w, T in _gemm_tiles(prep, plan, i0, i1, buffers):
            if many:
                _jit.tile_gemm(T, prep.xn, prep.yn, r0, r1, j0, w, prep.dot, code, p,
                               prep.Xs, prep.Ys, refine)
                acc[r0:r1] += T @ Vc[j0:j0 + w]
            else:
                _jit.matvec_gemm(T, prep.xn, prep.yn, r0, r1, j0, w, prep.dot, code, p, Vt,
                                 acc[r0:r1], prep.Xs, prep.Ys, refine)

    _parallel.run_tasks(task, _row_blocks(n, plan.rows_per_task), plan.n_workers,
                        uses_blas=plan.mode == "gemm" or many)
    if spec.scale != 1.0:
        acc *= spec.scale
    return acc


def logsumexp(spec: FusedSpec, X: np.ndarray, Y: np.ndarray,
              log_weights: np.ndarray | None) -> np.ndarray:
    """log sum_j w_j k(x_i, y_j) for a positive radial kernel; float64 of shape (n,)."""
    n, d = X.shape
    m = Y.shape[0]
    dtype = X.dtype
    code = PROFILES[spec.profile][0]
    plan = make_plan(n, m, d, dtype.itemsize, needs_tile=False)
    prep = _prepare(spec, X, Y, plan)
    dtype = prep.Xs.dtype
    p = _profile_constants(spec, dtype)
    refine = refine_fraction(spec, dtype)
    use_w = log_weights is not None
    logw = (np.ascontiguousarray(log_weights, dtype=dtype) if use_w
            else np.zeros(1, dtype=dtype))
    mx = np.full(n, -np.inf)
    sm = np.zeros(n)
    buffers = _TileBuffers(plan, dtype)

    def task(block: tuple[int, int]) -> None:
        i0, i1 = block
        if plan.mode == "direct":
            _jit.lse_direct(prep.Xs, prep.Yt, i0, i1, plan.tile_cols, code, p, logw, use_w,
                            mx[i0:i1], sm[i0:i1])
            return
        for r0, r1, j0, w, T in _gemm_tiles(prep, plan, i0, i1, buffers):
            _jit.lse_gemm(T, prep.xn, prep.yn, r0, r1, j0, w, code, p, logw, use_w,
                          mx[r0:r1], sm[r0:r1], prep.Xs, prep.Ys, refine)

    _parallel.run_tasks(task, _row_blocks(n, plan.rows_per_task), plan.n_workers,
                        uses_blas=plan.mode == "gemm")
    with np.errstate(divide="ignore"):
        out = mx + np.log(sm)
    out[mx == -np.inf] = -np.inf
    if spec.scale != 1.0:
        out += math.log(spec.scale)
    return out


def knn(X: np.ndarray, Y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Candidate nearest neighbours: squared distances (working dtype) and indices.

    Returns the ``k`` smallest per row in ascending order, ties to the lower index when
    distances compare equal in the working precision.
    """
    n, d = X.shape
    m = Y.shape[0]
    dtype = X.dtype
    plan = make_plan(n, m, d, dtype.itemsize, needs_tile=False)
    prep = _Prepared(None, X, Y, plan.mode)
    best_d = np.full((n, k), np.inf, dtype=dtype)
    best_i = np.full((n, k), -1, dtype=np.int64)
    buffers = _TileBuffers(plan, dtype)

    def task(block: tuple[int, int]) -> None:
        i0, i1 = block
        if plan.mode == "direct":
            _jit.knn_direct(prep.Xs, prep.Yt, i0, i1, plan.tile_cols, best_d[i0:i1],
                            best_i[i0:i1])
            return
        for r0, r1, j0, w, T in _gemm_tiles(prep, plan, i0, i1, buffers):
            _jit.knn_gemm(T, prep.xn, prep.yn, r0, r1, j0, w, best_d[r0:r1], best_i[r0:r1])

    _parallel.run_tasks(task, _row_blocks(n, plan.rows_per_task), plan.n_workers,
                        uses_blas=plan.mode == "gemm")
    return best_d, best_i



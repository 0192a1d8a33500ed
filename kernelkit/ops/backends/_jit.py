"""Compiled building blocks of the numba backend.

Everything here works on one block of rows against one or more column tiles and is
compiled ``nogil`` so worker threads run it in parallel; code is cached on disk.

Layout conventions
------------------
* ``Xs`` (n, d) and ``Yt`` (d, m): inputs already divided by the bandwidth and centred;
  Y is transposed so the innermost loop (over columns j) reads contiguous memory and
  vectorises.
* ``T`` (rows, w): a tile of cross products x_i . y_j computed by BLAS (large d).
* ``p``: profile constants in the working dtype (see ``numba_backend._profile_constants``),
  so no float64 literal silently promotes float32 arithmetic.
* Accumulators are float64; within a column tile, sums run in the working dtype across
  SIMD lanes and are then added to the float64 accumulator.

Exponentials use a vectorisable polynomial ``fexp`` (numba's ``np.exp`` stays scalar
without SVML); arguments below the smallest normal result are flushed to exactly 0, so
no subnormal (slow) value is ever produced.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, types
from numba.extending import overload

# Fast-math flags without 'nnan'/'ninf': -inf (log of a zero weight) must stay exact.
_FM = {"contract", "reassoc", "arcp", "nsz", "afn"}
_JIT: dict[str, Any] = {"nogil": True, "cache": True, "fastmath": _FM, "error_model": "numpy"}
# Log-sum-exp and k-NN may assume no NaN (inputs are validated finite, -inf - finite is
# -inf), which lets LLVM vectorise running maxima and minima.
_JIT_NNAN: dict[str, Any] = {**_JIT, "fastmath": _FM | {"nnan"}}

# k-NN: chunk length of the second screen (values scanned one by one only in chunks whose
# minimum beats the current k-th best).
_KNN_CHUNK = 32

# Profile codes (see numba_backend.PROFILES for the name → code map).
GAUSSIAN, LAPLACE, MATERN32, MATERN52, IMQ, RQ, LINEAR, POLY = 0, 1, 2, 3, 4, 5, 6, 7
# Slots of the constants vector p (working dtype).
P_A, P_B, P_C, P_NEGINF, P_ZERO, P_ONE = 0, 1, 2, 3, 5, 6
N_CONST = 8


def fexp(x):  # pragma: no cover - replaced by the overload inside compiled code
    return math.exp(x)


@overload(fexp, inline="always", fastmath=_FM)  # type: ignore[call-arg]
def _fexp_overload(x):
    if x == types.float32:

        def impl32(x):
            xc = max(x, np.float32(-87.33))
            t = xc * np.float32(1.4426950408889634)
            n = np.floor(t + np.float32(0.5))
            r = xc - n * np.float32(0.693145751953125)
            r = r - n * np.float32(1.428606765330187e-06)
            q = np.float32(1.9875691500e-4)
            q = q * r + np.float32(1.3981999507e-3)
            q = q * r + np.float32(8.3334519073e-3)
            q = q * r + np.float32(4.1665795894e-2)
            q = q * r + np.float32(1.6666665459e-1)
            q = q * r + np.float32(5.0000001201e-1)
            q = q * (r * r) + r + np.float32(1.0)
            s = np.int32((np.int32(n) + np.int32(127)) << 23).view(np.float32)
            keep = np.float32(x >= np.float32(-87.33))
            return q * s * keep

        return impl32
    if x == types.float64:

        def impl64(x):
            xc = max(x, -708.3)
            t = xc * 1.4426950408889634
            n = np.floor(t + 0.5)
            r = xc - n * 6.93147180369123816490e-01
            r = r - n * 1.90821492927058770002e-10
            q = 2.08767569878680989792e-09
            q = q * r + 2.50521083854417187751e-08
            q = q * r + 2.75573192239858906526e-07
            q = q * r + 2.75573192239858906526e-06
            q = q * r + 2.48015873015873015873e-05
            q = q * r + 1.98412698412698412698e-04
            q = q * r + 1.38888888888888888889e-03
            q = q * r + 8.33333333333333333333e-03
            q = q * r + 4.16666666666666666667e-02
            q = q * r + 1.66666666666666666667e-01
            q = q * r + 0.5
            q = q * (r * r) + r + 1.0
            # 2^n without a float64 -> int64 conversion (AVX2 has none): n + 1.5 * 2^52
            # holds n in its low mantissa bits; adding the bias and shifting those 12 bits
            # into the exponent field builds 2^n with integer SIMD only.
            kn = np.float64(n + 6755399441055744.0).view(np.int64)
            s = np.int64((kn + np.int64(1023)) << 52).view(np.float64)
            keep = np.float64(x >= -708.3)
            return q * s * keep

        return impl64
    return None


# ----------------------------------------------------------------------------- rows
@njit(inline="always", **_JIT)
def _fill_direct(Xs, Yt, i, j0, w, dot, buf):
    """buf[:w] = ||x_i - y_j||^2 (dot=False) or x_i . y_j (dot=True), j in [j0, j0+w).

    Columns are read through slices starting at j0 so every index is a non-negative
    loop counter: numba then emits no wrap-around check and LLVM vectorises the loop.
    """
    d = Xs.shape[1]
    if dot:
        xk = Xs[i, 0]
        yk = Yt[0, j0:]
        for j in range(w):
            buf[j] = xk * yk[j]
        for k in range(1, d):
            xk = Xs[i, k]
            yk = Yt[k, j0:]
            for j in range(w):
                buf[j] += xk * yk[j]
    else:
        xk = Xs[i, 0]
        yk = Yt[0, j0:]
        for j in range(w):
            t = xk - yk[j]
            buf[j] = t * t
        for k in range(1, d):
            xk = Xs[i, k]
            yk = Yt[k, j0:]
            for j in range(w):
                t = xk - yk[j]
                buf[j] += t * t


@njit(inline="always", **_JIT)
def _fill_gemm(T, r, xn, yn, i, j0, w, dot, zero, buf):
    """buf[:w] from the BLAS cross-product tile row T[r]: distances or dots."""
    tr = T[r]
    if dot:
        for j in range(w):
            buf[j] = tr[j]
    else:
        xi = xn[i]
        ynj = yn[j0:]
        for j in range(w):
            buf[j] = max(xi + ynj[j] - (tr[j] + tr[j]), zero)


@njit(inline="always", **_JIT)
def _fill_gemm_refined(T, r, xn, yn, i, j0, w, zero, buf, Xs, Ys, refine):
    """:func:`_fill_gemm` for distances, with those below ``refine`` (xn_i + yn_j)
    recomputed from direct differences of the rows Xs[i], Ys[j]: there the expansion has
    lost most of its digits, and kinked profiles such as Laplace's, which read sqrt(s),
    would be off by ~1e-8 (float64) at coincident points."""
    tr = T[r]
    xi = xn[i]
    ynj = yn[j0:]
    close = 0
    for j in range(w):  # fill and count close pairs in one vectorised pass: they are rare
        norms = xi + ynj[j]
        sq = max(norms - (tr[j] + tr[j]), zero)
        buf[j] = sq
        close += sq <= refine * norms
    if close == 0:
        return
    d = Xs.shape[1]
    for j in range(w):
        if buf[j] <= refine * (xi + ynj[j]):
            t = Xs[i, 0] - Ys[j0 + j, 0]
            acc = t * t
            for k in range(1, d):
                t = Xs[i, k] - Ys[j0 + j, k]
                acc += t * t
            buf[j] = acc


@njit(inline="always", **_JIT)
def _profile(buf, w, code, p):
    """In place: buf[j] = f(buf[j]) for the kernel profile ``code``."""
    a = p[P_A]
    b = p[P_B]
    c = p[P_C]
    one = p[P_ONE]
    if code == GAUSSIAN:  # exp(a s), a = -1/2
        for j in range(w):
            buf[j] = fexp(a * buf[j])
    elif code == LAPLACE:  # exp(-sqrt(s))
        for j in range(w):
            buf[j] = fexp(-np.sqrt(buf[j]))
    elif code == MATERN32:  # (1 + a r) exp(-a r), a = sqrt(3)
        for j in range(w):
            ar = a * np.sqrt(buf[j])
            buf[j] = (one + ar) * fexp(-ar)
    elif code == MATERN52:  # (1 + a r + b s) exp(-a r), a = sqrt(5), b = 5/3
        for j in range(w):
            s = buf[j]
            ar = a * np.sqrt(s)
            buf[j] = (one + ar + b * s) * fexp(-ar)
    elif code == IMQ:  # (a + s)^b, a = c^2, b = -beta
        for j in range(w):
            buf[j] = (a + buf[j]) ** b
    elif code == RQ:  # (1 + a s)^b, a = 1/(2 alpha), b = -alpha
        for j in range(w):
            buf[j] = (one + a * buf[j]) ** b
    elif code == LINEAR:
        pass
    elif code == POLY:  # (a t + b)^c
        for j in range(w):
            buf[j] = (a * buf[j] + b) ** c


@njit(inline="always", **_JIT)
def _log_profile(buf, w, code, p):
    """In place: buf[j] = log f(buf[j]) (positive profiles only)."""
    a = p[P_A]
    b = p[P_B]
    one = p[P_ONE]
    if code == GAUSSIAN:
        for j in range(w):
            buf[j] = a * buf[j]
    elif code == LAPLACE:
        for j in range(w):
            buf[j] = -np.sqrt(buf[j])
    elif code == MATERN32:
        for j in range(w):
            ar = a * np.sqrt(buf[j])
            buf[j] = np.log1p(ar) - ar
    elif code == MATERN52:
        for j in range(w):
            s = buf[j]
            ar = a * np.sqrt(s)
            buf[j] = np.log(one + ar + b * s) - ar
    elif code == IMQ:
        for j in range(w):
            buf[j] = b * np.log(a + buf[j])
    elif code == RQ:
        for j in range(w):
            buf[j] = b * np.log1p(a * buf[j])


@njit(inline="always", **_JIT)
def _accumulate(buf, w, j0, Vt, acc, r, zero):
    """acc[r, c] += sum_j buf[j] * Vt[c, j0 + j] (tile sum in working dtype)."""
    for c in range(Vt.shape[0]):
        vc = Vt[c, j0:]
        s = zero
        for j in range(w):
            s += buf[j] * vc[j]
        acc[r, c] += s


@njit(inline="always", **_JIT)
def _profile_accumulate(buf, w, j0, code, p, Vt, acc, r, zero):
    """Fused f(buf) and the multiply-accumulate for the common one-vector case.

    One pass over the L1-resident buffer instead of two; other profiles and several
    right-hand sides take the two-pass route.
    """
    if Vt.shape[0] == 1 and code <= MATERN32:
        a = p[P_A]
        one = p[P_ONE]
        v = Vt[0, j0:]
        s = zero
        if code == GAUSSIAN:
            for j in range(w):
                s += fexp(a * buf[j]) * v[j]
        elif code == LAPLACE:
            for j in range(w):
                s += fexp(-np.sqrt(buf[j])) * v[j]
        else:
            for j in range(w):
                ar = a * np.sqrt(buf[j])
                s += (one + ar) * fexp(-ar) * v[j]
        acc[r, 0] += s
    else:
        _profile(buf, w, code, p)
        _accumulate(buf, w, j0, Vt, acc, r, zero)


@njit(inline="always", **_JIT)
def _lse_update(buf, w, j0, code, p, logw, mx, sm, r, use_w):
    """Streaming log-sum-exp of a row tile: buf[:w] holds distances; fold
    log f(buf) + log w into the running (max mx[r], shifted sum sm[r]).

    Two passes over the L1-resident buffer: log-kernel, weights and the tile maximum
    together (one pass for the Gaussian), then the shifted exponential sum.
    """
    tmax = p[P_NEGINF]
    if code == GAUSSIAN:
        a = p[P_A]
        if use_w:
            lw = logw[j0:]
            for j in range(w):
                v = a * buf[j] + lw[j]
                buf[j] = v
                tmax = max(tmax, v)
        else:
            for j in range(w):
                v = a * buf[j]
                buf[j] = v
                tmax = max(tmax, v)
    else:
        _log_profile(buf, w, code, p)
        if use_w:
            lw = logw[j0:]
            for j in range(w):
                buf[j] += lw[j]
        for j in range(w):
            tmax = max(tmax, buf[j])
    if tmax == p[P_NEGINF]:
        return
    s = p[P_ZERO]
    for j in range(w):
        s += fexp(buf[j] - tmax)
    tm = np.float64(tmax)
    if tm > mx[r]:
        sm[r] = sm[r] * math.exp(mx[r] - tm) + s
        mx[r] = tm
    else:
        sm[r] += s * math.exp(tm - mx[r])


@njit(inline="always", **_JIT)
def _knn_update(buf, w, j0, best_d, best_i, r):
    """Keep the k smallest buf values (ties to the earlier column) in sorted order."""
    k = best_d.shape[1]
    thr = best_d[r, k - 1]
    # Vectorised screens: most tiles hold no candidate once the row has warmed up, and in
    # those that do, only a few short chunks are scanned element by element.
    low = buf[0]
    for j in range(1, w):
        low = min(low, buf[j])
    if not low < thr:
        return
    for c0 in range(0, w, _KNN_CHUNK):
        c1 = min(w, c0 + _KNN_CHUNK)
        low = buf[c0]
        for j in range(c0 + 1, c1):
            low = min(low, buf[j])
        if not low < thr:
            continue
        for j in range(c0, c1):
            v = buf[j]
            if v < thr:
                pos = k - 1
                while pos > 0 and best_d[r, pos - 1] > v:
                    best_d[r, pos] = best_d[r, pos - 1]
                    best_i[r, pos] = best_i[r, pos - 1]
                    pos -= 1
                best_d[r, pos] = v
                best_i[r, pos] = j0 + j
                thr = best_d[r, k - 1]


# ------------------------------------------------------------------ direct entry points
@njit(**_JIT)
def matvec_direct(Xs, Yt, i0, i1, tile_m, dot, code, p, Vt, acc):
    m = Yt.shape[1]
    buf = np.empty(tile_m, dtype=Xs.dtype)
    zero = p[P_ZERO]
    for j0 in range(0, m, tile_m):
        w = min(tile_m, m - j0)
        for i in range(i0, i1):
            _fill_direct(Xs, Yt, i, j0, w, dot, buf)
            _profile_accumulate(buf, w, j0, code, p, Vt, acc, i - i0, zero)


@njit(**_JIT)
def tile_direct(Xs, Yt, i0, i1, j0, w, dot, code, p, out):
    """out[:i1-i0, :w] = kernel values of rows [i0, i1) against columns [j0, j0+w)."""
    for i in range(i0, i1):
        row = out[i - i0]
        _fill_direct(Xs, Yt, i, j0, w, dot, row)
        _profile(row, w, code, p)


@njit(**_JIT_NNAN)
def lse_direct(Xs, Yt, i0, i1, tile_m, code, p, logw, use_w, mx, sm):
    m = Yt.shape[1]
    buf = np.empty(tile_m, dtype=Xs.dtype)
    for j0 in range(0, m, tile_m):
        w = min(tile_m, m - j0)
        for i in range(i0, i1):
            _fill_direct(Xs, Yt, i, j0, w, False, buf)
            _lse_update(buf, w, j0, code, p, logw, mx, sm, i - i0, use_w)


@njit(**_JIT_NNAN)
def knn_direct(Xs, Yt, i0, i1, tile_m, best_d, best_i):
    m = Yt.shape[1]
    buf = np.empty(tile_m, dtype=Xs.dtype)
    for j0 in range(0, m, tile_m):
        w = min(tile_m, m - j0)
        for i in range(i0, i1):
            _fill_direct(Xs, Yt, i, j0, w, False, buf)
            _knn_update(buf, w, j0, best_d, best_i, i - i0)


# -------------------------------------------------------------------- GEMM entry points
# ``Xs, Ys, refine``: the scaled rows and the fraction below which distances are
# recomputed directly (:func:`_fill_gemm_refined`; 0 for profiles that do not need it).
@njit(**_JIT)
def matvec_gemm(T, xn, yn, i0, i1, j0, w, dot, code, p, Vt, acc, Xs, Ys, refine):
    buf = np.empty(w, dtype=T.dtype)
    zero = p[P_ZERO]
    for i in range(i0, i1):
        if refine > 0:
            _fill_gemm_refined(T, i - i0, xn, yn, i, j0, w, zero, buf, Xs, Ys, refine)
        else:
            _fill_gemm(T, i - i0, xn, yn, i, j0, w, dot, zero, buf)
        _profile_accumulate(buf, w, j0, code, p, Vt, acc, i - i0, zero)


@njit(**_JIT)
def tile_gemm(T, xn, yn, i0, i1, j0, w, dot, code, p, Xs, Ys, refine):
    """In place: the cross-product tile T becomes the kernel tile."""
    zero = p[P_ZERO]
    buf = np.empty(w, dtype=T.dtype)
    for i in range(i0, i1):
        r = i - i0
        if refine > 0:
            _fill_gemm_refined(T, r, xn, yn, i, j0, w, zero, buf, Xs, Ys, refine)
        else:
            _fill_gemm(T, r, xn, yn, i, j0, w, dot, zero, buf)
        _profile(buf, w, code, p)
        for j in range(w):
            T[r, j] = buf[j]


@njit(**_JIT_NNAN)
def lse_gemm(T, xn, yn, i0, i1, j0, w, code, p, logw, use_w, mx, sm, Xs, Ys, refine):
    buf = np.empty(w, dtype=T.dtype)
    zero = p[P_ZERO]
    for i in range(i0, i1):
        if refine > 0:
            _fill_gemm_refined(T, i - i0, xn, yn, i, j0, w, zero, buf, Xs, Ys, refine)
        else:
            _fill_gemm(T, i - i0, xn, yn, i, j0, w, False, zero, buf)
        _lse_update(buf, w, j0, code, p, logw, mx, sm, i - i0, use_w)


@njit(**_JIT_NNAN)
def knn_gemm(T, xn, yn, i0, i1, j0, w, best_d, best_i):
    buf = np.empty(w, dtype=T.dtype)
    zero = xn[0] * 0
    for i in range(i0, i1):
        _fill_gemm(T, i - i0, xn, yn, i, j0, w, False, zero, buf)
        _knn_update(buf, w, j0, best_d, best_i, i - i0)

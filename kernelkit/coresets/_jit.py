"""Compiled building blocks of kernel thinning (numba, ``cache=True``, ``nogil``).

Everything works on one *block* of p points, given by the same kernel arguments:

* ``P`` (C, d, p) float64: the block's coordinates divided by each component's bandwidth,
  transposed so that loops over points read contiguous memory and vectorise.
* ``codes`` (C,) int64: the profile of each component (``GAUSSIAN`` ... ``RQ``).
* ``consts`` (C, 2) float64: profile constants (IMQ: c², β; RQ: α).
* ``scales`` (C,) float64: output scale of each component; the kernel is their sum.
* ``K`` (p, p) float64: the block's Gram matrix (matrix mode), or shape (0, 0) to compute
  kernel values from ``P`` on demand (points mode).

Positions 0..p-1 index the block. Kernel rows are accumulated in place (``add_row``), so the
inner loops are elementwise over contiguous points; exponentials use the engine's
vectorisable ``fexp``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from ..ops.backends._jit import fexp

_JIT: dict[str, Any] = {"nogil": True, "cache": True, "error_model": "numpy",
        "fastmath": {"contract", "arcp", "nsz", "afn"}}

GAUSSIAN, LAPLACE, MATERN32, MATERN52, IMQ, RQ = 0, 1, 2, 3, 4, 5
_SQRT3 = math.sqrt(3.0)
_SQRT5 = math.sqrt(5.0)


@njit(**_JIT)
def _profile(code, s, c0, c1):  # pragma: no cover - compiled
    if code == GAUSSIAN:
        return fexp(-0.5 * s)
    if code == LAPLACE:
        return fexp(-math.sqrt(s))
    if code == MATERN32:
        a = _SQRT3 * math.sqrt(s)
        return (1.0 + a) * fexp(-a)
    if code == MATERN52:
        a = _SQRT5 * math.sqrt(s)
        return (1.0 + a + (5.0 / 3.0) * s) * fexp(-a)
    if code == IMQ:
        return (c0 + s) ** (-c1)
    return (1.0 + s / (2.0 * c0)) ** (-c0)


@njit(**_JIT)
def kpair(a, b, P, codes, consts, scales, K):  # pragma: no cover - compiled
    """k(x_a, x_b) for block positions a, b."""
    if K.shape[0] > 0:
        return K[a, b]
    total = 0.0
    for c in range(codes.shape[0]):
        s = 0.0
        for t in range(P.shape[1]):
            diff = P[c, t, a] - P[c, t, b]
            s += diff * diff
        total += scales[c] * _profile(codes[c], s, consts[c, 0], consts[c, 1])
    return total


@njit(**_JIT)
def add_row(q, coef, out, lo, P, codes, consts, scales, K, buf):  # pragma: no cover
    """out[x] += coef * k(x_q, x_x) for block positions x in [lo, p). ``buf``: (p,).

    Loops run over slices starting at ``lo`` with a counter from 0, so numba emits no
    wrap-around checks and LLVM vectorises them (as in the engine's fused loops).
    """
    o = out[lo:]
    if K.shape[0] > 0:
        row = K[q, lo:]
        for j in range(row.shape[0]):
            o[j] += coef * row[j]
        return
    w = P.shape[2] - lo
    b = buf[lo:]
    for c in range(codes.shape[0]):
        v = P[c, 0, q]
        col = P[c, 0, lo:]
        for j in range(w):
            t = col[j] - v
            b[j] = t * t
        for dim in range(1, P.shape[1]):
            v = P[c, dim, q]
            col = P[c, dim, lo:]
            for j in range(w):
                t = col[j] - v
                b[j] += t * t
        cs = coef * scales[c]
        code = codes[c]
        c0 = consts[c, 0]
        c1 = consts[c, 1]
        if code == GAUSSIAN:
            for j in range(w):
                o[j] += cs * fexp(-0.5 * b[j])
        elif code == LAPLACE:
            for j in range(w):
                o[j] += cs * fexp(-math.sqrt(b[j]))
        elif code == MATERN32:
            for j in range(w):
                a = _SQRT3 * math.sqrt(b[j])
                o[j] += cs * (1.0 + a) * fexp(-a)
        elif code == MATERN52:
            for j in range(w):
                a = _SQRT5 * math.sqrt(b[j])
                o[j] += cs * (1.0 + a + (5.0 / 3.0) * b[j]) * fexp(-a)
        elif code == IMQ:
            for j in range(w):
                o[j] += cs * (c0 + b[j]) ** (-c1)
        else:
            for j in range(w):
                o[j] += cs * (1.0 + b[j] / (2.0 * c0)) ** (-c0)


@njit(**_JIT)
def sub_block(pos, P, K):  # pragma: no cover - compiled
    """The kernel arguments of the sub-block of positions ``pos``."""
    if K.shape[0] > 0:
        q = pos.shape[0]
        Ks = np.empty((q, q))
        for a in range(q):
            for b in range(q):
                Ks[a, b] = K[pos[a], pos[b]]
        return P, Ks
    C, d, _ = P.shape
    Q = np.empty((C, d, pos.shape[0]))
    for c in range(C):
        for t in range(d):
            for a in range(pos.shape[0]):
                Q[c, t, a] = P[c, t, pos[a]]
    return Q, K


@njit(**_JIT)
def halve(log_mult, u, P, codes, consts, scales, K):  # pragma: no cover - compiled
    """Kernel halving (one KT-SPLIT round) of a block of even size p.

    Pair i = (2i, 2i+1) sends one point to coreset 0 and the other to coreset 1: point 2i
    goes to coreset 1 with probability (1 - alpha / threshold) / 2, decided by ``u[i]``,
    where alpha = <k(x_2i, .) - k(x_2i+1, .), sum_1 - sum_0> sums over the points already
    in each coreset and the threshold adapts to a running sub-Gaussian constant.
    ``psi[x] = sum_1 k(x, .) - sum_0 k(x, .)`` is kept for the points still to come.
    Returns the two coresets as positions, shape (2, p // 2).
    """
    p = P.shape[2] if K.shape[0] == 0 else K.shape[0]
    h = p // 2
    out = np.empty((2, h), dtype=np.int64)
    psi = np.zeros(p)
    buf = np.empty(p)
    sig = 0.0
    for i in range(h):
        a = 2 * i
        b = a + 1
        b2 = (kpair(a, a, P, codes, consts, scales, K) + kpair(b, b, P, codes, consts, scales, K)
              - 2.0 * kpair(a, b, P, codes, consts, scales, K))
        if b2 < 0.0:
            b2 = 0.0
        thresh = math.sqrt(sig * b2 * log_mult)
        if b2 > thresh:
            thresh = b2
        if sig == 0.0:
            sig = b2
        elif thresh != 0.0:
            update = 1.0 + (b2 / thresh - 2.0) * sig / thresh
            if update > 0.0:
                sig += b2 * update
        if thresh == 0.0:
            thresh = 1.0
        alpha = psi[a] - psi[b]
        if u[i] <= 0.5 * (1.0 - alpha / thresh):
            c0, c1 = b, a
        else:
            c0, c1 = a, b
        out[0, i] = c0
        out[1, i] = c1
        if b + 1 < p:
            add_row(c1, 1.0, psi, b + 1, P, codes, consts, scales, K, buf)
            add_row(c0, -1.0, psi, b + 1, P, codes, consts, scales, K, buf)
    return out


@njit(**_JIT)
def split(m, delta, u, P, codes, consts, scales, K):  # pragma: no cover - compiled
    """KT-SPLIT: ``m`` rounds of halving of the whole block (p = size * 2^m points).

    Returns the 2^m candidate coresets as positions, shape (2^m, p / 2^m). Round j halves
    each of its 2^j sets (of q points) with failure parameter delta / m, i.e. threshold
    multiplier 2 log(2 q m / delta), using the uniforms ``u[j, c * q/2:(c + 1) * q/2]``
    for set c.
    """
    p = P.shape[2] if K.shape[0] == 0 else K.shape[0]
    current = np.arange(p).reshape(1, p)
    for j in range(m):
        num, size = current.shape
        half = size // 2
        nxt = np.empty((2 * num, half), dtype=np.int64)
        log_mult = 2.0 * math.log(2.0 * size * m / delta)
        for c in range(num):
            pos = current[c]
            if j == 0:
                Ps, Ks = P, K
            else:
                Ps, Ks = sub_block(pos, P, K)
            halves = halve(log_mult, u[j, c * half:(c + 1) * half], Ps, codes, consts,
                           scales, Ks)
            for t in range(half):
                nxt[2 * c, t] = pos[halves[0, t]]
                nxt[2 * c + 1, t] = pos[halves[1, t]]
        current = nxt
    return current


@njit(**_JIT)
def rel_mmd2(core, mean_k, P, codes, consts, scales, K):  # pragma: no cover - compiled
    """MMD² of the coreset to the whole block, minus the (constant) mean of K."""
    s = core.shape[0]
    Ps, Ks = sub_block(core, P, K)
    acc = np.zeros(s)
    buf = np.empty(s)
    for a in range(s):
        add_row(a, 1.0, acc, 0, Ps, codes, consts, scales, Ks, buf)
    ca = 0.0
    for a in range(s):
        ca += mean_k[core[a]]
    return acc.sum() / (s * s) - 2.0 * ca / s


@njit(**_JIT)
def best(cores, baseline, mean_k, tol, P, codes, consts, scales, K):  # pragma: no cover
    """Index of the candidate with the smallest MMD (-1: the baseline is best).

    A candidate must beat the best so far by more than ``tol``: complementary halves
    (m = 1) tie exactly, and rounding must not decide between them.
    """
    best_value = rel_mmd2(baseline, mean_k, P, codes, consts, scales, K)
    which = -1
    for c in range(cores.shape[0]):
        value = rel_mmd2(cores[c], mean_k, P, codes, consts, scales, K)
        if value < best_value - tol:
            best_value = value
            which = c
    return which


@njit(**_JIT)
def refine(core, mean_k, core_sums, unique, passes, P, codes, consts, scales,
           K):  # pragma: no cover - compiled
    """KT-SWAP in place: replace each coreset point in turn by the block point that most
    lowers the MMD to the whole block (``unique``: only points not in the coreset; ties
    keep the current point, then the lowest position).

    The statistic stat[x] = k(x, x) / s - 2 mean_k[x] + (2 / s) sum_core k(x, .) is the
    change of MMD² (times s / 2, up to a constant) from adding x. ``core_sums`` holds
    sum_core k(x, .) when known (else pass shape (0,)). Runs at most ``passes`` sweeps,
    stopping after a sweep that changed nothing; returns the sweeps run.
    """
    p = mean_k.shape[0]
    s = core.shape[0]
    two_s = 2.0 / s
    stat = np.empty(p)
    row = np.zeros(p)
    buf = np.empty(p)
    member = np.zeros(p, dtype=np.bool_)
    for x in range(p):
        stat[x] = kpair(x, x, P, codes, consts, scales, K) / s - 2.0 * mean_k[x]
    for a in range(s):
        member[core[a]] = True
    if core_sums.shape[0] == p:
        for x in range(p):
            stat[x] += two_s * core_sums[x]
    else:
        for a in range(s):
            add_row(core[a], two_s, stat, 0, P, codes, consts, scales, K, buf)
    sweeps = 0
    for _ in range(passes):
        sweeps += 1
        changed = False
        for a in range(s):
            old = core[a]
            row[:] = 0.0
            add_row(old, two_s, row, 0, P, codes, consts, scales, K, buf)
            new = old
            low = stat[old] - row[old]
            for x in range(p):
                v = stat[x] - row[x]
                if v < low and not (unique and member[x]):
                    low = v
                    new = x
            if new == old:
                continue
            changed = True
            core[a] = new
            member[old] = False
            member[new] = True
            for x in range(p):
                stat[x] -= row[x]
            add_row(new, two_s, stat, 0, P, codes, consts, scales, K, buf)
        if not changed:
            break
    return sweeps

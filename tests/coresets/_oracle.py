"""Dense numpy oracles of kernel thinning and Compress++ (test-only, O(n^2) memory).

Straightforward transcriptions of the algorithms in the papers on full kernel matrices,
consuming random numbers in the same order as kernelkit.coresets, so that the fast
implementation must make exactly the same decisions.
"""

from __future__ import annotations

import math

import numpy as np


def halve(K, pos, log_mult, u):
    """Kernel halving of positions ``pos`` (pairs in order) on the dense matrix K."""
    h = len(pos) // 2
    out0, out1 = [], []
    sig = 0.0
    for i in range(h):
        a, b = pos[2 * i], pos[2 * i + 1]
        b2 = max(K[a, a] + K[b, b] - 2 * K[a, b], 0.0)
        thresh = max(math.sqrt(sig * b2 * log_mult), b2)
        if sig == 0:
            sig = b2
        elif thresh != 0:
            update = 1 + (b2 / thresh - 2) * sig / thresh
            if update > 0:
                sig += b2 * update
        if thresh == 0:
            thresh = 1.0
        # alpha = <k(a, .) - k(b, .), sum over coreset 1 - sum over coreset 0>
        alpha = sum(K[a, c1] - K[a, c0] + K[b, c0] - K[b, c1]
                    for c0, c1 in zip(out0, out1, strict=True))
        if u[i] <= 0.5 * (1 - alpha / thresh):
            out0.append(b)
            out1.append(a)
        else:
            out0.append(a)
            out1.append(b)
    return out0, out1


def split(K, m, delta, u):
    p = K.shape[0]
    sets = [list(range(p))]
    for j in range(m):
        half = len(sets[0]) // 2
        log_mult = 2 * math.log(2 * len(sets[0]) * m / delta)
        new = []
        for c, pos in enumerate(sets):
            new.extend(halve(K, pos, log_mult, u[j, c * half:(c + 1) * half]))
        sets = new
    return sets


def mmd2(K, core):
    """Squared MMD between all points and the coreset (a multiset)."""
    core = np.asarray(core)
    return K.mean() - 2 * K[core].mean() + K[np.ix_(core, core)].mean()


def refine(K, core, unique, passes):
    """KT-SWAP: replace each point by the one giving the smallest MMD (all candidates).

    The MMD² of every trial coreset (point a replaced by x) is computed densely from
    its definition, vectorised over x.
    """
    core = list(core)
    p, s = K.shape[0], len(core)
    mean_k = K.mean(axis=1)
    for _ in range(passes):
        changed = False
        for a in range(s):
            old = core[a]
            rest = np.asarray(core[:a] + core[a + 1:], dtype=int)
            cross = K[rest].mean(axis=1).sum() if s > 1 else 0.0
            within = K[np.ix_(rest, rest)].sum()
            trial = (K.mean() - 2 * (cross + mean_k) / s
                     + (within + 2 * K[:, rest].sum(axis=1) + np.diag(K)) / s**2)
            allowed = np.ones(p, dtype=bool)
            if unique:
                allowed[core] = False
            allowed[old] = True
            # keep the current point on ties (within rounding), else the lowest position
            best_x = old
            for x in np.flatnonzero(allowed):
                if trial[x] < trial[best_x] - 1e-12 * abs(K).max():
                    best_x = int(x)
            changed |= best_x != old
            core[a] = best_x
        if not changed:
            break
    return core


def thin(K_split, K_swap, m, delta, rng, unique=False, symmetrize=False, passes=4):
    p = K_swap.shape[0]
    if m == 0:
        return list(range(p))
    u = rng.random((m, p // 2))
    coin = rng.random()
    sets = split(K_split, m, delta, u)
    baseline = list(range(p - 1, -1, -(2 ** m)))[::-1]
    best = baseline
    for core in sets:
        # complementary halves tie exactly: the first one is kept
        if mmd2(K_swap, core) < mmd2(K_swap, best) - 1e-12 * abs(K_swap).max():
            best = core
    core = refine(K_swap, best, unique, passes)
    if symmetrize and coin < 0.5:
        core = [x for x in range(p) if x not in core]
    return core


def compress_pp(K, size, m, g, delta, rng, unique=False, passes=4):
    """Compress++ on the whole of K (n = size * 2^m) with oversampling g."""
    g = min(g, m)
    n = K.shape[0]
    if g == m:
        return thin(K, K, m, delta, rng, unique=unique, passes=passes)
    halve_prob = 0.5 * delta / (4.0 ** (g + 1) * (m - g) * n)

    def sub(ids):
        return K[np.ix_(ids, ids)]

    def run_thin(ids, rounds, sym):
        d = min(halve_prob * len(ids) ** 2, 0.5)
        local = thin(sub(ids), sub(ids), rounds, d, rng, unique=True, symmetrize=sym,
                     passes=1)
        return [ids[x] for x in local]

    def compress(ids, out):
        if len(ids) == 2 * out:
            return run_thin(ids, 1, True)
        if len(ids) % 4 or out % 2:
            return run_thin(ids, int(round(math.log2(len(ids) / out))), False)
        q = len(ids) // 4
        parts = [compress(ids[i * q:(i + 1) * q], out // 2) for i in range(4)]
        return run_thin(sum(parts, []), 1, True)

    inter = compress(list(range(n)), size << g)
    local = thin(sub(inter), sub(inter), g, 0.5 * delta, rng, unique=unique, passes=passes)
    return [inter[x] for x in local]

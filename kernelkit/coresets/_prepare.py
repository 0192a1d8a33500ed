"""Shared preparation for the coreset algorithms: inputs, default kernel, kernel data.

A kernel is *compiled* here when it is a radial kernel with a compiled profile (Gaussian,
Laplace, Matérn, IMQ, rational quadratic), a positive multiple of one, or a sum of such
kernels: its values are then computed on demand inside numba. Other kernels are
evaluated through their dense ``kernel(X, Y)`` on blocks small enough for the memory
budget (``kernelkit.config_context(working_memory=...)``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._config import get_config
from .._validation import check_array
from ..exceptions import InputTypeError, MemoryBudgetError, ParameterError
from ..kernels import Gaussian, Kernel, Scaled, Sum
from . import _jit

_PROFILE_CODES = {"gaussian": _jit.GAUSSIAN, "laplace": _jit.LAPLACE,
                  "matern32": _jit.MATERN32, "matern52": _jit.MATERN52,
                  "imq": _jit.IMQ, "rq": _jit.RQ}
#: Points used for the median-distance bandwidth of the default kernel.
MEDIAN_SAMPLE = 1000
_EMPTY = np.empty((0, 0))


def check_data(X: Any) -> np.ndarray:
    """X as a 2-D finite float array (float32 or float64; not copied)."""
    return check_array(X, "X")


def check_rng(random_state: Any) -> np.random.Generator:
    """A numpy Generator from None, an int, a SeedSequence or a Generator."""
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    try:
        return np.random.default_rng(random_state)
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"random_state must be None, an int or a numpy Generator, got {random_state!r}."
        ) from exc


def check_kernel(kernel: Any, X: np.ndarray, rng: np.random.Generator) -> Kernel:
    """The given kernel, or a Gaussian with the median-distance bandwidth."""
    if kernel is None:
        return Gaussian(bandwidth=median_bandwidth(X, rng))
    if not isinstance(kernel, Kernel):
        raise InputTypeError(
            f"kernel must be a kernelkit Kernel (e.g. kernelkit.kernels.Gaussian(bandwidth=1))"
            f" or None, got {type(kernel).__name__}."
        )
    kernel._check_n_features(X.shape[1])
    return kernel


def median_bandwidth(X: np.ndarray, rng: np.random.Generator) -> float:
    """Median pairwise distance of (a random subsample of) X; 1.0 if all points coincide."""
    n = X.shape[0]
    sub = X if n <= MEDIAN_SAMPLE else X[rng.choice(n, MEDIAN_SAMPLE, replace=False)]
    sub = np.asarray(sub, dtype=np.float64)
    sq = (sub * sub).sum(axis=1)
    d2 = np.clip(sq[:, None] + sq[None, :] - 2.0 * sub @ sub.T, 0.0, None)
    upper = d2[np.triu_indices(sub.shape[0], k=1)]
    med = math.sqrt(float(np.median(upper))) if upper.size else 0.0
    return med if med > 0.0 else 1.0


def check_size(size: Any, n: int, name: str = "size") -> int:
    """A coreset size in [1, n]."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise ParameterError(f"{name} must be an integer between 1 and n = {n}, got {size!r}.")
    size = int(size)
    if size < 1 or size > n:
        raise ParameterError(
            f"{name} = {size} is outside [1, n = {n}]; pass a size between 1 and the "
            "number of rows of X."
        )
    return size


def thinning_plan(n: int, size: int | None) -> tuple[int, int]:
    """(size, rounds): the coreset size and the number m of halving rounds.

    ``size=None`` picks m = floor(log2(n) / 2) and size = n // 2^m (about sqrt(n)). Otherwise
    m = floor(log2(n / size)). Either way size * 2^m <= n points are thinned.
    """
    if size is None:
        m = max(int(math.floor(math.log2(n) / 2)), 0)
        return n >> m, m
    m = int(math.floor(math.log2(n / size)))
    while size << (m + 1) <= n:  # guard against rounding in log2
        m += 1
    while m > 0 and size << m > n:
        m -= 1
    return size, m


def drop_remainder(n: int, keep: int, rng: np.random.Generator, method: str) -> np.ndarray:
    """Row indices kept: all of them, or ``keep`` rows chosen uniformly at random (in their
    original order) with a warning naming how many were dropped."""
    if keep == n:
        return np.arange(n, dtype=np.int64)
    warnings.warn(
        f"{method} halves the data, so it needs n = size * 2^m points; {n - keep} of the "
        f"{n} rows were dropped at random and the coreset is a thinning of the other "
        f"{keep}. Pick size so that n / size is a power of two to use every row.",
        UserWarning, stacklevel=3,
    )
    return np.sort(rng.choice(n, keep, replace=False)).astype(np.int64)


def _components(kernel: Kernel, scale: float = 1.0) -> list[tuple[Any, float]] | None:
    """(fused spec, scale) of each compiled radial term of a kernel, or None."""
    if isinstance(kernel, Sum):
        a = _components(kernel.k1, scale)
        b = _components(kernel.k2, scale)
        return None if a is None or b is None else a + b
    if isinstance(kernel, Scaled) and isinstance(kernel.kernel, Sum):
        try:
            factor = float(kernel.scale)
        except TypeError:
            return None
        return _components(kernel.kernel, scale * factor)
    spec = kernel._fused()
    if spec is None or spec.kind != "radial" or spec.profile not in _PROFILE_CODES:
        return None
    return [(spec, scale * float(spec.scale))]


def root_kernel(kernel: Kernel) -> Kernel | None:
    """A square-root kernel of ``kernel`` up to scale, when one has a closed form.

    The Gaussian kernel with bandwidth h is, up to a constant, the convolution of the
    Gaussian with bandwidth h / sqrt(2) with itself; scaling does not change KT-SPLIT.
    """
    inner = kernel.kernel if isinstance(kernel, Scaled) else kernel
    if type(inner) is Gaussian:
        bw = inner.bandwidth
        if type(bw).__module__.split(".")[0] == "torch":
            bw = bw.detach().cpu().numpy()
        bw = np.asarray(bw, dtype=np.float64)
        return Gaussian(bandwidth=(bw / math.sqrt(2.0)) if bw.ndim else float(bw) / math.sqrt(2))
    return None


@dataclass
class KernelData:
    """A kernel prepared for the compiled code on one data set (see ``_jit``)."""

    kernel: Kernel
    X: np.ndarray
    inv_bandwidths: list[np.ndarray] | None  # one per compiled component, or None
    codes: np.ndarray
    consts: np.ndarray
    scales: np.ndarray

    @property
    def compiled(self) -> bool:
        return self.inv_bandwidths is not None

    def coordinates(self, ids: np.ndarray) -> np.ndarray:
        """P (C, d, p): rows ``ids`` divided by each component's bandwidth, transposed."""
        if self.inv_bandwidths is None:
            return np.empty((0, 0, 0))
        d = self.X.shape[1]
        P = np.empty((len(self.inv_bandwidths), d, ids.shape[0]))
        rows = self.X[ids]
        for c, inv in enumerate(self.inv_bandwidths):
            np.multiply(rows, inv, out=P[c].T, casting="unsafe")
        return P

    def block(self, ids: np.ndarray) -> tuple[Any, ...]:
        """The ``_jit`` kernel arguments (P, codes, consts, scales, K) of rows ``ids``:
        coordinates P for values on demand (compiled kernels), else the Gram matrix K."""
        if self.inv_bandwidths is None:
            K = np.asarray(self.kernel(self.X[ids]), dtype=np.float64)
            return (np.empty((0, 0, 0)), self.codes, self.consts, self.scales, K)
        return (self.coordinates(ids), self.codes, self.consts, self.scales, _EMPTY)


def prepare(kernel: Kernel, X: np.ndarray) -> KernelData:
    """Kernel data for ``kernel`` on the rows of X (X is not copied or modified)."""
    comps = _components(kernel)
    if comps is None:
        return KernelData(kernel, X, None, np.zeros(0, np.int64), np.zeros((0, 2)),
                          np.zeros(0))
    codes = np.empty(len(comps), dtype=np.int64)
    consts = np.zeros((len(comps), 2))
    scales = np.empty(len(comps))
    inv = []
    for c, (spec, scale) in enumerate(comps):
        inv.append(np.asarray(spec.inv_bandwidth, dtype=np.float64))
        codes[c] = _PROFILE_CODES[spec.profile]
        consts[c, :len(spec.params)] = spec.params
        scales[c] = scale
    return KernelData(kernel, X, inv, codes, consts, scales)


def matrix_fits(p: int) -> bool:
    """Whether a p x p float64 Gram matrix fits the working-memory budget."""
    return 8.0 * p * p <= get_config()["working_memory"] * 2.0**20


def require_matrix(p: int, kernel: Kernel) -> None:
    """Raise when a kernel without a compiled form would need a too large Gram matrix."""
    if not matrix_fits(p):
        budget = get_config()["working_memory"]
        raise MemoryBudgetError(
            f"{kernel!r} has no compiled form, so kernel thinning evaluates it on a {p} x {p} "
            f"Gram matrix ({8 * p * p / 2**20:.0f} MiB), over the working_memory budget of "
            f"{budget:g} MiB. Use method='compress++' (small blocks), a Gaussian, Laplace, "
            "Matern, IMQ or rational quadratic kernel (computed on demand), or raise "
            "working_memory with kernelkit.config_context."
        )

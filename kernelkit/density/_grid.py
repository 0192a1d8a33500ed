"""Gridded KDE: linear binning + FFT convolution (d <= 3)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import InputValueError, ParameterError
from ._bandwidth import select_bandwidth
from ._binning import linear_binning
from ._kernels import resolve_kernel

__all__ = ["GridDensity", "grid_density", "interpolate", "MAX_GRID_FEATURES"]

#: Largest dimension the binned FFT estimate supports (the grid has grid_size^d points).
MAX_GRID_FEATURES = 3


@dataclass(frozen=True)
class GridDensity:
    """A density evaluated on a regular grid.

    Attributes
    ----------
    axes : tuple of ndarray
        Grid coordinates per feature, each of shape (grid_size[k],).
    density : ndarray of shape tuple(grid_size)
        Normalised density at the grid points (``density[i, j]`` at
        ``(axes[0][i], axes[1][j])``).
    bandwidth : ndarray of shape (n_features,)
    error_bound : float
        For the Gaussian kernel, a bound on ``|density - exact KDE|`` at every grid point
        (the linear binning error, see :func:`grid_density`); ``nan`` for other kernels.
    """

    axes: tuple[np.ndarray, ...]
    density: np.ndarray
    bandwidth: np.ndarray
    error_bound: float

    def __iter__(self):  # type: ignore[no-untyped-def]
        """Unpack as ``axes, density = grid_density(...)``."""
        return iter((self.axes, self.density))


def _grid_sizes(grid_size: Any, d: int) -> list[int]:
    sizes = [grid_size] * d if isinstance(grid_size, numbers.Integral) else list(grid_size)
    if len(sizes) != d or any(isinstance(s, bool) or not isinstance(s, numbers.Integral)
                              or s < 2 for s in sizes):
        raise ParameterError(f"grid_size must be an integer >= 2 or one per feature ({d}), "
                             f"got {grid_size!r}.")
    return [int(s) for s in sizes]


def grid_density(X: Any, *, grid_size: Any = 256, bandwidth: Any = "scott",
                 weights: Any = None, kernel: Any = "gaussian", cut: float = 3.0,
                 ) -> GridDensity:
    r"""Kernel density on a regular grid by linear binning and FFT convolution.

    The points are spread onto the grid with multilinear (tent) weights, and the binned
    counts are convolved (``scipy.fft``) with the kernel sampled at every grid offset where
    it exceeds 1e-17 of its peak (all offsets for kernels without a known tail), so
    truncation is negligible. Cost O(n 2^d + G log G) for G grid points.

    Accuracy: linear binning smooths like an extra kernel of variance :math:`\Delta_k^2/6`
    per axis (on average over where points fall in their cells), so for the Gaussian the
    binned counts are convolved with bandwidths :math:`\tilde h_k = (h_k^2 -
    \Delta_k^2/6)^{1/2}` (when :math:`\Delta_k^2 \le 3 h_k^2`), which cancels the leading
    error term: errors are several times smaller than plain binning's. Worst case, each
    kernel term changes by at most its interpolation error plus the variance change, so
    at every grid point

    .. math:: |\hat f_{grid} - \hat f| \le \sum_k \frac{5 \Delta_k^2}{24 \tilde h_k^2}
              \prod_k \frac{1}{\tilde h_k \sqrt{2\pi}}

    (:math:`\Delta_k^2 / (8 h_k^2)` instead of the first factor without the correction),
    returned as ``error_bound``. Keep :math:`\Delta_k \le h_k / 3`. Compact kernels with
    a jump (tophat) have O(Δ/h) errors.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), n_features <= 3
    grid_size : int or sequence of int, default=256
        Points per dimension.
    bandwidth : float, array-like of shape (n_features,) or str, default="scott"
        As in :class:`KernelDensity` (a selector name is resolved on X).
    weights : array-like of shape (n_samples,), default=None
    kernel : str or Kernel, default="gaussian"
    cut : float, default=3.0
        The grid extends ``cut * bandwidth`` beyond the data on each side.

    Returns
    -------
    result : GridDensity
        ``axes`` and ``density`` (unpacks as ``axes, density``), ``bandwidth``,
        ``error_bound``.

    Raises
    ------
    ParameterError
        More than 3 features (use ``KernelDensity(method="exact")``), bad grid sizes.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.density import grid_density
    >>> X = np.random.default_rng(0).normal(size=(10_000, 1))
    >>> axes, density = grid_density(X, grid_size=512, bandwidth=0.2)
    >>> round(float(density.sum() * (axes[0][1] - axes[0][0])), 4)  # integrates to 1
    1.0
    """
    X = np.asarray(X)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2 or X.shape[0] == 0:
        raise InputValueError(f"X must have shape (n_samples, n_features), got {X.shape}.")
    X = X.astype(np.float64, copy=False)
    if not np.isfinite(X).all():
        raise InputValueError("X contains NaN or infinity; remove or impute those values.")
    n, d = X.shape
    if d > MAX_GRID_FEATURES:
        raise ParameterError(
            f"grid_density supports at most {MAX_GRID_FEATURES} features (the grid grows "
            f"as grid_size^d), the data has {d}; use KernelDensity(method='exact'), which "
            "works in any dimension.")
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64).ravel()
        if w.shape != (n,) or not np.isfinite(w).all() or (w < 0).any() or not w.sum() > 0:
            raise InputValueError("weights must be finite, >= 0, not all zero, one per row.")
    sizes = _grid_sizes(grid_size, d)
    if isinstance(bandwidth, str):
        h = select_bandwidth(bandwidth, X, w)
    else:
        from ._kde import check_bandwidth

        h = np.broadcast_to(np.asarray(check_bandwidth(bandwidth, d), dtype=np.float64),
                            (d,)).copy()
    if not (isinstance(cut, numbers.Real) and cut >= 0 and math.isfinite(cut)):
        raise ParameterError(f"cut must be a finite number >= 0, got {cut!r}.")
    dk = resolve_kernel(kernel, d)
    lo, hi = X.min(axis=0) - cut * h, X.max(axis=0) + cut * h
    axes = tuple(np.linspace(lo[k], hi[k], sizes[k]) for k in range(d))
    counts = linear_binning(X, list(axes), w)
    steps = np.array([(hi[k] - lo[k]) / (sizes[k] - 1) for k in range(d)])
    total = float(counts.sum())
    # Linear binning smooths like a kernel of variance Δ²/6 per axis (on average over the
    # points' positions in their cells); for the Gaussian, convolving with the variance
    # h² - Δ²/6 instead cancels that leading error term (when Δ² <= 3 h²).
    corrected = dk.name == "gaussian" and bool(np.all(steps ** 2 <= 3.0 * h ** 2))
    hk = np.sqrt(h ** 2 - steps ** 2 / 6.0) if corrected else h
    # Kernel offsets: the whole grid, or as far as the kernel is non-negligible (compact
    # support; Gaussian and exponential beyond 1e-17 of their peak), whichever is shorter.
    reach = dk.tail_radius(math.log(1e-17))
    offsets = []
    for k, s in enumerate(sizes):
        half = s - 1 if not np.isfinite(reach) else \
            min(s - 1, int(math.ceil(reach * hk[k] / steps[k])) + 1)
        offsets.append(np.arange(-half, half + 1) * steps[k] / hk[k])
    from scipy.signal import fftconvolve  # lazily: slow to import, only needed here

    if dk.name == "gaussian":  # separable: one 1-D convolution per axis
        smooth = counts
        for k in range(d):
            shape = [1] * d
            shape[k] = offsets[k].size
            kern = np.exp(-0.5 * offsets[k] ** 2).reshape(shape)
            smooth = fftconvolve(smooth, kern, mode="same", axes=k)
    else:
        mesh = np.meshgrid(*offsets, indexing="ij")
        r = np.sqrt(sum(m * m for m in mesh))
        smooth = fftconvolve(counts, dk.radial()(r), mode="same")
    log_norm = -math.log(total) - float(np.sum(np.log(hk))) - dk.log_integral
    density = np.maximum(smooth, 0.0) * math.exp(log_norm)
    bound = math.nan
    if dk.name == "gaussian":
        # Interpolation error of the sampled kernel (Δ²/8 max|K''|) plus, when corrected,
        # the change of variance (Δ²/12 max|K''| by the heat equation); max|∂²φ_σ| =
        # φ_σ(0) / σ² and the smallest variance is hk².
        peak = float(np.prod(1.0 / (hk * math.sqrt(2 * math.pi))))
        factor = 5.0 / 24.0 if corrected else 1.0 / 8.0
        bound = float(np.sum(factor * steps ** 2 / hk ** 2)) * peak
    return GridDensity(axes, density, h, bound)


def interpolate(grid: GridDensity, Q: np.ndarray) -> np.ndarray:
    """Multilinear interpolation of a grid density at points Q (0 outside the grid)."""
    from scipy.interpolate import RegularGridInterpolator

    f = RegularGridInterpolator(grid.axes, grid.density, bounds_error=False, fill_value=0.0)
    return np.maximum(f(np.asarray(Q, dtype=np.float64)), 0.0)

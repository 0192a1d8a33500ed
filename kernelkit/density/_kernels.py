"""Smoothing kernels of density estimation: names, normalisers, radial log-profiles.

A density kernel here is a radial function k(u) = f(||u||) with u = (x - y) / h, turned
into a probability density by dividing by its integral ``Z_d = ∫ f(||u||) du`` (over
R^d) and by ``prod(h)``. scikit-learn's six names get closed-form normalisers (the same
as ``sklearn.neighbors.KernelDensity``); any other stationary kernelkit kernel gets its
integral by quadrature of the radial profile.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import ParameterError
from ..kernels import (
    CosineWindow,
    Epanechnikov,
    Gaussian,
    Kernel,
    Laplace,
    Periodic,
    StationaryKernel,
    Tophat,
    Triangular,
)

__all__ = ["SKLEARN_KERNELS", "DensityKernel", "resolve_kernel"]

#: The kernel names of scikit-learn's KernelDensity.
SKLEARN_KERNELS = ("gaussian", "tophat", "epanechnikov", "exponential", "linear", "cosine")

_BUILDERS: dict[str, Any] = {
    "gaussian": Gaussian, "tophat": Tophat, "epanechnikov": Epanechnikov,
    "exponential": Laplace, "linear": Triangular, "cosine": CosineWindow,
}


def _log_vn(d: int) -> float:
    """log volume of the unit ball in R^d."""
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1)


def _log_sn(n: int) -> float:
    """log surface area of the unit sphere S^n (in R^{n+1})."""
    return math.log(2.0) + 0.5 * (n + 1) * math.log(math.pi) - math.lgamma(0.5 * (n + 1))


def _log_integral(name: str, d: int) -> float:
    """log ∫_{R^d} f(||u||) du for the named unit-bandwidth kernel (closed forms)."""
    if name == "gaussian":
        return 0.5 * d * math.log(2 * math.pi)
    if name == "tophat":
        return _log_vn(d)
    if name == "epanechnikov":
        return _log_vn(d) + math.log(2.0 / (d + 2.0))
    if name == "exponential":
        return _log_sn(d - 1) + math.lgamma(d)
    if name == "linear":
        return _log_vn(d) - math.log(d + 1.0)
    # cosine: ∫_0^1 r^{d-1} cos(pi r / 2) dr by repeated integration by parts.
    total, term = 0.0, 2.0 / math.pi
    for k in range(1, d + 1, 2):
        total += term
        term *= -(d - k) * (d - k - 1) * (2.0 / math.pi) ** 2
    return math.log(total) + _log_sn(d - 1)


def _radial_profile(kernel: StationaryKernel) -> Callable[[np.ndarray], np.ndarray]:
    unit = copy.deepcopy(kernel)
    unit.bandwidth = 1.0
    return lambda r: np.asarray(unit._profile(np.asarray(r, dtype=np.float64) ** 2, np))


def _log_integral_numeric(kernel: StationaryKernel, d: int) -> float:
    """log of S_{d-1} ∫_0^∞ r^{d-1} f(r) dr, by adaptive quadrature."""
    from scipy.integrate import quad

    f = _radial_profile(kernel)
    with np.errstate(all="ignore"):
        head, _ = quad(lambda r: r ** (d - 1) * float(f(r)), 0.0, 1.0, limit=200)
        tail, _ = quad(lambda r: r ** (d - 1) * float(f(r)), 1.0, np.inf, limit=200)
    total = head + tail
    if not (np.isfinite(total) and total > 0) or float(f(np.array(1e6))) * 1e6 ** d > 1e-3 * total:
        raise ParameterError(
            f"{kernel!r} is not integrable over R^{d} (its tails are too heavy), so it has "
            "no normalised density; use kernel='gaussian' or another integrable kernel."
        )
    return math.log(total) + (_log_sn(d - 1) if d > 1 else math.log(2.0))


@dataclass(frozen=True)
class DensityKernel:
    """A resolved density kernel.

    Attributes
    ----------
    name : str
        scikit-learn name, or the kernelkit class name.
    template : StationaryKernel
        A kernel of this shape; :meth:`with_bandwidth` gives one with a bandwidth.
    log_integral : float
        log ∫ f(||u||) du over R^d (unit bandwidth).
    positive : bool
        k > 0 everywhere: densities are reduced with ``logsumexp``; else ``kernel_sum``.
    support : float
        Radius (in bandwidth units) beyond which k is exactly 0; ``inf`` if none.
    """

    name: str
    template: StationaryKernel
    log_integral: float
    positive: bool
    support: float

    @property
    def has_tail(self) -> bool:
        """Whether :meth:`log_tail` is known (f decreasing with a closed-form bound)."""
        return self.name in ("gaussian", "exponential")

    def log_tail(self, R: float) -> float:
        """An upper bound of log f(r) for every r >= R."""
        if self.name == "gaussian":
            return -0.5 * R * R
        if self.name == "exponential":
            return -R
        raise NotImplementedError(self.name)

    def with_bandwidth(self, bandwidth: Any) -> StationaryKernel:
        kernel = copy.deepcopy(self.template)
        kernel.set_params(bandwidth=bandwidth)
        return kernel  # type: ignore[no-any-return]

    def radial(self) -> Callable[[np.ndarray], np.ndarray]:
        """f(r) for unit bandwidth, vectorised."""
        return _radial_profile(self.template)

    def tail_radius(self, log_level: float) -> float:
        """Smallest R with log f(r) <= log_level for all r >= R (``inf`` if unknown)."""
        if np.isfinite(self.support):
            return self.support
        if self.name == "gaussian":
            return math.sqrt(max(-2.0 * log_level, 0.0))
        if self.name == "exponential":
            return max(-log_level, 0.0)
        return math.inf


def resolve_kernel(kernel: Any, n_features: int) -> DensityKernel:
    """The density kernel for a name or a kernelkit kernel, in ``n_features`` dimensions.

    Raises
    ------
    ParameterError
        Unknown names, kernels that are not radial with a bandwidth, or not integrable.
    """
    d = n_features
    if isinstance(kernel, str):
        if kernel not in _BUILDERS:
            raise ParameterError(
                f"kernel must be one of {list(SKLEARN_KERNELS)} or a kernelkit stationary "
                f"kernel, got {kernel!r}."
            )
        cls = _BUILDERS[kernel]
        positive = kernel in ("gaussian", "exponential")
        return DensityKernel(kernel, cls(bandwidth=1.0), _log_integral(kernel, d), positive,
                             math.inf if positive else 1.0)
    if not isinstance(kernel, StationaryKernel) or isinstance(kernel, Periodic) or \
            "bandwidth" not in kernel._param_names:
        raise ParameterError(
            f"kernel must be one of {list(SKLEARN_KERNELS)} or a radial kernelkit kernel "
            f"with a bandwidth (Gaussian, Laplace, Matern, ...), got {kernel!r}."
        )
    if isinstance(kernel, Gaussian):
        return resolve_kernel("gaussian", d)
    if isinstance(kernel, Laplace):
        return resolve_kernel("exponential", d)
    for name, cls in _BUILDERS.items():
        if type(kernel) is cls:
            return resolve_kernel(name, d)
    template = copy.deepcopy(kernel)
    template.set_params(bandwidth=1.0)
    return DensityKernel(type(kernel).__name__, template,
                         _log_integral_numeric(template, d), bool(kernel.positive),
                         math.inf)


def is_kernel(value: Any) -> bool:
    return isinstance(value, Kernel)

"""Spectral densities of stationary kernels, for random Fourier features.

By Bochner's theorem a stationary kernel k(x, y) = a · κ((x - y) / h) with κ(0) = 1 is
``a · E_ω[cos(ω·(x - y) / h)]`` for ω drawn from its spectral density. Every kernel here
has an *isotropic Gaussian scale mixture* density: ω = z · sqrt(g) with z ~ N(0, I_d) and
an independent scalar g ≥ 0 (g = 1 for the Gaussian kernel):

==========================  ======================================  ==================
kernel                      κ(r), r = ||x - y|| / h                 mixing law of g
==========================  ======================================  ==================
Gaussian                    exp(-r²/2)                              g = 1
Laplace = Matérn ν = 1/2    exp(-r)                                 InvGamma(1/2, 1/2)
Matérn ν                    Matérn (Rasmussen & Williams 4.14)      InvGamma(ν, ν)
RationalQuadratic α         (1 + r²/(2α))^(-α)                      Gamma(α, 1/α)
InverseMultiquadric c, β    c^(2β) (c² + r²)^(-β)                   Gamma(β, 2/c²)
==========================  ======================================  ==================

The Matérn and Laplace densities are multivariate Student-t with 2ν degrees of freedom
(Cauchy for Laplace: kernelkit's Laplace uses the Euclidean norm, so its density is the
isotropic multivariate Cauchy, not a product of 1-D Cauchy densities). ``Scaled`` kernels
multiply the amplitude a.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats

from ..exceptions import InputTypeError
from ..kernels import (
    Gaussian,
    InverseMultiquadric,
    Kernel,
    Laplace,
    Matern,
    RationalQuadratic,
    Scaled,
)

__all__ = ["Spectrum", "spectrum_of", "SUPPORTED"]

SUPPORTED = ("Gaussian", "Laplace", "Matern", "RationalQuadratic", "InverseMultiquadric",
             "and positive multiples of these (c * kernel)")


@dataclass(frozen=True)
class Spectrum:
    """ω = z · sqrt(g) / bandwidth with z ~ N(0, I); features scaled by sqrt(amplitude)."""

    amplitude: float
    bandwidth: Any  # float or ndarray of shape (n_features,)
    mixing: Any  # a frozen scipy.stats distribution of g, or None for g = 1
    gaussian: bool  # True when g = 1 (the Gaussian kernel)

    def sample_g(self, m: int, rng: np.random.Generator) -> np.ndarray:
        if self.mixing is None:
            return np.ones(m)
        return np.asarray(self.mixing.rvs(size=m, random_state=rng), dtype=np.float64)

    def g_from_uniform(self, u: np.ndarray) -> np.ndarray:
        if self.mixing is None:
            return np.ones(u.shape[0])
        return np.asarray(self.mixing.ppf(u), dtype=np.float64)

    def sample(self, m: int, d: int, rng: np.random.Generator) -> np.ndarray:
        """m i.i.d. frequencies in the bandwidth-1 space, shape (m, d)."""
        return rng.standard_normal((m, d)) * np.sqrt(self.sample_g(m, rng))[:, None]

    def radii(self, m: int, d: int, rng: np.random.Generator) -> np.ndarray:
        """m i.i.d. norms ||ω|| (bandwidth-1 space): sqrt(χ²_d · g)."""
        return np.sqrt(rng.chisquare(d, size=m) * self.sample_g(m, rng))


def _plain(kernel: Kernel) -> Any:
    bandwidth = kernel.get_params(deep=False).get("bandwidth", 1.0)
    if type(bandwidth).__module__.split(".")[0] == "torch":
        bandwidth = bandwidth.detach().cpu().numpy()
    return float(bandwidth) if np.ndim(bandwidth) == 0 else np.asarray(bandwidth, float)


def spectrum_of(kernel: Kernel) -> Spectrum:
    """The spectral density of a supported stationary kernel, else InputTypeError."""
    amplitude = 1.0
    while isinstance(kernel, Scaled):
        params = kernel.get_params(deep=False)
        amplitude *= float(params["scale"])
        kernel = params["kernel"]
    kind = type(kernel)
    if kind is Gaussian:
        return Spectrum(amplitude, _plain(kernel), None, True)
    if kind is Laplace or kind is Matern:
        nu = 0.5 if kind is Laplace else float(kernel.get_params()["nu"])
        return Spectrum(amplitude, _plain(kernel), scipy.stats.invgamma(a=nu, scale=nu), False)
    if kind is RationalQuadratic:
        alpha = float(kernel.get_params()["alpha"])
        return Spectrum(amplitude, _plain(kernel),
                        scipy.stats.gamma(a=alpha, scale=1.0 / alpha), False)
    if kind is InverseMultiquadric:
        params = kernel.get_params()
        c, beta = float(params["c"]), float(params["beta"])
        return Spectrum(amplitude * c ** (-2.0 * beta), _plain(kernel),
                        scipy.stats.gamma(a=beta, scale=2.0 / (c * c)), False)
    raise InputTypeError(
        f"{kernel!r} has no spectral density kernelkit knows, so it has no random Fourier "
        f"features; supported kernels: {', '.join(SUPPORTED)}. Use Nystroem for any kernel."
    )

"""A catalogue of kernels covering every built-in kind, for tests that sweep them all."""

from __future__ import annotations

import numpy as np

from ..kernels import (
    Cosine,
    Gaussian,
    InverseMultiquadric,
    Kernel,
    Laplace,
    Linear,
    Matern,
    Periodic,
    Polynomial,
    RationalQuadratic,
)

__all__ = ["example_kernels"]


def example_kernels(n_features: int, *, compiled: bool | None = None) -> dict[str, Kernel]:
    """One kernel of every built-in kind, with bandwidths suited to unit-variance data.

    Parameters
    ----------
    n_features : int
        Number of features of the data the kernels will see (bandwidths scale with
        its square root; per-feature bandwidths have this length).
    compiled : bool or None, default=None
        True: only kernels the compiled engine evaluates; False: only the others (sums,
        products, periodic); None: all.

    Returns
    -------
    kernels : dict of str to Kernel

    Examples
    --------
    >>> from kernelkit.testing import example_kernels
    >>> sorted(example_kernels(3, compiled=False))
    ['periodic', 'product', 'sum']
    """
    d = n_features
    root = float(np.sqrt(d))
    fused: dict[str, Kernel] = {
        "gaussian": Gaussian(bandwidth=0.8 * root),
        "gaussian-ard": Gaussian(bandwidth=np.linspace(0.5, 1.5, d) * root),
        "laplace": Laplace(bandwidth=1.3),
        "matern32": Matern(nu=1.5, bandwidth=root),
        "matern52": Matern(nu=2.5, bandwidth=root),
        "imq": InverseMultiquadric(c=1.2, beta=0.7, bandwidth=root),
        "rq": RationalQuadratic(alpha=1.5, bandwidth=root),
        "linear": Linear(),
        "poly": Polynomial(degree=2, gamma=0.5 / d, coef0=1.0),
        "cosine": Cosine(),
        "scaled": 2.5 * Gaussian(bandwidth=root),
    }
    generic: dict[str, Kernel] = {
        "periodic": Periodic(period=2.0, bandwidth=1.0),
        "sum": Gaussian(bandwidth=root) + 0.5 * Laplace(bandwidth=2.0),
        "product": Gaussian(bandwidth=root) * Matern(nu=2.5, bandwidth=3.0),
    }
    if compiled is True:
        return fused
    if compiled is False:
        return generic
    return {**fused, **generic}

"""Stationary (radial) kernels: functions of the scaled distance ||(x - y) / h||."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from .._validation import check_positive
from ._base import StationaryKernel

__all__ = ["Gaussian", "Laplace"]


class Gaussian(StationaryKernel):
    r"""Gaussian (squared-exponential, RBF) kernel.

    .. math:: k(x, y) = \exp\left(-\frac{\lVert x - y \rVert^2}{2 h^2}\right)

    Parameters
    ----------
    bandwidth : float or array-like of shape (n_features,), default=1.0
        Length scale h > 0; an array gives one per feature (automatic relevance
        determination). May be a torch tensor with ``requires_grad`` to differentiate
        through the engine.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian
    >>> k = Gaussian(bandwidth=2.0)
    >>> float(k(np.array([[0.0]]), np.array([[2.0]]))[0, 0])  # exp(-4 / 8)
    0.6065306597126334
    """

    _param_names = ("bandwidth",)
    _profile_name = "gaussian"
    positive = True

    def __init__(self, bandwidth: Any = 1.0) -> None:
        self.bandwidth = bandwidth
        self._validate()

    def _validate(self) -> None:
        self.bandwidth = check_positive(self.bandwidth, "bandwidth", allow_array=True)

    def _profile(self, s: Any, xp: ModuleType) -> Any:
        return xp.exp(-0.5 * s)

    def _log_profile(self, s: Any, xp: ModuleType) -> Any:
        return -0.5 * s


class Laplace(StationaryKernel):
    r"""Laplace (exponential, Matérn-1/2) kernel.

    .. math:: k(x, y) = \exp\left(-\frac{\lVert x - y \rVert}{h}\right)

    Parameters
    ----------
    bandwidth : float or array-like of shape (n_features,), default=1.0
        Length scale h > 0, or one per feature.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Laplace
    >>> k = Laplace(bandwidth=2.0)
    >>> round(float(k(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0]]))[0, 0]), 6)  # exp(-5/2)
    0.082085
    """

    _param_names = ("bandwidth",)
    _profile_name = "laplace"
    positive = True

    def __init__(self, bandwidth: Any = 1.0) -> None:
        self.bandwidth = bandwidth
        self._validate()

    def _validate(self) -> None:
        self.bandwidth = check_positive(self.bandwidth, "bandwidth", allow_array=True)

    def _profile(self, s: Any, xp: ModuleType) -> Any:
        return xp.exp(-xp.sqrt(s))

    def _log_profile(self, s: Any, xp: ModuleType) -> Any:
        return -xp.sqrt(s)

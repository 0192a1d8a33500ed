"""Stationary (radial) kernels: functions of the scaled distance ||(x - y) / h||.

In the formulas below ``s = ||(x - y) / h||^2`` is the scaled squared distance and
``r = sqrt(s)``. Each kernel gives its profile f(s), a stable log f(s) and the name and
parameters of the compiled profile the engine uses (``_profile_name``, ``_profile_params``).
"""

from __future__ import annotations

import math
import numbers
from types import ModuleType
from typing import Any

from .._validation import check_positive
from ..exceptions import ParameterError
from ._base import StationaryKernel, _as_param, _safe_sqrt, _squared_distances, _zeros_rows

__all__ = ["Gaussian", "Laplace", "Matern", "InverseMultiquadric", "IMQ",
           "RationalQuadratic", "Periodic"]

_SQRT3 = math.sqrt(3.0)
_SQRT5 = math.sqrt(5.0)


class _BandwidthKernel(StationaryKernel):
    """Shared validation of the ``bandwidth`` parameter (scalar or one per feature)."""

    def _validate(self) -> None:
        self.bandwidth = check_positive(self.bandwidth, "bandwidth", allow_array=True)


class Gaussian(_BandwidthKernel):
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

    def _profile(self, s: Any, xp: ModuleType) -> Any:
        return xp.exp(-0.5 * s)

    def _log_profile(self, s: Any, xp: ModuleType) -> Any:
        return -0.5 * s


class Laplace(_BandwidthKernel):
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

    def _profile(self, s: Any, xp: ModuleType) -> Any:
        return xp.exp(-_safe_sqrt(s, xp))

    def _log_profile(self, s: Any, xp: ModuleType) -> Any:
        return -_safe_sqrt(s, xp)


_MATERN_PROFILES = {0.5: "laplace", 1.5: "matern32", 2.5: "matern52"}


class Matern(_BandwidthKernel):
    r"""Matérn kernel with smoothness :math:`\nu \in \{1/2, 3/2, 5/2\}` (closed forms).

    With :math:`r = \lVert x - y \rVert / h`:

    .. math::

        k_{1/2} = e^{-r}, \qquad
        k_{3/2} = (1 + \sqrt{3} r)\, e^{-\sqrt{3} r}, \qquad
        k_{5/2} = \left(1 + \sqrt{5} r + \tfrac{5}{3} r^2\right) e^{-\sqrt{5} r}.

    Sample paths of a Gaussian process with this covariance are :math:`\lceil\nu\rceil - 1`
    times differentiable; :math:`\nu = 1/2` is the :class:`Laplace` kernel.

    Parameters
    ----------
    nu : {0.5, 1.5, 2.5}, default=1.5
        Smoothness. Only the half-integer values with a closed form are supported.
    bandwidth : float or array-like of shape (n_features,), default=1.0
        Length scale h > 0, or one per feature. May be a torch tensor.

    References
    ----------
    .. [1] C. E. Rasmussen and C. K. I. Williams, "Gaussian Processes for Machine
       Learning", MIT Press, 2006, Section 4.2.1, eqs. (4.14)-(4.17).
    .. [2] M. L. Stein, "Interpolation of Spatial Data: Some Theory for Kriging",
       Springer, 1999.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Matern
    >>> k = Matern(nu=1.5, bandwidth=2.0)
    >>> k
    Matern(nu=1.5, bandwidth=2)
    >>> round(float(k(np.array([[0.0]]), np.array([[2.0]]))[0, 0]), 6)  # (1 + √3) e^{-√3}
    0.483358
    """

    _param_names = ("nu", "bandwidth")
    positive = True

    def __init__(self, nu: float = 1.5, bandwidth: Any = 1.0) -> None:
        self.nu = nu
        self.bandwidth = bandwidth
        self._validate()

    def _validate(self) -> None:
        nu = self.nu
        if isinstance(nu, bool) or not isinstance(nu, numbers.Real) or \
                float(nu) not in _MATERN_PROFILES:
            raise ParameterError(
                f"nu must be one of 0.5, 1.5 or 2.5 (the Matérn kernels with a closed "
                f"form), got {nu!r}; for other smoothness use the nearest of these."
            )
        self.nu = float(nu)
        super()._validate()

    @property
    def _profile_name(self) -> str:  # type: ignore[override]
        return _MATERN_PROFILES[self.nu]

    def _profile(self, s: Any, xp: ModuleType) -> Any:
        r = _safe_sqrt(s, xp)
        if self.nu == 0.5:
            return xp.exp(-r)
        if self.nu == 1.5:
            a = _SQRT3 * r
            return (1.0 + a) * xp.exp(-a)
        a = _SQRT5 * r
        return (1.0 + a + (5.0 / 3.0) * s) * xp.exp(-a)

    def _log_profile(self, s: Any, xp: ModuleType) -> Any:
        r = _safe_sqrt(s, xp)
        if self.nu == 0.5:
            return -r
        if self.nu == 1.5:
            a = _SQRT3 * r
            return xp.log1p(a) - a
        a = _SQRT5 * r
        return xp.log1p(a + (5.0 / 3.0) * s) - a


class InverseMultiquadric(_BandwidthKernel):
    r"""Inverse multiquadric (IMQ) kernel.

    .. math:: k(x, y) = \left(c^2 + \lVert (x - y) / h \rVert^2\right)^{-\beta}

    Its heavy tails make it the usual choice for kernel Stein discrepancies. Note that
    k(x, x) = c^{-2β}, not 1.

    Parameters
    ----------
    c : float, default=1.0
        Offset c > 0.
    beta : float, default=0.5
        Exponent β > 0.
    bandwidth : float or array-like of shape (n_features,), default=1.0
        Length scale h > 0, or one per feature. May be a torch tensor.

    References
    ----------
    .. [1] C. A. Micchelli, "Interpolation of scattered data: distance matrices and
       conditionally positive definite functions", Constructive Approximation 2, 1986.
    .. [2] J. Gorham and L. Mackey, "Measuring Sample Quality with Kernels", ICML 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import IMQ
    >>> k = IMQ(c=1.0, beta=0.5)
    >>> round(float(k(np.array([[0.0]]), np.array([[2.0]]))[0, 0]), 6)  # (1 + 4)^(-1/2)
    0.447214
    """

    _param_names = ("c", "beta", "bandwidth")
    _profile_name = "imq"
    positive = True

    def __init__(self, c: float = 1.0, beta: float = 0.5, bandwidth: Any = 1.0) -> None:
        self.c = c
        self.beta = beta
        self.bandwidth = bandwidth
        self._validate()

    def _validate(self) -> None:
        self.c = check_positive(self.c, "c")
        self.beta = check_positive(self.beta, "beta")
        super()._validate()

    def _profile(self, s: Any, xp: ModuleType) -> Any:
        c, beta = _as_param(self.c, s, xp), _as_param(self.beta, s, xp)
        return (c * c + s) ** (-beta)

    def _log_profile(self, s: Any, xp: ModuleType) -> Any:
        c, beta = _as_param(self.c, s, xp), _as_param(self.beta, s, xp)
        return -beta * xp.log(c * c + s)

    def _profile_params(self) -> tuple[float, ...]:
        return (self.c * self.c, self.beta)


#: Short alias of :class:`InverseMultiquadric`.
IMQ = InverseMultiquadric


class RationalQuadratic(_BandwidthKernel):
    r"""Rational quadratic kernel: a scale mixture of Gaussians.

    .. math:: k(x, y) = \left(1 + \frac{\lVert (x - y) / h \rVert^2}{2\alpha}\right)^{-\alpha}

    As α → ∞ it tends to the :class:`Gaussian` kernel with the same bandwidth.

    Parameters
    ----------
    alpha : float, default=1.0
        Scale-mixture parameter α > 0.
    bandwidth : float or array-like of shape (n_features,), default=1.0
        Length scale h > 0, or one per feature. May be a torch tensor.

    References
    ----------
    .. [1] C. E. Rasmussen and C. K. I. Williams, "Gaussian Processes for Machine
       Learning", MIT Press, 2006, eq. (4.19).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import RationalQuadratic
    >>> k = RationalQuadratic(alpha=2.0)
    >>> float(k(np.array([[0.0]]), np.array([[2.0]]))[0, 0])  # (1 + 4 / 4)^(-2)
    0.25
    """

    _param_names = ("alpha", "bandwidth")
    _profile_name = "rq"
    positive = True

    def __init__(self, alpha: float = 1.0, bandwidth: Any = 1.0) -> None:
        self.alpha = alpha
        self.bandwidth = bandwidth
        self._validate()

    def _validate(self) -> None:
        self.alpha = check_positive(self.alpha, "alpha")
        super()._validate()

    def _profile(self, s: Any, xp: ModuleType) -> Any:
        alpha = _as_param(self.alpha, s, xp)
        return (1.0 + s / (2.0 * alpha)) ** (-alpha)

    def _log_profile(self, s: Any, xp: ModuleType) -> Any:
        alpha = _as_param(self.alpha, s, xp)
        return -alpha * xp.log1p(s / (2.0 * alpha))

    def _profile_params(self) -> tuple[float, ...]:
        return (self.alpha,)


class Periodic(StationaryKernel):
    r"""Periodic (exp-sine-squared) kernel.

    .. math:: k(x, y) = \exp\left(-\frac{2 \sin^2(\pi \lVert x - y \rVert / p)}{h^2}\right)

    Here the distance is the plain Euclidean one and h only scales the exponent, as in
    scikit-learn's ``ExpSineSquared``. It is positive semi-definite for one feature (it
    is a Gaussian kernel on the circle); with several features it is a function of the
    distance that need not be, so check its Gram matrices before relying on it there.

    Parameters
    ----------
    period : float, default=1.0
        Period p > 0.
    bandwidth : float, default=1.0
        Length scale h > 0 (a scalar; no per-feature bandwidths). May be a torch tensor.

    References
    ----------
    .. [1] D. J. C. MacKay, "Introduction to Gaussian processes", in Neural Networks and
       Machine Learning, Springer, 1998.
    .. [2] C. E. Rasmussen and C. K. I. Williams, "Gaussian Processes for Machine
       Learning", MIT Press, 2006, eq. (4.31).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Periodic
    >>> k = Periodic(period=2.0, bandwidth=0.5)
    >>> x = np.array([[0.0], [0.5], [2.0]])
    >>> k(x).round(6)  # one full period apart gives 1
    array([[1.      , 0.018316, 1.      ],
           [0.018316, 1.      , 0.018316],
           [1.      , 0.018316, 1.      ]])
    """

    _param_names = ("period", "bandwidth")
    positive = True

    def __init__(self, period: float = 1.0, bandwidth: float = 1.0) -> None:
        self.period = period
        self.bandwidth = bandwidth
        self._validate()

    def _validate(self) -> None:
        self.period = check_positive(self.period, "period")
        self.bandwidth = check_positive(self.bandwidth, "bandwidth")

    def _log_tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        r = _safe_sqrt(_squared_distances(X, Y, xp), xp)
        period = _as_param(self.period, X, xp)
        h = _as_param(self.bandwidth, X, xp)
        sine = xp.sin((math.pi / period) * r)
        return (-2.0 / (h * h)) * (sine * sine)

    def _tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        return xp.exp(self._log_tile(X, Y, xp))

    def _diag(self, X: Any, xp: ModuleType) -> Any:
        return _zeros_rows(X, xp) + 1.0

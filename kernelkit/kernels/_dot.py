"""Dot-product kernels: functions of the inner product t = <x, y>.

These kernels are not stationary and can be zero or negative (no logarithm), so they
work with matvec-style reductions but not with log-sum-exp.
"""

from __future__ import annotations

import numbers
from types import ModuleType
from typing import Any

from .._validation import check_positive
from ..exceptions import ParameterError
from ._base import DotProductKernel, _as_param

__all__ = ["Linear", "Polynomial", "Cosine"]


class Linear(DotProductKernel):
    r"""Linear kernel, the plain inner product.

    .. math:: k(x, y) = \langle x, y \rangle

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Linear
    >>> Linear()(np.array([[1.0, 2.0]]), np.array([[3.0, -1.0], [0.5, 0.5]]))
    array([[1. , 1.5]])
    """

    _param_names = ()
    _profile_name = "linear"

    def __init__(self) -> None:
        self._validate()

    def _profile(self, t: Any, xp: ModuleType) -> Any:
        return t


class Polynomial(DotProductKernel):
    r"""Polynomial kernel.

    .. math:: k(x, y) = (\gamma \langle x, y \rangle + c_0)^{d}

    Parameters
    ----------
    degree : int, default=3
        Degree d >= 1.
    gamma : float, default=1.0
        Scale γ > 0 of the inner product.
    coef0 : float, default=1.0
        Offset c0 >= 0 (with c0 > 0 all monomials up to degree d are included).

    References
    ----------
    .. [1] B. Schölkopf and A. J. Smola, "Learning with Kernels", MIT Press, 2002,
       Section 2.1.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Polynomial
    >>> k = Polynomial(degree=2, gamma=0.5, coef0=1.0)
    >>> k(np.array([[1.0, 2.0]]), np.array([[2.0, 1.0]]))  # (0.5 * 4 + 1)^2
    array([[9.]])
    """

    _param_names = ("degree", "gamma", "coef0")
    _profile_name = "poly"

    def __init__(self, degree: int = 3, gamma: float = 1.0, coef0: float = 1.0) -> None:
        self.degree = degree
        self.gamma = gamma
        self.coef0 = coef0
        self._validate()

    def _validate(self) -> None:
        degree = self.degree
        if isinstance(degree, bool) or not isinstance(degree, numbers.Integral) or degree < 1:
            raise ParameterError(f"degree must be a positive integer, got {degree!r}.")
        self.degree = int(degree)
        self.gamma = check_positive(self.gamma, "gamma")
        self.coef0 = check_positive(self.coef0, "coef0", strict=False)

    def _profile(self, t: Any, xp: ModuleType) -> Any:
        gamma, coef0 = _as_param(self.gamma, t, xp), _as_param(self.coef0, t, xp)
        return (gamma * t + coef0) ** self.degree

    def _profile_params(self) -> tuple[float, ...]:
        return (self.gamma, self.coef0, self.degree)


class Cosine(DotProductKernel):
    r"""Cosine-similarity kernel.

    .. math:: k(x, y) = \frac{\langle x, y \rangle}{\lVert x \rVert \, \lVert y \rVert}

    Rows that are all zero have no direction: they raise
    :class:`~kernelkit.exceptions.InputValueError` rather than producing NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Cosine
    >>> Cosine()(np.array([[1.0, 0.0]]), np.array([[3.0, 0.0], [1.0, 1.0], [0.0, -2.0]]))
    array([[1.        , 0.70710678, 0.        ]])
    """

    _param_names = ()
    _profile_name = "linear"
    _normalize = True

    def __init__(self) -> None:
        self._validate()

    def _profile(self, t: Any, xp: ModuleType) -> Any:
        return t

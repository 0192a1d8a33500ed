"""Kernel algebra: sums, products and positive scaling of kernels."""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

from .._validation import check_positive, is_torch
from ..exceptions import ParameterError
from ._base import FusedSpec, Kernel, _as_param, _format_value

__all__ = ["Sum", "Product", "Scaled"]


def _check_kernel(value: Any, name: str) -> Kernel:
    if not isinstance(value, Kernel):
        raise ParameterError(f"{name} must be a kernelkit Kernel, got {type(value).__name__}.")
    return value


class _Binary(Kernel):
    """Shared parts of sums and products of two kernels."""

    _param_names = ("k1", "k2")

    def __init__(self, k1: Kernel, k2: Kernel) -> None:
        self.k1 = k1
        self.k2 = k2
        self._validate()

    def _validate(self) -> None:
        _check_kernel(self.k1, "k1")
        _check_kernel(self.k2, "k2")

    @property
    def positive(self) -> bool:  # type: ignore[override]
        return self.k1.positive and self.k2.positive

    @property
    def stationary(self) -> bool:  # type: ignore[override]
        return self.k1.stationary and self.k2.stationary

    def _check_n_features(self, n_features: int) -> None:
        self.k1._check_n_features(n_features)
        self.k2._check_n_features(n_features)


class Sum(_Binary):
    """Sum of two kernels, k(x, y) = k1(x, y) + k2(x, y). Usually written ``k1 + k2``.

    Parameters
    ----------
    k1, k2 : Kernel

    Examples
    --------
    >>> from kernelkit.kernels import Gaussian, Laplace
    >>> Gaussian() + Laplace()
    Gaussian(bandwidth=1) + Laplace(bandwidth=1)
    """

    def __repr__(self) -> str:
        # A Sum on the right is parenthesised so the repr evaluates to the same tree.
        right = f"({self.k2!r})" if isinstance(self.k2, Sum) else repr(self.k2)
        return f"{self.k1!r} + {right}"

    def _tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        return self.k1._tile(X, Y, xp) + self.k2._tile(X, Y, xp)

    def _log_tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        a = self.k1._log_tile(X, Y, xp)
        b = self.k2._log_tile(X, Y, xp)
        return xp.logaddexp(a, b)

    def _diag(self, X: Any, xp: ModuleType) -> Any:
        return self.k1._diag(X, xp) + self.k2._diag(X, xp)


class Product(_Binary):
    """Pointwise product of two kernels, k(x, y) = k1(x, y) * k2(x, y): ``k1 * k2``.

    Parameters
    ----------
    k1, k2 : Kernel

    Examples
    --------
    >>> from kernelkit.kernels import Gaussian, Laplace
    >>> Gaussian() * Laplace()
    Gaussian(bandwidth=1) * Laplace(bandwidth=1)
    """

    def __repr__(self) -> str:
        # Parenthesise so that evaluating the repr rebuilds the same tree: ``*`` is
        # left-associative, so a product or scaled kernel on the right needs brackets.
        left = f"({self.k1!r})" if isinstance(self.k1, Sum) else repr(self.k1)
        right = f"({self.k2!r})" if isinstance(self.k2, (Sum, Product, Scaled)) \
            else repr(self.k2)
        return f"{left} * {right}"

    def _tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        return self.k1._tile(X, Y, xp) * self.k2._tile(X, Y, xp)

    def _log_tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        return self.k1._log_tile(X, Y, xp) + self.k2._log_tile(X, Y, xp)

    def _diag(self, X: Any, xp: ModuleType) -> Any:
        return self.k1._diag(X, xp) * self.k2._diag(X, xp)


class Scaled(Kernel):
    """A kernel times a positive constant, k(x, y) = c * k0(x, y): ``c * k0``.

    Parameters
    ----------
    kernel : Kernel
    scale : float > 0
        May be a torch tensor (for gradients).

    Examples
    --------
    >>> from kernelkit.kernels import Gaussian
    >>> 3.0 * Gaussian()
    3 * Gaussian(bandwidth=1)
    """

    _param_names = ("kernel", "scale")

    def __init__(self, kernel: Kernel, scale: Any = 1.0) -> None:
        self.kernel = kernel
        self.scale = scale
        self._validate()

    def _validate(self) -> None:
        _check_kernel(self.kernel, "kernel")
        self.scale = check_positive(self.scale, "scale")

    @property
    def positive(self) -> bool:  # type: ignore[override]
        return self.kernel.positive

    @property
    def stationary(self) -> bool:  # type: ignore[override]
        return self.kernel.stationary

    def __repr__(self) -> str:
        inner = self.kernel
        text = f"({inner!r})" if isinstance(inner, (Sum, Product, Scaled)) else repr(inner)
        return f"{_format_value(self.scale)} * {text}"

    def _check_n_features(self, n_features: int) -> None:
        self.kernel._check_n_features(n_features)

    def _scale_for(self, X: Any, xp: ModuleType) -> Any:
        return _as_param(self.scale, X, xp)

    def _tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        return self._scale_for(X, xp) * self.kernel._tile(X, Y, xp)

    def _log_tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        scale = self._scale_for(X, xp)
        log_scale = xp.log(scale) if is_torch(scale) else math.log(scale)
        return log_scale + self.kernel._log_tile(X, Y, xp)

    def _diag(self, X: Any, xp: ModuleType) -> Any:
        return self._scale_for(X, xp) * self.kernel._diag(X, xp)

    def _fused(self) -> FusedSpec | None:
        if is_torch(self.scale):
            return None
        spec = self.kernel._fused()
        return None if spec is None else spec.scaled(float(self.scale))

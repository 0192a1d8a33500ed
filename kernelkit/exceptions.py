"""Typed errors and warnings raised by kernelkit.

Every error subclasses the built-in exception a caller would expect (``ValueError``,
``TypeError``, ``MemoryError``), so ``except ValueError`` keeps working, while code that
wants to react to kernelkit specifically can catch the narrower class.
"""

from __future__ import annotations

__all__ = [
    "KernelkitError",
    "InputValueError",
    "InputTypeError",
    "ParameterError",
    "ShapeError",
    "MemoryBudgetError",
    "NotPSDError",
    "NumericalWarning",
    "ConvergenceWarning",
    "OptionalDependencyError",
]


class KernelkitError(Exception):
    """Base class of every error raised on purpose by kernelkit."""


class InputValueError(KernelkitError, ValueError):
    """An input array holds values kernelkit cannot use (NaN, inf, empty, ...)."""


class ShapeError(InputValueError):
    """Input arrays have the wrong number of dimensions or mismatched shapes."""


class InputTypeError(KernelkitError, TypeError):
    """An input has a type or dtype kernelkit cannot use (strings, objects, ...)."""


class ParameterError(KernelkitError, ValueError):
    """A parameter (bandwidth, k, tolerance, ...) is outside its valid range."""


class MemoryBudgetError(KernelkitError, MemoryError):
    """An operation would exceed the configured ``working_memory`` budget."""


class NotPSDError(KernelkitError, ValueError):
    """A matrix that must be positive (semi-)definite is not, numerically."""


class OptionalDependencyError(KernelkitError, ImportError):
    """An optional dependency (torch, dask, matplotlib) is needed but not installed."""


class NumericalWarning(UserWarning):
    """A result may be inaccurate because of floating-point limits."""


class ConvergenceWarning(UserWarning):
    """An iterative solver stopped before reaching the requested tolerance."""

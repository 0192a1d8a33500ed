"""Kernels: what k(x, y) is.

Every kernel evaluates densely (``k(X, Y)``, for small inputs), has a diagonal
(``k.diag(X)``), parameters (``get_params``/``set_params``), and composes with ``+``, ``*``
and positive scaling. The engine (:mod:`kernelkit.ops`) reduces them without forming the
matrix.
"""

from ._algebra import Product, Scaled, Sum
from ._base import DotProductKernel, FusedSpec, Kernel, StationaryKernel
from ._stationary import Gaussian, Laplace

__all__ = [
    "Kernel",
    "StationaryKernel",
    "DotProductKernel",
    "FusedSpec",
    "Gaussian",
    "Laplace",
    "Sum",
    "Product",
    "Scaled",
]

"""Kernels: what k(x, y) is.

Every kernel evaluates densely (``k(X, Y)``, for small inputs), has a diagonal
(``k.diag(X)``), parameters (``get_params``/``set_params``), and composes with ``+``, ``*``
and positive scaling. The engine (:mod:`kernelkit.ops`) reduces them without forming the
matrix.
"""

from ._algebra import Product, Scaled, Sum
from ._base import DotProductKernel, FusedSpec, Kernel, StationaryKernel
from ._compact import CosineWindow, Epanechnikov, Tophat, Triangular
from ._dot import Cosine, Linear, Polynomial
from ._stationary import (
    IMQ,
    Gaussian,
    InverseMultiquadric,
    Laplace,
    Matern,
    Periodic,
    RationalQuadratic,
)

__all__ = [
    "Kernel",
    "StationaryKernel",
    "DotProductKernel",
    "FusedSpec",
    "Gaussian",
    "Laplace",
    "Matern",
    "InverseMultiquadric",
    "IMQ",
    "RationalQuadratic",
    "Periodic",
    "Linear",
    "Polynomial",
    "Cosine",
    "Tophat",
    "Epanechnikov",
    "Triangular",
    "CosineWindow",
    "Sum",
    "Product",
    "Scaled",
]

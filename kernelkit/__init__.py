"""kernelkit: scalable kernel methods on one fast, exact, memory-bounded engine.

The engine functions live at the top level::

    import kernelkit
    from kernelkit.kernels import Gaussian

    kernelkit.matvec(Gaussian(bandwidth=0.5), X, Y, V)      # K(X, Y) @ V
    kernelkit.logsumexp(Gaussian(bandwidth=0.5), X, Y)      # log sum_j k(x_i, y_j)
    kernelkit.knn(X, Y, k=10)                               # (distances, indices)
"""

from typing import Any

from . import kernels
from ._config import config_context, get_config, set_config
from .ops import kernel_sum, knn, logsumexp, matvec

__version__ = "0.1.0"

__all__ = [
    "kernels",
    "matvec",
    "kernel_sum",
    "logsumexp",
    "knn",
    "KernelOperator",
    "config_context",
    "get_config",
    "set_config",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "KernelOperator":  # imported on first use: it pulls in scipy.sparse.linalg
        from .ops.operator import KernelOperator

        return KernelOperator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

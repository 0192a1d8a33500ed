"""The engine: exact kernel reductions without forming the kernel matrix."""

from typing import Any

from .normal import normal_matvec
from .reduce import kernel_sum, knn, logsumexp, matvec

__all__ = ["matvec", "kernel_sum", "logsumexp", "knn", "normal_matvec", "KernelOperator"]


def __getattr__(name: str) -> Any:
    # KernelOperator needs scipy.sparse.linalg (~0.4 s to import): load it on first use.
    if name == "KernelOperator":
        from .operator import KernelOperator

        return KernelOperator
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

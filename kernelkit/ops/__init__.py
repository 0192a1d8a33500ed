"""The engine: exact kernel reductions without forming the kernel matrix."""

from .operator import KernelOperator
from .reduce import kernel_sum, knn, logsumexp, matvec

__all__ = ["matvec", "kernel_sum", "logsumexp", "knn", "KernelOperator"]

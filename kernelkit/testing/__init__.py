"""Conformance tests and dense oracles for kernels (and, later, operators).

``KernelTestCase`` needs pytest and is imported on first use, so the oracles and
tolerances work without it. Nothing here imports torch at import time.
"""

from typing import Any

from ._oracles import (
    naive_fused_matrix,
    naive_kernel_matrix,
    naive_knn,
    naive_log_kernel_matrix,
    naive_logsumexp,
    naive_matvec,
)
from ._tolerances import PSD_RTOL, TOLERANCES, assert_close, dtype_key

__all__ = [
    "KernelTestCase",
    "TOLERANCES",
    "PSD_RTOL",
    "assert_close",
    "dtype_key",
    "naive_kernel_matrix",
    "naive_log_kernel_matrix",
    "naive_matvec",
    "naive_logsumexp",
    "naive_knn",
    "naive_fused_matrix",
]


def __getattr__(name: str) -> Any:
    if name == "KernelTestCase":
        from ._kernel_case import KernelTestCase

        return KernelTestCase
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Conformance tests and dense oracles for kernels and operators.

``KernelTestCase`` and ``OperatorTestCase`` need pytest and are imported on first use,
so the oracles and tolerances work without it. Nothing here imports torch at import time.
"""

from typing import Any

from ._examples import example_kernels
from ._oracles import (
    naive_fused_matrix,
    naive_kernel_matrix,
    naive_knn,
    naive_log_kernel_matrix,
    naive_logsumexp,
    naive_matvec,
)
from ._tolerances import PSD_RTOL, REDUCTION_RTOL, TOLERANCES, assert_close, dtype_key

__all__ = [
    "KernelTestCase",
    "OperatorTestCase",
    "SquareOperatorTestCase",
    "TOLERANCES",
    "REDUCTION_RTOL",
    "example_kernels",
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
    if name in ("OperatorTestCase", "SquareOperatorTestCase"):
        from . import _operator_case

        return getattr(_operator_case, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

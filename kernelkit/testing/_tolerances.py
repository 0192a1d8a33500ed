"""Test tolerances, defined once and keyed by dtype.

``TOLERANCES[dtype]`` is a dict with ``rtol`` and ``atol`` that can be splatted into
``numpy.testing.assert_allclose``; ``atol`` is meant for values of order one, and
:func:`assert_close` scales it by the largest expected magnitude. ``PSD_RTOL[dtype]`` bounds
how negative the smallest eigenvalue of a Gram matrix may be, relative to ``n * max|K|``.
Keys may be given as numpy scalar types, numpy dtypes, dtype names or torch dtypes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["TOLERANCES", "PSD_RTOL", "dtype_key", "assert_close"]


def dtype_key(dtype: Any) -> type:
    """The numpy scalar type for ``dtype`` (numpy type/dtype, name or torch dtype)."""
    text = str(dtype)
    if text.startswith("torch."):
        text = text.removeprefix("torch.")
        return np.dtype(text).type
    return np.dtype(dtype).type


class _ByDtype(dict):
    """A dict keyed by numpy scalar types that also accepts dtypes and torch dtypes."""

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(dtype_key(key))

    def __contains__(self, key: object) -> bool:
        try:
            return super().__contains__(dtype_key(key))
        except TypeError:
            return False

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if key in self else default


#: rtol/atol for comparing a kernel or reduction computed in ``dtype`` with a float64
#: oracle evaluated on the same (representable) inputs.
TOLERANCES: dict[Any, dict[str, float]] = _ByDtype({
    np.float32: {"rtol": 1e-4, "atol": 1e-5},
    np.float64: {"rtol": 1e-12, "atol": 1e-13},
})

#: Smallest eigenvalue of a Gram matrix must be >= -PSD_RTOL[dtype] * n * max|K|.
PSD_RTOL: dict[Any, float] = _ByDtype({
    np.float32: 1e-5,
    np.float64: 1e-12,
})


def _to_numpy(array: Any) -> np.ndarray:
    if type(array).__module__.split(".")[0] == "torch":
        return array.detach().cpu().numpy()
    return np.asarray(array)


def assert_close(actual: Any, expected: Any, *, dtype: Any = None, err_msg: str = "") -> None:
    """Assert ``actual`` matches a float64 oracle within ``TOLERANCES[dtype]``.

    Parameters
    ----------
    actual : ndarray or Tensor
        The value under test.
    expected : array-like
        The oracle's value (float64).
    dtype : dtype, default=None
        Which tolerance to use; defaults to ``actual``'s dtype.
    err_msg : str, default=""
        Extra context shown on failure.
    """
    if dtype is None:
        dtype = actual.dtype
    actual = _to_numpy(actual)
    expected = np.asarray(expected, dtype=np.float64)
    tol = TOLERANCES[dtype]
    finite = np.abs(expected[np.isfinite(expected)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=tol["rtol"], atol=tol["atol"] * scale,
                               err_msg=err_msg)

#: Accuracy the engine promises for its reductions, against a float64 oracle.
#: ``matvec``/``kernel_sum``: ``|out_i - (K V)_i| <= rtol * sum_j |k_ij v_j|`` per row and
#: right-hand side. ``logsumexp``: absolute error in log space (a relative error of the sum).
REDUCTION_RTOL: dict[Any, float] = _ByDtype({
    np.float32: 1e-5,
    np.float64: 1e-12,
})

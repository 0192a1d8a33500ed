"""Input validation shared by kernels and the engine.

One door for every array that enters kernelkit: it checks type, dtype, dimensions and
finiteness, casts integers to float64, and never mutates or copies more than needed.
Error messages name the argument and say what to do.
"""

from __future__ import annotations

import numbers
from types import ModuleType
from typing import Any

import numpy as np

from .exceptions import InputTypeError, InputValueError, ParameterError, ShapeError

__all__ = ["is_torch", "get_namespace", "check_array", "check_pair", "check_positive",
           "result_dtype"]


def is_torch(array: Any) -> bool:
    """True for a ``torch.Tensor``, decided without importing torch."""
    return type(array).__module__.split(".")[0] == "torch"


def is_dask(array: Any) -> bool:
    """True for a ``dask.array.Array``, decided without importing dask."""
    return type(array).__module__.split(".")[0] == "dask"


def get_namespace(*arrays: Any) -> ModuleType:
    """The array module (numpy or torch) the arrays belong to.

    Mixing torch tensors with numpy arrays is allowed: the numpy arrays are converted
    later by :func:`check_array` with ``xp=torch``.
    """
    if any(is_torch(a) for a in arrays if a is not None):
        from ._optional import import_torch

        return import_torch()
    if any(is_dask(a) for a in arrays if a is not None):
        raise InputTypeError(
            "Dask arrays are accepted by the engine (kernelkit.matvec, kernel_sum, "
            "logsumexp, knn) and KernelOperator, but not here; pass numpy arrays "
            "(call .compute() first) or torch tensors."
        )
    return np


def _describe(array: Any) -> str:
    shape = getattr(array, "shape", None)
    return f"shape {tuple(shape)}" if shape is not None else f"type {type(array).__name__}"


def check_array(
    array: Any,
    name: str,
    *,
    xp: ModuleType = np,
    ndim: tuple[int, ...] = (2,),
    allow_empty: bool = False,
    finite: bool = True,
) -> Any:
    """Validate one array argument and return it as a float array of ``xp``.

    Parameters
    ----------
    array : array-like
        What the user passed.
    name : str
        The argument's name, used in error messages.
    xp : module, default=numpy
        ``numpy`` or ``torch``: the array type to return.
    ndim : tuple of int, default=(2,)
        Allowed numbers of dimensions.
    allow_empty : bool, default=False
        Whether zero rows are allowed.
    finite : bool, default=True
        Reject NaN and infinity.

    Returns
    -------
    array : ndarray or Tensor
        float32 or float64; integers and bools are cast to float64. Not copied when the
        input already qualifies.
    """
    if array is None:
        raise InputTypeError(f"{name} is None; pass an array of shape (n_samples, n_features).")
    if xp is np:
        if is_torch(array):
            raise InputTypeError(
                f"{name} is a torch tensor but the other inputs are numpy arrays; "
                "pass all inputs as torch tensors or all as numpy arrays."
            )
        arr = np.asarray(array)
        if arr.dtype.kind in "biu":
            arr = arr.astype(np.float64)
        elif arr.dtype.kind == "f":
            if arr.dtype not in (np.float32, np.float64):
                arr = arr.astype(np.float64)
        else:
            raise InputTypeError(
                f"{name} has dtype {arr.dtype}, which is not numeric; "
                "pass float32 or float64 data (convert strings/objects first)."
            )
    else:
        torch = xp
        arr = array if is_torch(array) else torch.as_tensor(np.asarray(array))
        if arr.is_complex() or arr.dtype == torch.bool or not (
            arr.is_floating_point() or arr.dtype in (torch.int8, torch.int16, torch.int32,
                                                     torch.int64, torch.uint8)
        ):
            raise InputTypeError(
                f"{name} has dtype {arr.dtype}; pass float32 or float64 tensors."
            )
        if not arr.is_floating_point():
            arr = arr.to(torch.float64)
        elif arr.dtype not in (torch.float32, torch.float64):
            arr = arr.to(torch.float64)
    if arr.ndim not in ndim:
        wanted = " or ".join(f"{k}-D" for k in ndim)
        raise ShapeError(
            f"{name} must be {wanted}, got {arr.ndim}-D ({_describe(arr)}); "
            + ("reshape 1-D data to (-1, 1) for one feature." if 2 in ndim and arr.ndim == 1
               else "reshape it to (n_samples, n_features).")
        )
    if not allow_empty and (arr.shape[0] == 0 or (arr.ndim == 2 and arr.shape[1] == 0)):
        raise InputValueError(f"{name} is empty ({_describe(arr)}); pass at least one sample "
                              "and one feature.")
    if finite:
        ok = bool(np.isfinite(arr).all()) if xp is np else bool(xp.isfinite(arr).all())
        if not ok:
            raise InputValueError(
                f"{name} contains NaN or infinity; remove or impute those values first."
            )
    return arr


def check_pair(X: Any, Y: Any, xp: ModuleType) -> tuple[Any, Any]:
    """Validate X and Y (None means X) as 2-D float arrays with the same feature count."""
    X = check_array(X, "X", xp=xp)
    Y = X if Y is None else check_array(Y, "Y", xp=xp)
    if X.shape[1] != Y.shape[1]:
        raise ShapeError(
            f"X has {X.shape[1]} features but Y has {Y.shape[1]}; "
            "both must have the same number of columns."
        )
    return X, Y


def result_dtype(*arrays: Any) -> Any:
    """float32 only when every array is float32; otherwise float64 (documented upcast)."""
    dtypes = {a.dtype for a in arrays if a is not None}
    if len(dtypes) == 1:
        return dtypes.pop()
    for a in arrays:
        if a is not None and is_torch(a):
            import torch

            return torch.float64
    return np.dtype(np.float64)


def check_positive(value: Any, name: str, *, allow_array: bool = False,
                   strict: bool = True) -> Any:
    """Validate a positive scalar parameter (or per-dimension array when allowed).

    torch tensors are accepted (so parameters can carry gradients) and checked by value.
    """
    if is_torch(value):
        arr = value.detach().cpu().numpy()
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        arr = np.asarray(float(value))
    elif allow_array and not isinstance(value, (str, bool)):
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ParameterError(f"{name} must be a positive number, got {value!r}.") from None
    else:
        raise ParameterError(f"{name} must be a positive number, got {value!r}.")
    if arr.ndim > (1 if allow_array else 0) or arr.size == 0:
        raise ParameterError(
            f"{name} must be a positive number"
            + (" or a 1-D array of one per feature" if allow_array else "")
            + f", got shape {arr.shape}."
        )
    bad = ~np.isfinite(arr) | ((arr <= 0) if strict else (arr < 0))
    if np.any(bad):
        bound = "> 0" if strict else ">= 0"
        raise ParameterError(f"{name} must be finite and {bound}, got {value!r}.")
    if is_torch(value):
        return value
    return float(arr) if arr.ndim == 0 else arr.copy()

"""Public kernel reductions: matvec, kernel_sum, logsumexp, knn.

Each function validates its inputs once, picks a backend from the input type, the
kernel and ``config_context(backend=...)``, and returns the input's array type:

* numpy in → numpy out, computed by the compiled numba backend when the kernel has a
  fused profile (Gaussian, Laplace, Matérn, IMQ, rational quadratic, linear, polynomial,
  cosine and positive multiples of these), else by the numpy reference backend;
* torch tensors in → torch tensors out; gradients flow to X, Y, V, weights and tensor
  kernel parameters;
* Dask arrays in → lazy Dask arrays out (:mod:`kernelkit.distributed`): X is split by
  rows, Y and V (in memory or Dask) are placed on the cluster once, and each task is one
  engine call on a chunk of X. X must be a Dask array when any argument is.

None of them ever forms the full n × m matrix: scratch memory is bounded by
``working_memory``; outputs and prepared copies of the inputs are O((n + m)(d + k)).

Dtypes: float32 inputs give float32 results (accumulated in float64); if any input is
float64 the computation and result are float64; integers are cast to float64.
"""

from __future__ import annotations

import numbers
from types import ModuleType
from typing import Any

import numpy as np

from .._config import get_config
from .._validation import check_array, check_pair, get_namespace, is_dask, result_dtype
from ..exceptions import InputValueError, ParameterError, ShapeError
from ..kernels._base import Kernel
from .backends import numba_backend, numpy_backend

__all__ = ["matvec", "kernel_sum", "logsumexp", "knn"]


# ------------------------------------------------------------------------- validation
def _dask_engine(*arrays: Any) -> ModuleType | None:
    """The Dask implementation when any input is a Dask array, else None."""
    if any(is_dask(a) for a in arrays if a is not None):
        from ..distributed import _engine

        return _engine
    return None


def _check_kernel(kernel: Any) -> Kernel:
    if not isinstance(kernel, Kernel):
        raise ParameterError(
            f"kernel must be a kernelkit Kernel (e.g. kernelkit.kernels.Gaussian()), "
            f"got {type(kernel).__name__}."
        )
    return kernel


def _cast(A: Any, dtype: Any, xp: ModuleType) -> Any:
    if A is None or A.dtype == dtype:
        return A
    return A.astype(dtype) if xp is np else A.to(dtype)


def _check_xy(kernel: Kernel | None, X: Any, Y: Any, xp: ModuleType) -> tuple[Any, Any]:
    X, Y = check_pair(X, Y, xp)
    if kernel is not None:
        kernel._check_n_features(X.shape[1])
    return X, Y


def _check_rhs(V: Any, name: str, m: int, xp: ModuleType) -> Any:
    V = check_array(V, name, xp=xp, ndim=(1, 2))
    if V.shape[0] != m:
        raise ShapeError(
            f"{name} has {V.shape[0]} rows but Y has {m}; {name} needs one row per row of Y."
        )
    return V


def _check_weights(weights: Any, m: int, xp: ModuleType) -> Any:
    w = _check_rhs(weights, "weights", m, xp)
    if w.ndim != 1:
        raise ShapeError(f"weights must be 1-D of shape ({m},), got shape {tuple(w.shape)}; "
                         "use matvec for several vectors.")
    return w


def _backend(kernel: Kernel, xp: ModuleType) -> str:
    """'numba', 'numpy' or 'torch' for this call."""
    choice = get_config()["backend"]
    compiled = numba_backend.supports(kernel._fused())
    if choice == "auto":
        if xp is not np:
            return "torch"
        return "numba" if compiled else "numpy"
    if choice == "numba" and not compiled:
        raise ParameterError(
            f"backend='numba' was requested but {kernel!r} has no compiled path; "
            "use backend='auto' or 'numpy'."
        )
    if choice == "torch" and xp is np:
        from .._optional import import_torch

        import_torch()
    return choice


# ------------------------------------------------------------------------- reductions
def matvec(kernel: Kernel, X: Any, Y: Any, V: Any) -> Any:
    """Kernel matrix–vector (or matrix–matrix) product K(X, Y) @ V, without forming K.

    Parameters
    ----------
    kernel : Kernel
        Any kernelkit kernel.
    X : array-like, Tensor or dask array of shape (n, d)
        A Dask X (chunked by rows) gives lazy Dask results; see :mod:`kernelkit.distributed`.
    Y : array-like or Tensor of shape (m, d), or None
        None means ``Y = X``.
    V : array-like or Tensor of shape (m,) or (m, k)
        One or several right-hand sides.

    Returns
    -------
    out : ndarray or Tensor of shape (n,) or (n, k)
        ``out[i] = sum_j k(X[i], Y[j]) V[j]``, same array type as the inputs.

    Raises
    ------
    ShapeError
        Mismatched features or rows, or arrays of the wrong dimension.
    InputValueError
        NaN/inf or empty inputs.
    InputTypeError
        Non-numeric inputs.

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> from kernelkit.kernels import Gaussian
    >>> rng = np.random.default_rng(0)
    >>> X, Y, v = rng.normal(size=(4, 3)), rng.normal(size=(6, 3)), rng.normal(size=6)
    >>> out = kernelkit.matvec(Gaussian(bandwidth=1.5), X, Y, v)
    >>> np.allclose(out, Gaussian(bandwidth=1.5)(X, Y) @ v)
    True
    """
    if (dask_engine := _dask_engine(X, Y, V)) is not None:
        return dask_engine.matvec(kernel, X, Y, V)
    kernel = _check_kernel(kernel)
    xp = get_namespace(X, Y, V)
    X, Y = _check_xy(kernel, X, Y, xp)
    V = _check_rhs(V, "V", Y.shape[0], xp)
    dtype = result_dtype(X, Y, V)
    X, Y, V = (_cast(A, dtype, xp) for A in (X, Y, V))
    V2 = V[:, None] if V.ndim == 1 else V
    out = _matvec(kernel, X, Y, V2, xp)
    return out[:, 0] if V.ndim == 1 else out


def _matvec(kernel: Kernel, X: Any, Y: Any, V: Any, xp: ModuleType) -> Any:
    backend = _backend(kernel, xp)
    if xp is not np:
        from .backends import torch_backend as tb

        if backend == "torch" and tb.needs_grad(kernel, X, Y, V):
            return tb.matvec(kernel, X, Y, V)
        out = _matvec_numpy(kernel, tb.to_numpy(X), tb.to_numpy(Y), tb.to_numpy(V),
                            "auto" if backend == "torch" else backend)
        return tb.from_numpy(out, X)
    if backend == "torch":
        from .._optional import import_torch
        from .backends import torch_backend as tb

        torch = import_torch()
        return tb.matvec(kernel, torch.from_numpy(X), torch.from_numpy(Y),
                         torch.from_numpy(V)).numpy()
    return _matvec_numpy(kernel, X, Y, V, backend)


def _matvec_numpy(kernel: Kernel, X: np.ndarray, Y: np.ndarray, V: np.ndarray,
                  backend: str) -> np.ndarray:
    spec = kernel._fused()
    if backend in ("numba", "auto") and numba_backend.supports(spec):
        acc = numba_backend.matvec(spec, X, Y, V)  # type: ignore[arg-type]
    else:
        acc = numpy_backend.matvec(kernel, X, Y, V)
    return acc.astype(X.dtype, copy=False)


def kernel_sum(kernel: Kernel, X: Any, Y: Any = None, weights: Any = None) -> Any:
    """Row sums of the kernel matrix, ``sum_j w_j k(X[i], Y[j])``.

    Parameters
    ----------
    kernel : Kernel
    X : array-like, Tensor or dask array of shape (n, d)
        A Dask X (chunked by rows) gives lazy Dask results; see :mod:`kernelkit.distributed`.
    Y : array-like or Tensor of shape (m, d), default=None
        None means ``Y = X``.
    weights : array-like or Tensor of shape (m,), default=None
        None means all ones.

    Returns
    -------
    sums : ndarray or Tensor of shape (n,)

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> from kernelkit.kernels import Gaussian
    >>> X = np.zeros((2, 1))
    >>> kernelkit.kernel_sum(Gaussian(), X)
    array([2., 2.])
    """
    if (dask_engine := _dask_engine(X, Y, weights)) is not None:
        return dask_engine.kernel_sum(kernel, X, Y, weights)
    kernel = _check_kernel(kernel)
    xp = get_namespace(X, Y, weights)
    X, Y = _check_xy(kernel, X, Y, xp)
    if weights is None:
        dtype = result_dtype(X, Y)
        w = np.ones(Y.shape[0], dtype=dtype) if xp is np else xp.ones(Y.shape[0], dtype=dtype)
    else:
        w = _check_weights(weights, Y.shape[0], xp)
    return matvec(kernel, X, Y, w)


def logsumexp(kernel: Kernel, X: Any, Y: Any = None, weights: Any = None) -> Any:
    """Stable ``log sum_j w_j k(X[i], Y[j])`` for positive kernels.

    Computed with the log-kernel and a running maximum, so it stays finite and accurate
    when every kernel value underflows (tiny bandwidths, far-away queries).

    Parameters
    ----------
    kernel : Kernel
        A positive kernel (``kernel.positive``): Gaussian, Laplace, Matérn, IMQ, ...
    X : array-like, Tensor or dask array of shape (n, d)
        A Dask X (chunked by rows) gives lazy Dask results; see :mod:`kernelkit.distributed`.
    Y : array-like or Tensor of shape (m, d), default=None
        None means ``Y = X``.
    weights : array-like or Tensor of shape (m,), default=None
        Non-negative weights; None means all ones. Zero weights are allowed; a row
        whose weighted sum is zero gives ``-inf``.

    Returns
    -------
    out : ndarray or Tensor of shape (n,)

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> from kernelkit.kernels import Gaussian
    >>> X, Y = np.array([[0.0]]), np.array([[30.0], [31.0]])
    >>> kernelkit.logsumexp(Gaussian(bandwidth=0.1), X, Y)  # exp(-45000) underflows
    array([-45000.])
    """
    if (dask_engine := _dask_engine(X, Y, weights)) is not None:
        return dask_engine.logsumexp(kernel, X, Y, weights)
    kernel = _check_kernel(kernel)
    if not kernel.positive:
        raise ParameterError(
            f"logsumexp needs a positive kernel, but {kernel!r} can be zero or negative; "
            "use matvec/kernel_sum instead, or a positive kernel (Gaussian, Laplace, ...)."
        )
    xp = get_namespace(X, Y, weights)
    X, Y = _check_xy(kernel, X, Y, xp)
    w = None
    if weights is not None:
        w = _check_weights(weights, Y.shape[0], xp)
        if bool((w < 0).any()):
            raise InputValueError("weights contains negative values; weights must be >= 0.")
    dtype = result_dtype(X, Y, w)
    X, Y, w = (_cast(A, dtype, xp) for A in (X, Y, w))
    backend = _backend(kernel, xp)
    if xp is not np:
        from .backends import torch_backend as tb

        if backend == "torch" and tb.needs_grad(kernel, X, Y, w):
            lw = None if w is None else xp.log(w)
            return tb.logsumexp(kernel, X, Y, lw)
        out = _lse_numpy(kernel, tb.to_numpy(X), tb.to_numpy(Y),
                         None if w is None else tb.to_numpy(w),
                         "auto" if backend == "torch" else backend)
        return tb.from_numpy(out, X)
    return _lse_numpy(kernel, X, Y, w, backend)


def _lse_numpy(kernel: Kernel, X: np.ndarray, Y: np.ndarray, w: np.ndarray | None,
               backend: str) -> np.ndarray:
    lw = None
    if w is not None:
        with np.errstate(divide="ignore"):
            lw = np.log(w.astype(np.float64))
    spec = kernel._fused()
    if backend in ("numba", "auto") and numba_backend.supports(spec) and \
            numba_backend.PROFILES[spec.profile][2]:  # type: ignore[union-attr]
        out = numba_backend.logsumexp(spec, X, Y, lw)  # type: ignore[arg-type]
    else:
        out = numpy_backend.logsumexp(kernel, X, Y, lw)
    return out.astype(X.dtype, copy=False)


#: Extra candidates kept per row before exact re-ranking in float64.
_KNN_EXTRA = 4
_RERANK_CHUNK_BYTES = 4 * 2**20


def knn(X: Any, Y: Any, k: int) -> tuple[Any, Any]:
    """The k nearest rows of Y for each row of X (Euclidean distance).

    Candidates are found by the tiled engine, then re-ranked with distances recomputed
    exactly in float64, so ties resolve to the lower index.

    Parameters
    ----------
    X : array-like, Tensor or dask array of shape (n, d)
        A Dask X (chunked by rows) gives lazy Dask results; see :mod:`kernelkit.distributed`.
        Queries.
    Y : array-like or Tensor of shape (m, d), or None
        Points searched; None means ``Y = X`` (each point is then its own nearest
        neighbour).
    k : int
        Number of neighbours, 1 <= k <= m. ``k=1`` is the arg-min.

    Returns
    -------
    distances : ndarray or Tensor of shape (n, k)
        Sorted ascending, in the input dtype (differentiable for torch inputs).
    indices : ndarray of shape (n, k), int64 (a LongTensor for torch inputs)

    Examples
    --------
    >>> import numpy as np, kernelkit
    >>> Y = np.array([[0.0], [1.0], [1.0], [3.0]])
    >>> d, i = kernelkit.knn(np.array([[1.2]]), Y, k=3)
    >>> i
    array([[1, 2, 0]])
    >>> d.round(3)
    array([[0.2, 0.2, 1.2]])
    """
    if (dask_engine := _dask_engine(X, Y)) is not None:
        return dask_engine.knn(X, Y, k)  # type: ignore[no-any-return]
    xp = get_namespace(X, Y)
    X, Y = _check_xy(None, X, Y, xp)
    m = Y.shape[0]
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ParameterError(f"k must be a positive integer, got {k!r}.")
    k = int(k)
    if k > m:
        raise ParameterError(f"k={k} is larger than the number of points in Y ({m}); "
                             f"pass k <= {m}.")
    dtype = result_dtype(X, Y)
    X, Y = _cast(X, dtype, xp), _cast(Y, dtype, xp)
    if xp is np:
        Xn, Yn = X, Y
    else:
        from .backends import torch_backend as tb

        Xn, Yn = tb.to_numpy(X), tb.to_numpy(Y)
    kc = min(m, k + _KNN_EXTRA)
    if get_config()["backend"] == "numpy":
        _, cand = numpy_backend.knn(Xn, Yn, kc)
    else:
        _, cand = numba_backend.knn(Xn, Yn, kc)
    dist, idx = _rerank(Xn, Yn, cand, k)
    if xp is np:
        return dist.astype(dtype, copy=False), idx
    from .backends import torch_backend as tb

    return tb.knn_distances(X, Y, idx), tb.from_numpy(idx, X)


def _rerank(X: np.ndarray, Y: np.ndarray, cand: np.ndarray, k: int,
            ) -> tuple[np.ndarray, np.ndarray]:
    """Exact float64 distances of candidate neighbours, sorted by (distance, index)."""
    n, kc = cand.shape
    dist = np.empty((n, k))
    idx = np.empty((n, k), dtype=np.int64)
    d = X.shape[1]
    # Cache-sized chunks (a few MiB of differences), never more than the budget allows.
    budget = min(get_config()["working_memory"] * 2**20, _RERANK_CHUNK_BYTES)
    step = max(1, int(budget // (8 * kc * max(d, 1) * 2)))
    for i0 in range(0, n, step):
        i1 = min(n, i0 + step)
        c = cand[i0:i1]
        diff = X[i0:i1, None, :].astype(np.float64) - Y[c].astype(np.float64)
        sq = np.einsum("ijk,ijk->ij", diff, diff)
        order = _lex_order(sq, c)
        top = order[:, :k]
        dist[i0:i1] = np.sqrt(np.take_along_axis(sq, top, axis=1))
        idx[i0:i1] = np.take_along_axis(c, top, axis=1)
    return dist, idx


def _lex_order(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Row-wise order by (primary, secondary), both ascending."""
    first = np.argsort(secondary, axis=1, kind="stable")
    p = np.take_along_axis(primary, first, axis=1)
    second = np.argsort(p, axis=1, kind="stable")
    return np.take_along_axis(first, second, axis=1)

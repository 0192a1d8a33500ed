"""Dask inputs for the kernel tests: checks on the client and the distributed big passes.

Rule for the samples: **both Dask or neither.** A Dask sample next to an in-memory one is
refused (``InputTypeError``) with the remedy (wrap the small one with
``dask.array.from_array``); a pooled pass needs every row on the cluster anyway.

What runs where:

* On the client (small state): the label / permutation matrices and indices, the
  kernel (its median-heuristic bandwidth from at most ``MEDIAN_SUBSAMPLE`` rows pulled
  from the cluster: the *same* rows the in-memory path uses), Nyström landmarks, the
  row means of the kernel matrices (n values), and the final closed-form arithmetic.
* On the cluster (big passes): one pure task per row chunk
  (:func:`kernelkit.distributed.map_row_chunks`). The pooled sample is placed on the
  cluster once (:func:`kernelkit.distributed.share`); the row-chunked array that drives the
  tasks is ``arange(N)``, so every task knows exactly which rows it owns and a rerun task
  returns the same rows (nothing lost, nothing counted twice). Each task returns per-row
  partial sums; Dask adds them up.

Nothing here imports dask unless a Dask array is passed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import ops
from .._optional import import_optional
from .._validation import is_dask
from ..exceptions import InputTypeError, InputValueError, ShapeError
from ..kernels import Gaussian
from ..kernels._base import Kernel
from ._common import MEDIAN_SEED, MEDIAN_SUBSAMPLE, check_kernel, median_heuristic

__all__ = ["any_dask", "check_dask_samples", "dask_default_kernel", "dask_diag",
           "dask_sums_and_diag", "dask_mmd_stats", "mmd_terms", "dask_hsic_traces",
           "dask_nystrom_rows"]


def any_dask(*arrays: Any) -> bool:
    """True if any argument is a Dask object (decided without importing dask)."""
    return any(is_dask(a) for a in arrays if a is not None)


def check_dask_samples(X: Any, Y: Any, *, min_samples: int = 2) -> tuple[Any, Any]:
    """Check two Dask samples on the client (type, shape, chunk sizes, dtype, size).

    Raises ``InputTypeError`` when only one of them is a Dask array. Values (NaN, inf)
    are checked by the engine inside each task, when the result is computed.
    """
    for name, other, A, B in (("X", "Y", X, Y), ("Y", "X", Y, X)):
        if is_dask(A) and not is_dask(B):
            raise InputTypeError(
                f"{name} is a Dask array but {other} is a {type(B).__name__}; the kernel "
                "tests take both samples in memory or both as Dask arrays (the pooled "
                f"pass needs every row on the cluster). Wrap {other}: "
                f"{other} = dask.array.from_array({other}, chunks=(rows, -1)), or compute "
                f"{name} if it fits in memory.")
    return _check_one(X, "X", min_samples), _check_one(Y, "Y", min_samples)


def _check_one(A: Any, name: str, min_samples: int) -> Any:
    da = import_optional("dask.array")
    if not isinstance(A, da.Array):
        raise InputTypeError(
            f"{name} is a {type(A).__name__} from dask; pass a dask.array.Array (for a "
            f"Dask DataFrame: {name}.to_dask_array(lengths=True)).")
    if A.ndim != 2:
        raise ShapeError(f"{name} must be 2-D of shape (n_samples, n_features), got shape "
                         f"{A.shape}; use {name}.reshape(-1, 1) for one feature.")
    if any(math.isnan(c) for c in A.chunks[0]):
        raise InputValueError(f"{name} has unknown chunk sizes (shape {A.shape}); call "
                              f"{name} = {name}.compute_chunk_sizes() first.")
    if np.dtype(A.dtype).kind not in "biuf":
        raise InputTypeError(f"{name} has dtype {A.dtype}, which is not a real number type; "
                             "pass float32 or float64 data.")
    if A.shape[0] < min_samples:
        raise InputValueError(f"{name} has {A.shape[0]} sample(s); this statistic needs at "
                              f"least {min_samples}. Collect more samples.")
    if A.numblocks[1] > 1:
        A = A.rechunk({1: -1})
    return A if A.dtype in (np.float32, np.float64) else A.astype(np.float64)


def _pooled(*samples: Any) -> Any:
    da = import_optional("dask.array")
    return samples[0] if len(samples) == 1 else da.concatenate(samples, axis=0)


def dask_default_kernel(kernel: Any, *samples: Any) -> Kernel:
    """``kernel``, or a Gaussian with the median heuristic on a bounded subsample.

    The subsample is exactly the one the in-memory :func:`median_heuristic` draws from the
    pooled rows (at most ``MEDIAN_SUBSAMPLE`` rows, seed ``MEDIAN_SEED``); only those rows
    are pulled to the client, so the bandwidth equals the in-memory one.
    """
    if kernel is not None:
        return check_kernel(kernel)
    Z = _pooled(*samples)
    n = Z.shape[0]
    if n > MEDIAN_SUBSAMPLE:
        rows = np.sort(np.random.default_rng(MEDIAN_SEED).choice(n, MEDIAN_SUBSAMPLE,
                                                                 replace=False))
        Z = Z[rows]
    return Gaussian(bandwidth=median_heuristic(np.asarray(Z.compute())))


def _row_driver(n: int, chunks: tuple[int, ...]) -> Any:
    """arange(n) as an (n, 1) Dask array with the given row chunks: drives the tasks."""
    da = import_optional("dask.array")
    return da.arange(n, chunks=(chunks,), dtype=np.int64)[:, None]


def _diag_task(A_chunk: np.ndarray, *, kernel: Kernel) -> np.ndarray:
    return np.asarray(kernel.diag(A_chunk), dtype=np.float64)


def dask_diag(kernel: Kernel, A: Any) -> np.ndarray:
    """k(a_i, a_i) for every row (a pass over the row chunks), as a numpy float64 vector."""
    from ..distributed import map_row_chunks

    return np.asarray(map_row_chunks(_diag_task, A, dtype=np.float64, kernel=kernel,
                                     name="kernelkit-diag").compute())


def dask_sums_and_diag(kernel: Kernel, A: Any) -> tuple[np.ndarray, np.ndarray]:
    """Row sums of K(A, A) and its diagonal, computed together (one round trip)."""
    from ..distributed import map_row_chunks

    dask = import_optional("dask")
    sums, diag = dask.compute(ops.kernel_sum(kernel, A),
                              map_row_chunks(_diag_task, A, dtype=np.float64, kernel=kernel,
                                             name="kernelkit-diag"))
    return np.asarray(sums), np.asarray(diag)


# ------------------------------------------------------------------------- MMD
def _mmd_terms_task(idx: np.ndarray, Z: np.ndarray, V: np.ndarray, *, kernel: Kernel,
                    nx: int, ny: int, unbiased: bool) -> np.ndarray:
    """The rows ``idx`` of Z: ``K(Z[rows], Z) [1, P]`` (one engine call) turned into their
    per-row MMD terms (:func:`kernelkit.stats._mmd.mmd_row_terms`), shape (rows, B+1)."""
    from ._mmd import mmd_row_terms

    rows = idx[:, 0]
    Zc = Z[rows]
    KV = np.asarray(ops.matvec(kernel, Zc, Z, V), dtype=np.float64)
    diag = np.asarray(kernel.diag(Zc), dtype=np.float64) if unbiased else None
    return mmd_row_terms(KV, V[rows, 1:], diag, nx, ny)


def mmd_terms(kernel: Kernel, Z: Any, P: np.ndarray, nx: int, ny: int,
              unbiased: bool) -> Any:
    """Lazy per-row MMD terms (N, B+1), one task per row chunk of the pooled Dask Z.

    Z and V = [1, P] are placed on the cluster once (:func:`kernelkit.distributed.share`);
    the tasks are driven by ``arange(N)`` chunked like Z, so each knows its rows.
    """
    from ..distributed import map_row_chunks, share

    N, B1 = P.shape
    V = np.concatenate([np.ones((N, 1), dtype=P.dtype), P], axis=1)
    return map_row_chunks(_mmd_terms_task, _row_driver(N, Z.chunks[0]), share(Z), share(V),
                          dtype=np.float64, tail=(B1,), name="kernelkit-mmd",
                          kernel=kernel, nx=nx, ny=ny, unbiased=unbiased)


def dask_mmd_stats(kernel: Kernel, Z: Any, P: np.ndarray, nx: int, ny: int,
                   unbiased: bool) -> np.ndarray:
    """MMD² of every labelling column of P: the column sums of :func:`mmd_terms`."""
    return np.asarray(mmd_terms(kernel, Z, P, nx, ny, unbiased).sum(axis=0).compute())


# ------------------------------------------------------------------------- HSIC
def _hsic_rows_task(idx: np.ndarray, X: np.ndarray, Y: np.ndarray, rx: np.ndarray,
                    ry: np.ndarray, perms: np.ndarray, *, kx: Kernel, ky: Kernel,
                    product: Kernel | None, tx: float, ty: float) -> np.ndarray:
    """Per row i and permutation b: Σ_j K_ij L_π(i)π(j) (Gaussian pair, uncentred; the
    centring is closed-form on the client) or Σ_j K̃_ij L̃_π(i)π(j) (other kernels)."""
    from ._hsic import _row_block

    rows = idx[:, 0]
    n = X.shape[0]
    out = np.empty((rows.size, perms.shape[0]))
    dtype = np.result_type(X.dtype, Y.dtype)
    Kt = None
    if product is None:
        Kt = np.asarray(kx(X[rows], X), dtype=np.float64)
        Kt -= rx[rows, None] + rx[None, :] - tx
    for b, perm in enumerate(perms):
        Yp, ryp = Y[perm], ry[perm]
        if product is not None:
            Zp = np.concatenate([X.astype(dtype, copy=False), Yp.astype(dtype, copy=False)],
                                axis=1)
            out[:, b] = np.asarray(ops.kernel_sum(product, Zp[rows], Zp), dtype=np.float64)
            continue
        assert Kt is not None
        step = _row_block(n)
        for i0 in range(0, rows.size, step):
            i1 = min(rows.size, i0 + step)
            Lt = np.asarray(ky(Yp[rows[i0:i1]], Yp), dtype=np.float64)
            Lt -= ryp[rows[i0:i1], None] + ryp[None, :] - ty
            out[i0:i1, b] = np.einsum("ij,ij->i", Kt[i0:i1], Lt)
    return out


def dask_hsic_traces(kx: Kernel, ky: Kernel, X: Any, Y: Any, rx: np.ndarray,
                     ry: np.ndarray, perms: np.ndarray, product: Kernel | None,
                     ) -> np.ndarray:
    """Σ over all rows of :func:`_hsic_rows_task`, per permutation (row 0 = identity)."""
    from ..distributed import map_row_chunks, share

    n = X.shape[0]
    tx, ty = float(rx.mean()), float(ry.mean())
    terms = map_row_chunks(
        _hsic_rows_task, _row_driver(n, X.chunks[0]), share(X), share(Y), share(rx),
        share(ry), share(perms), dtype=np.float64, tail=(perms.shape[0],),
        name="kernelkit-hsic", kx=kx, ky=ky, product=product, tx=tx, ty=ty)
    return np.asarray(terms.sum(axis=0).compute())


def _nystrom_task(A_chunk: np.ndarray, land: np.ndarray, proj: np.ndarray, *,
                  kernel: Kernel) -> np.ndarray:
    return np.asarray(kernel(A_chunk, land), dtype=np.float64) @ proj


def dask_nystrom_rows(kernel: Kernel, A: Any, land: np.ndarray, proj: np.ndarray,
                      ) -> np.ndarray:
    """Uncentred Nyström features K(A, landmarks) @ proj, one task per row chunk,
    gathered on the client as an (n, r') numpy array."""
    from ..distributed import map_row_chunks, share

    return np.asarray(map_row_chunks(_nystrom_task, A, share(land), share(proj),
                                     dtype=np.float64, tail=(proj.shape[1],),
                                     name="kernelkit-nystrom", kernel=kernel).compute())

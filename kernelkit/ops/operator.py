"""``KernelOperator``: the kernel matrix K(X, Y) as a scipy ``LinearOperator``."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.sparse.linalg import LinearOperator, cg

from .._config import get_config
from .._validation import check_array, check_positive, is_dask, result_dtype
from ..exceptions import ConvergenceWarning, MemoryBudgetError, ParameterError, ShapeError
from ..kernels._base import Kernel
from .reduce import _check_kernel, _check_xy, _matvec

__all__ = ["KernelOperator"]

#: Default relative residual of ``KernelOperator.solve``, per dtype.
SOLVE_RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


class KernelOperator(LinearOperator):
    """The kernel matrix K[i, j] = k(X[i], Y[j]) as a matrix-free linear operator.

    Products go through the engine (:func:`kernelkit.matvec`), so the operator works at
    sizes where K itself would not fit in memory, and with any scipy iterative solver.

    X (and Y) may be Dask arrays: products then take and return numpy vectors while the
    big pass runs on the Dask cluster, one engine call per row chunk of X, with X kept
    on the cluster and Y placed on every worker once (see :mod:`kernelkit.distributed`).
    ``solve`` and scipy's solvers work unchanged.

    Parameters
    ----------
    kernel : Kernel
    X : array-like or dask array of shape (n, d)
    Y : array-like or dask array of shape (m, d), default=None
        None means the square, symmetric operator K(X, X). A Dask Y is gathered once
        on every worker, so it must fit in one worker's memory.

    Attributes
    ----------
    shape : tuple (n, m)
    dtype : numpy dtype
        float32 only if X and Y are float32.
    symmetric : bool
        True when ``Y`` is None.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit import KernelOperator
    >>> from kernelkit.kernels import Gaussian
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> K = KernelOperator(Gaussian(bandwidth=0.5), X)
    >>> b = np.ones(200)
    >>> x = K.solve(b, alpha=1e-2)
    >>> bool(np.allclose(K @ x + 1e-2 * x, b, atol=1e-6))
    True
    """

    def __init__(self, kernel: Kernel, X: Any, Y: Any = None) -> None:
        kernel = _check_kernel(kernel)
        symmetric = Y is None
        self._dask: Any = None
        if is_dask(X) or is_dask(Y):
            from ..distributed._operator import DaskProducts

            self._dask = DaskProducts(kernel, X, Y)
            self.kernel = kernel
            self.X, self.Y = self._dask.X, self._dask.Y
            self.symmetric = symmetric
            super().__init__(dtype=self._dask.dtype, shape=self._dask.shape)
            return
        X, Y = _check_xy(kernel, X, Y, np)
        dtype = result_dtype(X, Y)
        self.kernel = kernel
        self.X = X.astype(dtype, copy=False)
        self.Y = self.X if symmetric else Y.astype(dtype, copy=False)
        self.symmetric = symmetric
        super().__init__(dtype=dtype, shape=(X.shape[0], Y.shape[0]))

    def _matmat(self, V: Any) -> np.ndarray:
        V = check_array(V, "V", ndim=(2,))
        if V.shape[0] != self.shape[1]:
            raise ShapeError(f"V has {V.shape[0]} rows but the operator has "
                             f"{self.shape[1]} columns.")
        V = V.astype(self.dtype, copy=False)
        if self._dask is not None:
            return self._dask.matmat(V)  # type: ignore[no-any-return]
        return _matvec(self.kernel, self.X, self.Y, V, np)

    def _matvec(self, v: Any) -> np.ndarray:
        v = np.asarray(v)
        return self._matmat(v.reshape(-1, 1)).reshape(-1)

    def _adjoint(self) -> KernelOperator:
        if self.symmetric:
            return self
        return KernelOperator(self.kernel, self.Y, self.X)

    def _transpose(self) -> KernelOperator:
        return self._adjoint()

    def diag(self) -> np.ndarray:
        """Diagonal of a square operator, k(x_i, x_i), without any product.

        Returns
        -------
        diag : ndarray of shape (n,)
        """
        if not self.symmetric:
            raise ShapeError("diag() needs the square operator K(X, X); "
                             "create it as KernelOperator(kernel, X).")
        if self._dask is not None:
            return self._dask.diag()  # type: ignore[no-any-return]
        return np.asarray(self.kernel._diag(self.X, np), dtype=self.dtype)

    def to_dense(self) -> np.ndarray:
        """The full matrix, when it fits in the ``working_memory`` budget.

        Returns
        -------
        K : ndarray of shape (n, m)

        Raises
        ------
        MemoryBudgetError
            If n * m values exceed ``working_memory``; raise it with
            ``kernelkit.config_context(working_memory=...)`` if you really need K.
        """
        n, m = self.shape
        need = n * m * self.dtype.itemsize / 2**20
        budget = get_config()["working_memory"]
        if need > budget:
            raise MemoryBudgetError(
                f"the dense {n} x {m} kernel matrix needs {need:.1f} MiB but "
                f"working_memory is {budget:g} MiB; use products (K @ v) instead, or raise "
                "the budget with kernelkit.config_context(working_memory=...)."
            )
        X, Y = (self.X, self.Y) if self._dask is None else self._dask.dense_inputs()
        return np.asarray(self.kernel._tile(X, Y, np), dtype=self.dtype)

    def solve(self, b: Any, *, alpha: float = 0.0, tol: float | None = None,
              maxiter: int | None = None, preconditioner: str | None = "jacobi",
              x0: Any = None) -> np.ndarray:
        """Solve (K + alpha I) x = b by conjugate gradients.

        Parameters
        ----------
        b : array-like of shape (n,) or (n, k)
        alpha : float, default=0.0
            Ridge added to the diagonal (> 0 recommended: kernel matrices are often
            numerically singular).
        tol : float, default=None
            Relative residual ||(K + alpha I) x - b|| / ||b|| to reach; None uses 1e-5
            for float32 and 1e-10 for float64.
        maxiter : int, default=None
            Iteration cap per right-hand side; None means 10 n.
        preconditioner : {"jacobi", None}, default="jacobi"
            Diagonal preconditioning by 1 / (k(x_i, x_i) + alpha).
        x0 : array-like of shape (n,) or (n, k), default=None
            Starting guess (warm start).

        Returns
        -------
        x : ndarray of shape (n,) or (n, k)

        Warns
        -----
        ConvergenceWarning
            When CG stops at ``maxiter`` above ``tol``; the message gives the residual.
        """
        if not self.symmetric:
            raise ShapeError("solve() needs the square operator K(X, X); "
                             "create it as KernelOperator(kernel, X).")
        alpha = check_positive(alpha, "alpha", strict=False)
        if tol is None:
            tol = SOLVE_RTOL[self.dtype]
        elif not (isinstance(tol, (int, float)) and 0 < tol < 1):
            raise ParameterError(f"tol must be in (0, 1), got {tol!r}.")
        n = self.shape[0]
        b = check_array(b, "b", ndim=(1, 2))
        if b.shape[0] != n:
            raise ShapeError(f"b has {b.shape[0]} rows but the operator has {n}.")
        B = b.reshape(n, -1).astype(self.dtype, copy=False)
        X0 = None
        if x0 is not None:
            X0 = check_array(x0, "x0", ndim=(1, 2)).reshape(n, -1)
            if X0.shape != B.shape:
                raise ShapeError(f"x0 has shape {X0.shape} but b has {B.shape}.")
        if preconditioner not in ("jacobi", None):
            raise ParameterError(f"preconditioner must be 'jacobi' or None, "
                                 f"got {preconditioner!r}.")
        A = LinearOperator((n, n), matvec=lambda v: self._matvec(v) + alpha * v,
                           dtype=self.dtype)
        M = None
        if preconditioner == "jacobi":
            inv_diag = 1.0 / (self.diag() + alpha)
            M = LinearOperator((n, n), matvec=lambda v: inv_diag * v, dtype=self.dtype)
        out = np.empty_like(B)
        for c in range(B.shape[1]):
            x, info = cg(A, B[:, c], rtol=tol, atol=0.0,
                         maxiter=10 * n if maxiter is None else maxiter, M=M,
                         x0=None if X0 is None else X0[:, c])
            if info > 0:
                norm_b = max(float(np.linalg.norm(B[:, c])), 1e-300)
                res = float(np.linalg.norm(A @ x - B[:, c])) / norm_b
                warnings.warn(
                    f"CG stopped after {info} iterations with relative residual {res:.2e} "
                    f"> tol={tol:g}; increase alpha or maxiter.", ConvergenceWarning,
                    stacklevel=2)
            out[:, c] = x
        return out.reshape(b.shape) if b.ndim == 1 else out

"""Centred kernel alignment (CKA) between two representations of the same examples."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..exceptions import InputValueError
from ..kernels._base import Kernel
from ._common import check_kernel, reject_dask
from ._hsic import _Centred, _prepare, _trace_centred

__all__ = ["cka"]


def cka(X: Any, Y: Any, kernel_x: Kernel | None = None,
        kernel_y: Kernel | None = None) -> float:
    r"""Centred kernel alignment between two representations (rows = the same examples).

    .. math::

        \mathrm{CKA}(K, L) = \frac{\langle \tilde K, \tilde L\rangle_F}
        {\lVert \tilde K \rVert_F \, \lVert \tilde L \rVert_F}, \qquad \tilde K = HKH,

    i.e. HSIC normalised to [0, 1]. With both kernels None this is *linear* CKA
    (Kornblith et al. 2019), computed from feature covariances in O(n d_x d_y) without
    any n × n matrix; with kernels it streams like :func:`hsic`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features_x)
    Y : array-like of shape (n_samples, n_features_y)
    kernel_x, kernel_y : Kernel, default=None
        Both None: linear CKA. Otherwise each None means a Gaussian with the median
        heuristic on that representation.

    Returns
    -------
    cka : float in [0, 1]
        Invariant to orthogonal transforms and isotropic scaling of either
        representation (for linear CKA).

    References
    ----------
    .. [1] S. Kornblith, M. Norouzi, H. Lee, G. Hinton, "Similarity of Neural Network
       Representations Revisited", ICML 2019.
    .. [2] C. Cortes, M. Mohri, A. Rostamizadeh, "Algorithms for Learning Kernels Based
       on Centered Alignment", JMLR 13, 2012.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.stats import cka
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(100, 5))
    >>> Q, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    >>> round(cka(X, 3 * X @ Q), 6)                # rotation and scale: identical
    1.0
    >>> cka(X, rng.normal(size=(100, 5))) < 0.2
    True
    """
    reject_dask(X, "X")
    reject_dask(Y, "Y")
    X, Y = _prepare(X, Y)
    if kernel_x is None and kernel_y is None:
        Xc = np.asarray(X, dtype=np.float64)
        Yc = np.asarray(Y, dtype=np.float64)
        Xc = Xc - Xc.mean(axis=0)
        Yc = Yc - Yc.mean(axis=0)
        cross = float(np.sum((Xc.T @ Yc) ** 2))
        nx = float(np.linalg.norm(Xc.T @ Xc))
        ny = float(np.linalg.norm(Yc.T @ Yc))
        return _ratio(cross, nx, ny)
    from ._common import default_kernel

    kx = default_kernel(kernel_x, X) if kernel_x is None else check_kernel(kernel_x, "kernel_x")
    ky = default_kernel(kernel_y, Y) if kernel_y is None else check_kernel(kernel_y, "kernel_y")
    cx, cy = _Centred(kx, X), _Centred(ky, Y)
    cross = _trace_centred(cx, cy)
    return _ratio(cross, math.sqrt(max(_trace_centred(cx, cx), 0.0)),
                  math.sqrt(max(_trace_centred(cy, cy), 0.0)))


def _ratio(cross: float, nx: float, ny: float) -> float:
    if not (nx > 0 and ny > 0):
        raise InputValueError("a representation is constant (its centred Gram matrix is "
                              "zero), so CKA is undefined; drop constant representations.")
    return float(min(max(cross / (nx * ny), 0.0), 1.0))

"""Compactly supported radial kernels (the smoothing windows of kernel density estimation).

Each is a function of ``r = ||(x - y) / h||`` that is zero for ``r >= 1``, exactly as in
scikit-learn's ``KernelDensity``. They are not positive (no logarithm everywhere), so
the engine reduces them with ``matvec``/``kernel_sum`` on its numpy backend.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

from .._validation import check_positive
from ._base import StationaryKernel

__all__ = ["Tophat", "Epanechnikov", "Triangular", "CosineWindow"]


class _CompactKernel(StationaryKernel):
    _param_names = ("bandwidth",)

    def __init__(self, bandwidth: Any = 1.0) -> None:
        self.bandwidth = bandwidth
        self._validate()

    def _validate(self) -> None:
        self.bandwidth = check_positive(self.bandwidth, "bandwidth", allow_array=True)

    def _inside(self, s: Any, xp: ModuleType) -> Any:
        return (s < 1.0) * 1.0


class Tophat(_CompactKernel):
    r"""Top-hat (uniform ball) kernel: :math:`k = 1` if :math:`\lVert x - y\rVert < h`, else 0.

    Parameters
    ----------
    bandwidth : float or array-like of shape (n_features,), default=1.0
        Radius h > 0 of the ball (or one per feature: an ellipsoid).

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Tophat
    >>> Tophat(bandwidth=1.0)(np.array([[0.0]]), np.array([[0.5], [1.5]]))
    array([[1., 0.]])
    """

    def _profile(self, s: Any, xp: ModuleType) -> Any:
        return self._inside(s, xp) + 0.0 * s


class Epanechnikov(_CompactKernel):
    r"""Epanechnikov kernel: :math:`k = \max(0, 1 - \lVert x - y\rVert^2 / h^2)`.

    Parameters
    ----------
    bandwidth : float or array-like of shape (n_features,), default=1.0
        Support radius h > 0, or one per feature.

    References
    ----------
    .. [1] V. A. Epanechnikov, "Non-parametric estimation of a multivariate probability
       density", Theory of Probability and its Applications 14, 1969.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Epanechnikov
    >>> Epanechnikov(bandwidth=2.0)(np.array([[0.0]]), np.array([[1.0], [3.0]]))
    array([[0.75, 0.  ]])
    """

    def _profile(self, s: Any, xp: ModuleType) -> Any:
        return xp.clip(1.0 - s, 0.0, None)


class Triangular(_CompactKernel):
    r"""Triangular kernel (scikit-learn's ``"linear"``): :math:`k = \max(0, 1 - r)`.

    Here :math:`r = \lVert x - y\rVert / h`.

    Parameters
    ----------
    bandwidth : float or array-like of shape (n_features,), default=1.0
        Support radius h > 0, or one per feature.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Triangular
    >>> Triangular(bandwidth=2.0)(np.array([[0.0]]), np.array([[1.0], [3.0]]))
    array([[0.5, 0. ]])
    """

    def _profile(self, s: Any, xp: ModuleType) -> Any:
        return xp.clip(1.0 - xp.sqrt(s), 0.0, None)


class CosineWindow(_CompactKernel):
    r"""Cosine window kernel: :math:`k = \cos(\pi r / 2)` for :math:`r < 1`, else 0.

    Here :math:`r = \lVert x - y\rVert / h`; scikit-learn calls it ``"cosine"`` (not to
    be confused with the cosine-similarity kernel :class:`~kernelkit.kernels.Cosine`).

    Parameters
    ----------
    bandwidth : float or array-like of shape (n_features,), default=1.0
        Support radius h > 0, or one per feature.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import CosineWindow
    >>> CosineWindow(bandwidth=1.0)(np.array([[0.0]]), np.array([[0.5], [2.0]])).round(6)
    array([[0.707107, 0.      ]])
    """

    def _profile(self, s: Any, xp: ModuleType) -> Any:
        r = xp.sqrt(xp.clip(s, 0.0, 1.0))
        return self._inside(s, xp) * xp.cos((0.5 * math.pi) * r)

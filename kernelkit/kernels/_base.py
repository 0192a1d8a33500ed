"""The ``Kernel`` abstraction: what k(x, y) is.

A kernel knows its parameters, how to evaluate itself on a tile of pairs (``_tile``), its
diagonal, optionally its logarithm (``_log_tile``, for stable log-sum-exp), and, when it
has one, a *fused specification* (``_fused``) that lets the compiled engine evaluate it
without Python in the inner loop. The engine (``kernelkit.ops``) decides how to reduce it.

Tile methods receive already-validated 2-D arrays of one dtype, either numpy arrays or
torch tensors, together with the array module ``xp`` (``numpy`` or ``torch``); they must
use only operations both modules share (``xp.exp``, ``xp.sqrt``, ``xp.log``, ``xp.clip``,
``@``, ``.sum(axis=...)``, ...) so that torch autograd flows through them.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from .._validation import check_array, get_namespace, is_torch, result_dtype
from ..exceptions import ParameterError, ShapeError

__all__ = ["Kernel", "FusedSpec", "StationaryKernel", "DotProductKernel"]


@dataclass(frozen=True)
class FusedSpec:
    """How the compiled engine evaluates a kernel.

    Attributes
    ----------
    kind : {"radial", "dot"}
        ``"radial"``: k = scale * f(s) where s = ||(x - y) / bandwidth||^2.
        ``"dot"``: k = scale * f(t) where t = <x, y> (after optional row normalisation).
    profile : str
        Name of f, one of the engine's compiled profiles (see
        ``kernelkit.ops.backends.numba_backend.PROFILES``).
    params : tuple of float
        Parameters of f, in the order the profile expects.
    inv_bandwidth : float or ndarray of shape (n_features,)
        Inputs are multiplied by this before distances (radial) or products (dot).
    scale : float
        Positive output scale.
    normalize : bool
        Dot kernels only: divide rows by their norms first (cosine kernel).
    """

    kind: str
    profile: str
    params: tuple[float, ...]
    inv_bandwidth: Any = 1.0
    scale: float = 1.0
    normalize: bool = False

    def scaled(self, factor: float) -> FusedSpec:
        return FusedSpec(self.kind, self.profile, self.params, self.inv_bandwidth,
                         self.scale * factor, self.normalize)


def _format_value(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=4, separator=", ")
    if is_torch(value):
        return f"tensor({value.detach().cpu().numpy().round(4).tolist()})"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value)


class Kernel:
    """Base class of every kernelkit kernel.

    Subclasses set ``_param_names`` (the ``__init__`` keywords, in order), validate their
    parameters in ``_validate`` and implement ``_tile`` and ``_diag``. Kernels are small
    value objects: parameters are validated when set, so a bad bandwidth fails at once.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.kernels import Gaussian, Laplace
    >>> k = 2.0 * Gaussian(bandwidth=0.5) + Laplace()
    >>> k
    2 * Gaussian(bandwidth=0.5) + Laplace(bandwidth=1)
    >>> X = np.zeros((3, 2))
    >>> k(X).round(3)
    array([[3., 3., 3.],
           [3., 3., 3.],
           [3., 3., 3.]])
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    #: True when k(x, y) > 0 for all inputs, so log k exists (log-sum-exp works).
    positive: ClassVar[bool] = False
    #: True when k(x, y) depends only on x - y.
    stationary: ClassVar[bool] = False

    # -- parameters -------------------------------------------------------------------
    def _validate(self) -> None:
        """Check parameters; raise ParameterError naming the bad one. Override."""

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this kernel, as given to ``__init__``.

        Parameters
        ----------
        deep : bool, default=True
            For composite kernels, also return the parameters of the parts as
            ``part__param`` entries.

        Returns
        -------
        params : dict
        """
        params = {name: getattr(self, name) for name in self._param_names}
        if deep:
            for name, value in list(params.items()):
                if isinstance(value, Kernel):
                    for sub, subvalue in value.get_params(deep=True).items():
                        params[f"{name}__{sub}"] = subvalue
        return params

    def set_params(self, **params: Any) -> Kernel:
        """Set parameters (``name=value`` or ``part__name=value``) and re-validate.

        Returns
        -------
        self : Kernel

        Raises
        ------
        ParameterError
            For an unknown name or an invalid value; the kernel is left unchanged.
        """
        old = {name: getattr(self, name) for name in self._param_names}
        nested: dict[str, dict[str, Any]] = {}
        try:
            for key, value in params.items():
                name, _, sub = key.partition("__")
                if name not in self._param_names:
                    raise ParameterError(
                        f"{type(self).__name__} has no parameter {name!r}; "
                        f"valid parameters are {list(self._param_names)}."
                    )
                if sub:
                    nested.setdefault(name, {})[sub] = value
                else:
                    setattr(self, name, value)
            for name, sub_params in nested.items():
                part = getattr(self, name)
                if not isinstance(part, Kernel):
                    raise ParameterError(f"{name!r} is not a kernel; cannot set {sub_params}.")
                part.set_params(**sub_params)
            self._validate()
        except Exception:
            for name, value in old.items():
                setattr(self, name, value)
            raise
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={_format_value(getattr(self, name))}"
                         for name in self._param_names)
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        if type(self) is not type(other):
            return NotImplemented
        a, b = self.get_params(deep=False), other.get_params(deep=False)  # type: ignore[attr-defined]
        return all(_param_equal(a[k], b[k]) for k in a)

    __hash__ = None  # type: ignore[assignment]  # mutable via set_params

    # -- algebra ----------------------------------------------------------------------
    def __add__(self, other: Any) -> Kernel:
        from ._algebra import Sum

        if not isinstance(other, Kernel):
            return NotImplemented
        return Sum(self, other)

    def __mul__(self, other: Any) -> Kernel:
        from ._algebra import Product, Scaled

        if isinstance(other, Kernel):
            return Product(self, other)
        if isinstance(other, numbers.Real) and not isinstance(other, bool) or is_torch(other):
            return Scaled(self, other)
        return NotImplemented

    __rmul__ = __mul__

    # -- evaluation -------------------------------------------------------------------
    def __call__(self, X: Any, Y: Any = None) -> Any:
        """Dense kernel matrix K[i, j] = k(X[i], Y[j]) — for small inputs and checks.

        Parameters
        ----------
        X : array-like of shape (n, d)
        Y : array-like of shape (m, d), default=None
            None means ``Y = X``.

        Returns
        -------
        K : ndarray or Tensor of shape (n, m)
            Same array type as the input; float32 only if all inputs are float32.
        """
        xp = get_namespace(X, Y)
        X, Y = self._check_inputs(X, Y, xp)
        return self._tile(X, Y, xp)

    def diag(self, X: Any) -> Any:
        """The diagonal k(x_i, x_i), without forming the matrix.

        Parameters
        ----------
        X : array-like of shape (n, d)

        Returns
        -------
        diag : ndarray or Tensor of shape (n,)
        """
        xp = get_namespace(X)
        X, _ = self._check_inputs(X, None, xp)
        return self._diag(X, xp)

    def log(self, X: Any, Y: Any = None) -> Any:
        """Dense log-kernel matrix log k(X[i], Y[j]), computed stably.

        Only for positive kernels (``kernel.positive``); used by ``kernelkit.logsumexp``.

        Returns
        -------
        logK : ndarray or Tensor of shape (n, m)
        """
        if not self.positive:
            raise ParameterError(
                f"{self!r} can be zero or negative, so it has no logarithm; "
                "use a positive kernel (e.g. Gaussian, Laplace, Matern, IMQ)."
            )
        xp = get_namespace(X, Y)
        X, Y = self._check_inputs(X, Y, xp)
        return self._log_tile(X, Y, xp)

    def _check_inputs(self, X: Any, Y: Any, xp: ModuleType) -> tuple[Any, Any]:
        X = check_array(X, "X", xp=xp)
        Y = X if Y is None else check_array(Y, "Y", xp=xp)
        if X.shape[1] != Y.shape[1]:
            raise ShapeError(
                f"X has {X.shape[1]} features but Y has {Y.shape[1]}; "
                "both must have the same number of columns."
            )
        self._check_n_features(X.shape[1])
        dtype = result_dtype(X, Y)
        if X.dtype != dtype:
            X = X.astype(dtype) if xp is np else X.to(dtype)
        if Y.dtype != dtype:
            Y = Y.astype(dtype) if xp is np else Y.to(dtype)
        return X, Y

    def _check_n_features(self, n_features: int) -> None:
        """Raise ShapeError when per-feature parameters do not match. Override."""

    # -- for subclasses and the engine -------------------------------------------------
    def _tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        """Kernel values on a tile: X (n, d), Y (m, d), same dtype → (n, m)."""
        raise NotImplementedError

    def _log_tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        """log k on a tile; positive kernels override with a stable formula."""
        return xp.log(self._tile(X, Y, xp))

    def _diag(self, X: Any, xp: ModuleType) -> Any:
        """Diagonal for validated X. The default evaluates k(x_i, x_i) row by row in
        chunks; subclasses override with a closed form."""
        return xp.stack([self._tile(X[i:i + 1], X[i:i + 1], xp)[0, 0]
                         for i in range(X.shape[0])]) if xp is not np else np.array(
            [self._tile(X[i:i + 1], X[i:i + 1], xp)[0, 0] for i in range(X.shape[0])],
            dtype=X.dtype)

    def _fused(self) -> FusedSpec | None:
        """The compiled engine's description of this kernel, or None (numpy path)."""
        return None


def _param_equal(a: Any, b: Any) -> bool:
    if isinstance(a, Kernel) or isinstance(b, Kernel):
        return bool(a == b)
    if is_torch(a) or is_torch(b):
        return a is b
    try:
        return bool(np.array_equal(np.asarray(a), np.asarray(b)))
    except Exception:  # pragma: no cover
        return a is b


def _is_tensor_param(*values: Any) -> bool:
    return any(is_torch(v) for v in values)


class StationaryKernel(Kernel):
    """Base of kernels k(x, y) = f(||(x - y) / bandwidth||^2).

    Subclasses implement ``_profile(s, xp)`` (and ``_log_profile`` when positive) on the
    scaled squared distance ``s``; this class handles bandwidths (a scalar or one per
    feature), distances computed without catastrophic cancellation (centred data, clamped
    at 0) and the diagonal f(0).
    """

    stationary = True
    #: Name of the compiled profile in the numba backend, or None.
    _profile_name: ClassVar[str | None] = None

    bandwidth: Any

    def _check_n_features(self, n_features: int) -> None:
        bw = self.bandwidth
        size = int(np.size(bw.detach().cpu().numpy() if is_torch(bw) else bw))
        if np.ndim(bw.detach().cpu().numpy() if is_torch(bw) else bw) == 1 and \
                size != n_features:
            raise ShapeError(
                f"{type(self).__name__} has {size} per-feature bandwidths but the data has "
                f"{n_features} features; pass one bandwidth per column or a scalar."
            )

    def _bandwidth_for(self, X: Any, xp: ModuleType) -> Any:
        bw = self.bandwidth
        if xp is np:
            if is_torch(bw):
                bw = bw.detach().cpu().numpy()
            return np.asarray(bw, dtype=X.dtype)
        if is_torch(bw):
            return bw.to(X.dtype)
        return xp.as_tensor(np.asarray(bw), dtype=X.dtype)

    def _sqdist(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        """Scaled squared distances, centred and clamped at zero."""
        bw = self._bandwidth_for(X, xp)
        Xs = X / bw
        Ys = Y / bw
        centre = Ys.mean(axis=0) if xp is np else Ys.mean(dim=0)
        Xs = Xs - centre
        Ys = Ys - centre
        sq = (Xs * Xs).sum(axis=1)[:, None] + (Ys * Ys).sum(axis=1)[None, :] - 2 * (Xs @ Ys.T)
        return xp.clip(sq, 0, None)

    def _tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        return self._profile(self._sqdist(X, Y, xp), xp)

    def _log_tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        return self._log_profile(self._sqdist(X, Y, xp), xp)

    def _diag(self, X: Any, xp: ModuleType) -> Any:
        zero = xp.zeros(X.shape[0], dtype=X.dtype)
        return self._profile(zero, xp)

    def _profile(self, s: Any, xp: ModuleType) -> Any:
        raise NotImplementedError

    def _log_profile(self, s: Any, xp: ModuleType) -> Any:
        return xp.log(self._profile(s, xp))

    def _profile_params(self) -> tuple[float, ...]:
        """Parameters of the compiled profile, in the order it expects. Override."""
        return ()

    def _fused(self) -> FusedSpec | None:
        if self._profile_name is None or _is_tensor_param(
                *(getattr(self, n) for n in self._param_names)):
            return None
        bw = self.bandwidth
        inv = 1.0 / bw if np.ndim(bw) == 0 else 1.0 / np.asarray(bw, dtype=np.float64)
        return FusedSpec("radial", self._profile_name, tuple(map(float, self._profile_params())),
                         inv)


class DotProductKernel(Kernel):
    """Base of kernels k(x, y) = f(<x, y>) (linear, polynomial, cosine)."""

    _profile_name: ClassVar[str | None] = None
    _normalize: ClassVar[bool] = False

    def _dots(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        if self._normalize:
            X = X / xp.sqrt((X * X).sum(axis=1))[:, None]
            Y = Y / xp.sqrt((Y * Y).sum(axis=1))[:, None]
        return X @ Y.T

    def _tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        return self._profile(self._dots(X, Y, xp), xp)

    def _diag(self, X: Any, xp: ModuleType) -> Any:
        if self._normalize:
            t = xp.ones(X.shape[0], dtype=X.dtype)
        else:
            t = (X * X).sum(axis=1)
        return self._profile(t, xp)

    def _profile(self, t: Any, xp: ModuleType) -> Any:
        raise NotImplementedError

    def _profile_params(self) -> tuple[float, ...]:
        return ()

    def _fused(self) -> FusedSpec | None:
        if self._profile_name is None or _is_tensor_param(
                *(getattr(self, n) for n in self._param_names)):
            return None
        return FusedSpec("dot", self._profile_name, tuple(map(float, self._profile_params())),
                         1.0, 1.0, self._normalize)

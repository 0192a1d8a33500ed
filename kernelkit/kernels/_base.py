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

import copy
import numbers
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from .._validation import check_pair, get_namespace, is_torch, result_dtype
from ..exceptions import InputValueError, ParameterError, ShapeError

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


def _format_float(value: float) -> str:
    """Short form when it is exact (``1``, ``0.5``), else the full round-trip repr."""
    short = f"{value:g}"
    return short if float(short) == value else repr(value)


def _format_value(value: Any) -> str:
    """A parameter as it would be typed: evaluable and lossless for numbers and arrays."""
    if is_torch(value):
        value = value.detach().cpu().numpy()
        inner = _format_value(value if value.ndim else float(value))
        return f"tensor({inner})"
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return _format_value(value.item())
        return "[" + ", ".join(_format_value(v) for v in value.tolist()) + "]"
    if isinstance(value, float):
        return _format_float(value)
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

    def __sklearn_clone__(self) -> Kernel:
        """An independent copy for ``sklearn.base.clone`` (grid searches, pipelines).

        scikit-learn's default clone rebuilds an object from ``get_params`` and insists the
        values come back identical; kernels normalise them when validating (a bandwidth
        becomes a float or an array), so a kernel is copied instead.
        """
        return copy.deepcopy(self)

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
        snapshot = _snapshot(self)
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
            _restore(snapshot)
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
    #: Make numpy scalars (``np.float64(2) * k``) defer to ``Kernel.__rmul__``.
    __array_ufunc__ = None

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
        X, Y = check_pair(X, Y, xp)
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
        """Diagonal for validated X. This default evaluates k(x_i, x_i) one row at a time
        (slow); every built-in kernel overrides it with a closed form."""
        values = [self._tile(X[i:i + 1], X[i:i + 1], xp)[0, 0] for i in range(X.shape[0])]
        return np.array(values, dtype=X.dtype) if xp is np else xp.stack(values)

    def _fused(self) -> FusedSpec | None:
        """The compiled engine's description of this kernel, or None (numpy path)."""
        return None


def _snapshot(kernel: Kernel) -> list[tuple[Kernel, dict[str, Any]]]:
    """The parameters of a kernel and of every kernel nested in it (for rollback)."""
    values = {name: getattr(kernel, name) for name in kernel._param_names}
    out = [(kernel, values)]
    for value in values.values():
        if isinstance(value, Kernel):
            out.extend(_snapshot(value))
    return out


def _restore(snapshot: list[tuple[Kernel, dict[str, Any]]]) -> None:
    for kernel, values in snapshot:
        for name, value in values.items():
            setattr(kernel, name, value)


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


#: Squared distances below this fraction of ||x||^2 + ||y||^2 (after centring) are
#: recomputed from direct differences. There the expansion ||x||^2 + ||y||^2 - 2<x, y>
#: has lost most of its digits, which matters for kernels with a kink at zero (Laplace,
#: Matérn), whose value depends on sqrt(s): without this, k(x, x) is off by ~1e-8.
_REFINE_BELOW = {"float32": 1e-2, "float64": 1e-3}


def _as_param(value: Any, like: Any, xp: ModuleType) -> Any:
    """A kernel parameter in the array type, dtype and device of ``like``.

    Python numbers are returned unchanged (they do not change the array's dtype); numpy
    arrays and torch tensors are converted, so a torch parameter keeps its gradient when
    ``xp`` is torch and is detached when ``xp`` is numpy.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, np.generic):
        return value
    if xp is np:
        if is_torch(value):
            value = value.detach().cpu().numpy()
        return np.asarray(value, dtype=like.dtype)
    if is_torch(value):
        return value.to(dtype=like.dtype, device=like.device)
    return xp.as_tensor(np.asarray(value), dtype=like.dtype, device=like.device)


def _safe_sqrt(s: Any, xp: ModuleType) -> Any:
    """sqrt(s) for s >= 0, with a zero (not NaN) gradient at s = 0 under torch autograd."""
    if xp is np:
        return np.sqrt(s)
    positive = s > 0
    return xp.where(positive, xp.sqrt(xp.where(positive, s, xp.ones_like(s))),
                    xp.zeros_like(s))


def _zeros_rows(X: Any, xp: ModuleType) -> Any:
    """A zero vector with one entry per row of X, in X's dtype (and device)."""
    if xp is np:
        return np.zeros(X.shape[0], dtype=X.dtype)
    return xp.zeros(X.shape[0], dtype=X.dtype, device=X.device)


def _squared_distances(X: Any, Y: Any, xp: ModuleType, bandwidth: Any = None) -> Any:
    """||(x_i - y_j) / bandwidth||^2 for all pairs, accurate for close pairs too.

    The bulk uses the BLAS-friendly expansion ||x||^2 + ||y||^2 - 2<x, y> on data centred
    at Y's mean (then scaled), clamped at 0. Pairs whose result is small relative to their
    norms, where the expansion cancels, are recomputed as ((x - y) / bandwidth)^2 from the
    original rows, so k(x, x) and close pairs are exact even for kinked kernels; the other
    pairs have a relative error of at most ~eps / sqrt(_REFINE_BELOW).
    """
    centre = Y.mean(axis=0) if xp is np else Y.mean(dim=0)
    Xc = X - centre
    Yc = Y - centre
    if bandwidth is not None:
        Xc = Xc / bandwidth
        Yc = Yc / bandwidth
    nx = (Xc * Xc).sum(axis=1)
    ny = (Yc * Yc).sum(axis=1)
    norms = nx[:, None] + ny[None, :]
    sq = xp.clip(norms - 2 * (Xc @ Yc.T), 0, None)
    fraction = _REFINE_BELOW["float32" if str(X.dtype).endswith("float32") else "float64"]
    close = sq <= fraction * norms
    i, j = np.nonzero(close) if xp is np else xp.nonzero(close, as_tuple=True)
    if len(i) == 0:
        return sq
    diff = X[i] - Y[j]
    if bandwidth is not None:
        diff = diff / bandwidth
    exact = (diff * diff).sum(axis=1)
    if xp is np:
        sq[i, j] = exact
        return sq
    return sq.index_put((i, j), exact)


class StationaryKernel(Kernel):
    """Base of kernels k(x, y) = f(||(x - y) / bandwidth||^2).

    Subclasses implement ``_profile(s, xp)`` (and ``_log_profile`` when positive) on the
    scaled squared distance ``s``; this class handles bandwidths (a scalar or one per
    feature), distances computed without catastrophic cancellation (centred data, clamped
    at 0, close pairs recomputed directly) and the diagonal f(0). ``_profile_name`` may be
    a class attribute or, when it depends on a parameter (Matérn), a property.
    """

    stationary = True
    #: Name of the compiled profile in the numba backend, or None.
    _profile_name: ClassVar[str | None] = None

    bandwidth: Any

    def _check_n_features(self, n_features: int) -> None:
        bw = self.bandwidth
        if is_torch(bw):
            bw = bw.detach().cpu().numpy()
        if np.ndim(bw) == 1 and np.size(bw) != n_features:
            raise ShapeError(
                f"{type(self).__name__} has {np.size(bw)} per-feature bandwidths but the "
                f"data has {n_features} features; pass one bandwidth per column or a scalar."
            )

    def _bandwidth_for(self, X: Any, xp: ModuleType) -> Any:
        return _as_param(self.bandwidth, X, xp)

    def _sqdist(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        """Scaled squared distances ||(x - y) / bandwidth||^2 (see _squared_distances)."""
        return _squared_distances(X, Y, xp, self._bandwidth_for(X, xp))

    def _tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        return self._profile(self._sqdist(X, Y, xp), xp)

    def _log_tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        return self._log_profile(self._sqdist(X, Y, xp), xp)

    def _diag(self, X: Any, xp: ModuleType) -> Any:
        return self._profile(_zeros_rows(X, xp), xp)

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
    """Base of kernels k(x, y) = f(<x, y>) (linear, polynomial, cosine).

    With ``_normalize = True`` rows are scaled to unit norm first (cosine); an all-zero
    row then has no direction and raises :class:`~kernelkit.exceptions.InputValueError`.
    """

    _profile_name: ClassVar[str | None] = None
    _normalize: ClassVar[bool] = False

    def _normalized(self, A: Any, name: str, xp: ModuleType) -> Any:
        """Rows of A divided by their norms (scaled by their largest entry first, so
        tiny or huge rows neither underflow nor overflow)."""
        peak = xp.abs(A).max(axis=1) if xp is np else xp.abs(A).amax(dim=1)
        zero = peak == 0
        if bool(zero.any()):
            row = int(np.flatnonzero(zero)[0]) if xp is np else int(xp.nonzero(zero)[0, 0])
            raise InputValueError(
                f"{name} row {row} is all zeros; the {type(self).__name__} kernel is "
                "undefined there. Remove zero rows or use the Linear kernel."
            )
        A = A / peak[:, None]
        return A / xp.sqrt((A * A).sum(axis=1))[:, None]

    def _dots(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        if self._normalize:
            X = self._normalized(X, "X", xp)
            Y = self._normalized(Y, "Y", xp)
        return X @ Y.T

    def _tile(self, X: Any, Y: Any, xp: ModuleType) -> Any:
        return self._profile(self._dots(X, Y, xp), xp)

    def _diag(self, X: Any, xp: ModuleType) -> Any:
        if self._normalize:
            self._normalized(X, "X", xp)
            t = _zeros_rows(X, xp) + 1
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

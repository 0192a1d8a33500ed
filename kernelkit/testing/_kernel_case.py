"""``KernelTestCase``: the conformance tests every kernel must pass.

Subclass it in a pytest test module and supply ``make_kernel``::

    class TestMyKernel(KernelTestCase):
        fused_profile = None                    # or the compiled profile's name

        def make_kernel(self, n_features):
            return MyKernel(bandwidth=0.7)

        def naive_matrix(self, kernel, X, Y):   # needed for kernels kernelkit does not know
            ...

The mixin checks values against a float64 oracle (several shapes and memory layouts),
symmetry, positive semi-definiteness, the diagonal, dtypes (float32/float64/int/mixed),
the log-kernel, parameters (round trip, rollback on error), the repr, torch inputs and
gradients, that inputs are not mutated, and that bad inputs raise kernelkit's errors.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from .. import kernels as _kernels
from ..exceptions import InputTypeError, InputValueError, ParameterError, ShapeError
from ..kernels import Kernel
from ._oracles import naive_fused_matrix, naive_kernel_matrix, naive_log_kernel_matrix
from ._tolerances import PSD_RTOL, assert_close

__all__ = ["KernelTestCase"]

DTYPES = [np.float32, np.float64]
#: (n, m, n_features or None for the case's default, memory layout)
CASES = [
    (7, 5, None, "C"),
    (6, 4, None, "F"),
    (5, 6, None, "strided"),
    (1, 4, None, "C"),
    (5, 1, None, "C"),
    (4, 3, 1, "C"),
]
#: A bad input, the exception it must raise, and a label.
BAD_INPUTS = [
    ("nan", InputValueError),
    ("inf", InputValueError),
    ("3d", ShapeError),
    ("1d", ShapeError),
    ("no rows", InputValueError),
    ("no features", InputValueError),
    ("wrong features", ShapeError),
    ("strings", InputTypeError),
    ("none", InputTypeError),
]


def _layout(A: np.ndarray, layout: str) -> np.ndarray:
    if layout == "F":
        return np.asfortranarray(A)
    if layout == "strided":
        wide = np.zeros((A.shape[0], 2 * A.shape[1]), dtype=A.dtype)
        wide[:, ::2] = A
        return wide[:, ::2]
    return np.ascontiguousarray(A)


def _leaf_params(kernel: Kernel) -> dict[str, Any]:
    """Deep parameters that are values, not kernels: ``k1__bandwidth`` etc."""
    return {name: value for name, value in kernel.get_params(deep=True).items()
            if not isinstance(value, Kernel)}


def clone_kernel(kernel: Kernel) -> Kernel:
    """An independent copy built from ``get_params`` (nested kernels cloned too)."""
    params = {}
    for name, value in kernel.get_params(deep=False).items():
        if isinstance(value, Kernel):
            value = clone_kernel(value)
        elif isinstance(value, np.ndarray):
            value = value.copy()
        params[name] = value
    return type(kernel)(**params)


def _state(kernel: Kernel, X: np.ndarray) -> tuple[str, dict[str, Any], np.ndarray]:
    params = {k: copy.deepcopy(v) for k, v in _leaf_params(kernel).items()}
    return repr(kernel), params, kernel(X)


class KernelTestCase:
    """Mixin of pytest tests for a :class:`~kernelkit.kernels.Kernel`.

    Attributes a subclass may override
    ----------------------------------
    n_features : int
        Default number of features of the test data.
    psd_n_features : tuple of int
        Feature counts on which Gram matrices must be PSD (Periodic: only 1).
    grad_params : tuple of str
        Parameter names (last ``__`` component) that ``torch.autograd.gradcheck``
        differentiates, besides the inputs.
    fused_profile : str or None
        The expected ``_fused().profile``; None when the kernel has no compiled form.
    """

    n_features: int = 3
    psd_n_features: tuple[int, ...] = (1, 3)
    grad_params: tuple[str, ...] = ("bandwidth",)
    fused_profile: str | None = None
    seed: int = 0

    # -- to supply ---------------------------------------------------------------------
    def make_kernel(self, n_features: int) -> Kernel:
        """The kernel under test, for data with ``n_features`` columns."""
        raise NotImplementedError

    def make_data(self, n: int, m: int, n_features: int, dtype: Any,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Test inputs X (n, d) and Y (m, d). Override for kernels with a restricted
        domain."""
        X = rng.normal(size=(n, n_features)).astype(dtype)
        Y = rng.normal(size=(m, n_features)).astype(dtype)
        return X, Y

    def naive_matrix(self, kernel: Kernel, X: Any, Y: Any) -> np.ndarray:
        """float64 oracle of ``kernel(X, Y)``."""
        return naive_kernel_matrix(kernel, X, Y)

    def naive_log_matrix(self, kernel: Kernel, X: Any, Y: Any) -> np.ndarray:
        """float64 oracle of ``kernel.log(X, Y)`` (positive kernels)."""
        return naive_log_kernel_matrix(kernel, X, Y)

    # -- helpers -----------------------------------------------------------------------
    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self.seed)

    def _data(self, n: int = 6, m: int = 5, d: int | None = None,
              dtype: Any = np.float64) -> tuple[Kernel, np.ndarray, np.ndarray]:
        d = self.n_features if d is None else d
        X, Y = self.make_data(n, m, d, dtype, self._rng())
        return self.make_kernel(d), X, Y

    # -- values ------------------------------------------------------------------------
    @pytest.mark.parametrize("dtype", DTYPES)
    @pytest.mark.parametrize("n, m, d, layout", CASES)
    def test_values_match_oracle(self, dtype, n, m, d, layout):
        kernel, X, Y = self._data(n, m, d, dtype)
        X, Y = _layout(X, layout), _layout(Y, layout)
        K = kernel(X, Y)
        assert isinstance(K, np.ndarray) and K.shape == (n, m)
        assert_close(K, self.naive_matrix(kernel, X, Y), dtype=dtype)

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_y_none_means_x(self, dtype):
        kernel, X, _ = self._data(dtype=dtype)
        np.testing.assert_array_equal(kernel(X), kernel(X, X))
        assert_close(kernel(X), self.naive_matrix(kernel, X, X), dtype=dtype)

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_symmetric(self, dtype):
        kernel, X, _ = self._data(9, dtype=dtype)
        K = kernel(X)
        assert_close(K, K.T.astype(np.float64), dtype=dtype)

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_positive_semidefinite(self, dtype):
        for d in self.psd_n_features:
            kernel, X, _ = self._data(40, 1, d, dtype)
            X = np.concatenate([X, X[:5]])  # exact duplicates: singular, still PSD
            K = np.asarray(kernel(X), dtype=np.float64)
            smallest = np.linalg.eigvalsh((K + K.T) / 2)[0]
            bound = -PSD_RTOL[dtype] * len(K) * np.abs(K).max()
            assert smallest >= bound, f"{kernel!r}: eigenvalue {smallest:.3g} < {bound:.3g}"

    @pytest.mark.parametrize("dtype", DTYPES)
    def test_diag_matches_matrix(self, dtype):
        kernel, X, _ = self._data(8, dtype=dtype)
        diag = kernel.diag(X)
        assert diag.shape == (8,) and diag.dtype == dtype
        assert_close(diag, np.diag(self.naive_matrix(kernel, X, X)), dtype=dtype)
        assert_close(diag, np.diag(kernel(X)).astype(np.float64), dtype=dtype)

    # -- dtypes ------------------------------------------------------------------------
    @pytest.mark.parametrize("dtype", DTYPES)
    def test_dtype_preserved(self, dtype):
        kernel, X, Y = self._data(dtype=dtype)
        assert kernel(X, Y).dtype == dtype
        assert kernel(X).dtype == dtype
        assert kernel.diag(X).dtype == dtype
        if kernel.positive:
            assert kernel.log(X, Y).dtype == dtype

    def test_integer_input_is_float64(self):
        kernel, _, _ = self._data()
        rng = self._rng()
        X = rng.integers(-3, 4, size=(5, self.n_features))
        Y = rng.integers(-3, 4, size=(4, self.n_features))
        X[:, 0] = np.arange(1, 6)  # no all-zero rows (cosine)
        Y[:, 0] = np.arange(1, 5)
        K = kernel(X, Y)
        assert K.dtype == np.float64
        assert_close(K, self.naive_matrix(kernel, X, Y))
        assert kernel.diag(X).dtype == np.float64

    def test_mixed_dtypes_upcast_to_float64(self):
        kernel, X, Y = self._data()
        X32 = X.astype(np.float32)
        for A, B in ((X32, Y), (X, Y.astype(np.float32))):
            K = kernel(A, B)
            assert K.dtype == np.float64
            assert_close(K, self.naive_matrix(kernel, A, B), dtype=np.float64)

    # -- log-kernel ----------------------------------------------------------------------
    @pytest.mark.parametrize("dtype", DTYPES)
    def test_log_kernel(self, dtype):
        kernel, X, Y = self._data(dtype=dtype)
        if not kernel.positive:
            with pytest.raises(ParameterError, match="no logarithm"):
                kernel.log(X, Y)
            return
        logK = kernel.log(X, Y)
        assert_close(logK, self.naive_log_matrix(kernel, X, Y), dtype=dtype)
        assert_close(np.exp(np.asarray(logK, dtype=np.float64)),
                     self.naive_matrix(kernel, X, Y), dtype=dtype)
        # far apart, k underflows but log k must stay finite and accurate
        far = (X * 40).astype(dtype)
        logK = kernel.log(far, Y)
        assert np.all(np.isfinite(logK))
        assert_close(logK, self.naive_log_matrix(kernel, far, Y), dtype=dtype)

    # -- parameters ----------------------------------------------------------------------
    def test_get_set_params_round_trip(self):
        kernel, X, Y = self._data()
        params = kernel.get_params(deep=False)
        assert set(params) == set(kernel._param_names)
        rebuilt = clone_kernel(kernel)
        assert rebuilt == kernel and rebuilt is not kernel
        assert repr(rebuilt) == repr(kernel)
        np.testing.assert_array_equal(rebuilt(X, Y), kernel(X, Y))
        before = kernel(X, Y)
        assert kernel.set_params(**params) is kernel
        np.testing.assert_array_equal(kernel(X, Y), before)
        deep = kernel.get_params(deep=True)
        assert set(params) <= set(deep)
        assert kernel.set_params(**_leaf_params(kernel)) is kernel
        np.testing.assert_array_equal(kernel(X, Y), before)

    def _valid_change(self, kernel: Kernel, path: str, value: Any) -> Any:
        """Some other valid value for a leaf parameter, or None if none is found."""
        if isinstance(value, bool) or not isinstance(value, (int, float, np.ndarray)):
            return None
        for candidate in (value * 2, value / 2, value + 1):
            if isinstance(value, int):
                candidate = int(candidate)
            try:
                clone_kernel(kernel).set_params(**{path: candidate})
            except ParameterError:
                continue
            return candidate
        return None

    def test_invalid_set_params_leaves_kernel_unchanged(self):
        kernel, X, _ = self._data()
        before = _state(kernel, X)

        def unchanged() -> None:
            after = _state(kernel, X)
            assert after[0] == before[0]
            assert after[1].keys() == before[1].keys()
            for name in before[1]:
                np.testing.assert_array_equal(np.asarray(after[1][name]),
                                              np.asarray(before[1][name]), err_msg=name)
            np.testing.assert_array_equal(after[2], before[2])

        with pytest.raises(ParameterError, match="no parameter"):
            kernel.set_params(not_a_parameter=1.0)
        unchanged()
        leaves = _leaf_params(kernel)
        for path, value in leaves.items():
            bad = np.full(np.shape(value), -1.0) if np.ndim(value) else -1
            with pytest.raises(ParameterError):
                kernel.set_params(**{path: bad})
            unchanged()
            # a valid change of another parameter in the same call is rolled back too
            for other, other_value in leaves.items():
                change = self._valid_change(kernel, other, other_value)
                if other == path or change is None:
                    continue
                with pytest.raises(ParameterError):
                    kernel.set_params(**{other: change, path: bad})
                unchanged()

    def test_repr_evaluates_to_equal_kernel(self):
        kernel, X, Y = self._data()
        text = repr(kernel)
        rebuilt = eval(text, dict(vars(_kernels)))  # our own repr: trusted
        assert isinstance(rebuilt, Kernel)
        assert repr(rebuilt) == text
        assert_close(rebuilt(X, Y), self.naive_matrix(kernel, X, Y))

    # -- fused description --------------------------------------------------------------
    def test_fused_spec(self):
        kernel, X, Y = self._data()
        spec = kernel._fused()
        if self.fused_profile is None:
            assert spec is None, f"{kernel!r} unexpectedly has a fused spec {spec}"
            return
        assert spec is not None and spec.profile == self.fused_profile
        assert spec.kind in ("radial", "dot")
        assert all(isinstance(p, float) for p in spec.params)
        assert_close(naive_fused_matrix(spec, X, Y), self.naive_matrix(kernel, X, Y))

    # -- torch ---------------------------------------------------------------------------
    @pytest.mark.parametrize("dtype", DTYPES)
    def test_torch_matches_numpy(self, dtype):
        torch = pytest.importorskip("torch")
        kernel, X, Y = self._data(dtype=dtype)
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
        K = kernel(Xt, Yt)
        assert isinstance(K, torch.Tensor) and K.dtype == Xt.dtype and K.shape == (6, 5)
        assert_close(K, self.naive_matrix(kernel, X, Y), dtype=dtype)
        diag = kernel.diag(Xt)
        assert isinstance(diag, torch.Tensor) and diag.dtype == Xt.dtype
        assert_close(diag, np.diag(self.naive_matrix(kernel, X, X)), dtype=dtype)
        mixed = kernel(Xt, Y)  # a numpy Y joins the torch computation
        assert isinstance(mixed, torch.Tensor)
        assert_close(mixed, self.naive_matrix(kernel, X, Y), dtype=dtype)
        if kernel.positive:
            logK = kernel.log(Xt, Yt)
            assert isinstance(logK, torch.Tensor) and logK.dtype == Xt.dtype
            assert_close(logK, self.naive_log_matrix(kernel, X, Y), dtype=dtype)

    def test_torch_gradients(self):
        torch = pytest.importorskip("torch")
        kernel, X, Y = self._data(4, 3)
        paths = [p for p, v in _leaf_params(kernel).items()
                 if p.rpartition("__")[2] in self.grad_params
                 and isinstance(v, (float, np.ndarray))]
        values = [torch.tensor(np.asarray(kernel.get_params()[p], dtype=np.float64),
                               requires_grad=True) for p in paths]
        Xt = torch.tensor(X, requires_grad=True)
        Yt = torch.tensor(Y, requires_grad=True)

        def evaluate(method: str, *args: Any) -> Any:
            A, B, *params = args
            k = clone_kernel(kernel).set_params(**dict(zip(paths, params, strict=True)))
            return k.diag(A) if method == "diag" else getattr(k, method)(A, B)

        methods = ["__call__"] + (["log"] if kernel.positive else [])
        for method in methods:
            assert torch.autograd.gradcheck(
                lambda *a, method=method: evaluate(method, *a), (Xt, Yt, *values)), method
        diag = evaluate("diag", Xt, None, *values)
        if diag.requires_grad:
            assert torch.autograd.gradcheck(
                lambda *a: evaluate("diag", *a), (Xt, Yt, *values)), "diag"
        else:  # a diagonal cut off from autograd must really be constant
            moved = evaluate("diag", Xt.detach() * 1.5 + 0.25, None, *values)
            torch.testing.assert_close(moved, diag.detach(), rtol=0, atol=0)
        # k(X, X) has zero distances, where kinked kernels must not give NaN gradients
        if values:
            evaluate("__call__", Xt.detach(), None, *values).sum().backward()
            for path, value in zip(paths, values, strict=True):
                assert value.grad is not None and bool(torch.isfinite(value.grad).all()), path

    # -- robustness ----------------------------------------------------------------------
    def test_inputs_not_mutated(self):
        kernel, X, Y = self._data()
        X0, Y0 = X.copy(), Y.copy()
        X.flags.writeable = False
        Y.flags.writeable = False
        kernel(X, Y)
        kernel(X)
        kernel.diag(X)
        if kernel.positive:
            kernel.log(X, Y)
        np.testing.assert_array_equal(X, X0)
        np.testing.assert_array_equal(Y, Y0)

    def _bad(self, label: str, X: np.ndarray) -> Any:
        if label == "nan":
            B = X.copy()
            B[1, 0] = np.nan
            return B
        if label == "inf":
            B = X.copy()
            B[0, -1] = -np.inf
            return B
        return {
            "3d": X[None],
            "1d": X[:, 0],
            "no rows": X[:0],
            "no features": X[:, :0],
            "wrong features": np.ones((3, X.shape[1] + 1)),
            "strings": X.astype(str),
            "none": None,
        }[label]

    @pytest.mark.parametrize("label, error", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
    def test_bad_inputs_raise(self, label, error):
        kernel, X, Y = self._data()
        bad = self._bad(label, Y)
        log_error = error if kernel.positive else ParameterError
        if label == "none":  # Y=None means Y=X, so only X can be "missing"
            calls = [(lambda: kernel(bad), error), (lambda: kernel.diag(bad), error),
                     (lambda: kernel.log(bad), log_error)]
        else:
            calls = [(lambda: kernel(X, bad), error), (lambda: kernel(bad, X), error),
                     (lambda: kernel.log(X, bad), log_error)]
            if label != "wrong features":
                calls += [(lambda: kernel(bad), error), (lambda: kernel.diag(bad), error)]
        for call, expected in calls:
            with pytest.raises(expected):
                call()

"""Engine reductions against the dense float64 oracles, for every backend and dtype."""

from __future__ import annotations

import numpy as np
import pytest

import kernelkit
from kernelkit.exceptions import (
    InputTypeError,
    InputValueError,
    ParameterError,
    ShapeError,
)
from kernelkit.kernels import (
    Cosine,
    Gaussian,
    InverseMultiquadric,
    Laplace,
    Matern,
    Polynomial,
)
from kernelkit.ops.plan import DIRECT_MAX_FEATURES
from kernelkit.testing import (
    REDUCTION_RTOL,
    example_kernels,
    naive_kernel_matrix,
    naive_knn,
    naive_logsumexp,
)

DTYPES = [np.float32, np.float64]
D_GEMM = DIRECT_MAX_FEATURES + 5  # a feature count that takes the BLAS (GEMM) path

FUSED_KERNELS = {name: (lambda d, name=name: example_kernels(d)[name])
                 for name in example_kernels(2, compiled=True)}
GENERIC_KERNELS = {name: (lambda d, name=name: example_kernels(d)[name])
                   for name in example_kernels(2, compiled=False)}
ALL_KERNELS = {**FUSED_KERNELS, **GENERIC_KERNELS}
POSITIVE = [name for name, make in ALL_KERNELS.items() if make(2).positive]

# (n, m, d, k): single rows/columns, one feature, the GEMM path, several right-hand
# sides, and more right-hand sides than the fused path handles (kernel tile + BLAS).
SHAPES = [(9, 13, 3, 1), (1, 7, 2, 1), (6, 1, 2, 2), (8, 11, 1, 3), (10, 12, D_GEMM, 1),
          (7, 9, D_GEMM, 6), (12, 10, 4, 7)]


def _data(rng, n, m, d, dtype, layout="C"):
    X = rng.normal(size=(n, d)).astype(dtype)
    Y = (rng.normal(size=(m, d)) + 0.3).astype(dtype)
    if layout == "F":
        X, Y = np.asfortranarray(X), np.asfortranarray(Y)
    elif layout == "strided":
        X = np.repeat(X, 2, axis=0)[::2]
        Y = np.repeat(Y, 2, axis=1)[:, ::2]
    return X, Y


def assert_reduction_close(out, kernel, X, Y, V, dtype):
    """|out_i - (K V)_i| <= rtol * sum_j |k_ij v_j| (+ a tiny floor), per row and column."""
    K = naive_kernel_matrix(kernel, X, Y)
    V64 = np.asarray(V, dtype=np.float64).reshape(len(V), -1)
    expected = K @ V64
    bound = np.abs(K) @ np.abs(V64)
    err = np.abs(np.asarray(out, dtype=np.float64).reshape(expected.shape) - expected)
    tol = REDUCTION_RTOL[dtype] * bound + np.finfo(dtype).tiny * K.shape[1]
    worst = np.max(err / np.maximum(bound, np.finfo(np.float64).tiny))
    assert np.all(err <= tol), f"max relative error {worst:.3g} > {REDUCTION_RTOL[dtype]:g}"


def _backend_ctx(backend):
    return kernelkit.config_context(backend=backend)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,m,d,k", SHAPES)
@pytest.mark.parametrize("name", list(ALL_KERNELS))
@pytest.mark.parametrize("backend", ["auto", "numpy"])
def test_matvec_matches_oracle(backend, name, n, m, d, k, dtype, rng, tiling):
    kernel = ALL_KERNELS[name](d)
    X, Y = _data(rng, n, m, d, dtype)
    V = rng.normal(size=(m, k)).astype(dtype)
    if k == 1:
        V = V[:, 0]
    with _backend_ctx(backend):
        out = kernelkit.matvec(kernel, X, Y, V)
    assert out.dtype == dtype
    assert out.shape == ((n,) if k == 1 else (n, k))
    assert_reduction_close(out, kernel, X, Y, V, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["F", "strided"])
@pytest.mark.parametrize("d", [3, D_GEMM])
def test_matvec_any_memory_order(layout, d, dtype, rng):
    kernel = Gaussian(bandwidth=np.sqrt(d))
    X, Y = _data(rng, 20, 15, d, dtype, layout)
    V = np.asfortranarray(rng.normal(size=(15, 2)).astype(dtype))
    assert_reduction_close(kernelkit.matvec(kernel, X, Y, V), kernel, X, Y, V, dtype)


@pytest.mark.parametrize("name", list(FUSED_KERNELS))
def test_fused_kernels_take_the_compiled_path(name):
    with kernelkit.config_context(backend="numba"):
        X = np.random.default_rng(0).normal(size=(5, 3))
        kernelkit.matvec(ALL_KERNELS[name](3), X, X, np.ones(5))


@pytest.mark.parametrize("name", list(GENERIC_KERNELS))
def test_backend_numba_refuses_kernels_without_compiled_path(name):
    X = np.ones((3, 2))
    with kernelkit.config_context(backend="numba"), pytest.raises(ParameterError, match="numba"):
        kernelkit.matvec(ALL_KERNELS[name](2), X, X, np.ones(3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [2, D_GEMM])
def test_kernel_sum_with_and_without_weights(d, dtype, rng, tiling):
    kernel = Matern(nu=2.5, bandwidth=np.sqrt(d))
    X, Y = _data(rng, 11, 14, d, dtype)
    w = rng.uniform(size=14).astype(dtype)
    assert_reduction_close(kernelkit.kernel_sum(kernel, X, Y, w), kernel, X, Y, w, dtype)
    ones = np.ones(14, dtype=dtype)
    assert_reduction_close(kernelkit.kernel_sum(kernel, X, Y), kernel, X, Y, ones, dtype)
    # Y=None means Y=X.
    assert_reduction_close(kernelkit.kernel_sum(kernel, X), kernel, X, X, ones[:11], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [3, D_GEMM])
@pytest.mark.parametrize("name", POSITIVE)
@pytest.mark.parametrize("backend", ["auto", "numpy"])
def test_logsumexp_matches_oracle(backend, name, d, dtype, rng, tiling):
    kernel = ALL_KERNELS[name](d)
    X, Y = _data(rng, 9, 17, d, dtype)
    w = rng.uniform(size=17).astype(dtype)
    w[3] = 0.0
    with _backend_ctx(backend):
        out = kernelkit.logsumexp(kernel, X, Y, w)
        plain = kernelkit.logsumexp(kernel, X, Y)
    assert out.dtype == dtype
    # An absolute error in log space is a relative error of the sum.
    rtol = REDUCTION_RTOL[dtype]
    np.testing.assert_allclose(out, naive_logsumexp(kernel, X, Y, w), rtol=0, atol=rtol)
    np.testing.assert_allclose(plain, naive_logsumexp(kernel, X, Y), rtol=0, atol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [2, D_GEMM])
@pytest.mark.parametrize("backend", ["auto", "numpy"])
def test_logsumexp_is_stable_when_every_kernel_value_underflows(backend, d, dtype, tiling):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, d)).astype(dtype)
    Y = (rng.normal(size=(10, d)) + 5.0).astype(dtype)
    kernel = Gaussian(bandwidth=0.01)  # exp(-s / 2) is 0 in float64 for every pair
    with _backend_ctx(backend):
        out = kernelkit.logsumexp(kernel, X, Y)
    expected = naive_logsumexp(kernel, X, Y)
    assert np.all(np.isfinite(out)) and np.all(expected < -1e4)
    # Relative accuracy of huge log values: float32 inputs carry ~1e-7 relative error.
    np.testing.assert_allclose(out, expected, rtol=REDUCTION_RTOL[dtype])


@pytest.mark.parametrize("backend", ["auto", "numpy"])
def test_logsumexp_zero_weights_give_minus_infinity(backend, tiling):
    X = np.zeros((3, 2))
    with _backend_ctx(backend):
        out = kernelkit.logsumexp(Gaussian(), X, X, np.zeros(3))
    assert np.all(out == -np.inf)


def test_logsumexp_refuses_kernels_that_can_be_negative():
    X = np.ones((3, 2))
    with pytest.raises(ParameterError, match="positive kernel"):
        kernelkit.logsumexp(Polynomial(), X, X)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [1, 3, D_GEMM])
@pytest.mark.parametrize("backend", ["auto", "numpy"])
def test_knn_matches_oracle(backend, d, dtype, rng, tiling):
    X, Y = _data(rng, 13, 21, d, dtype)
    for k in (1, 4, 21):
        with _backend_ctx(backend):
            dist, idx = kernelkit.knn(X, Y, k)
        ref_d, ref_i = naive_knn(X, Y, k)
        assert dist.dtype == dtype and idx.dtype == np.int64
        np.testing.assert_array_equal(idx, ref_i)
        np.testing.assert_allclose(dist, ref_d, rtol=REDUCTION_RTOL[dtype], atol=1e-6)


@pytest.mark.parametrize("d", [2, D_GEMM])
@pytest.mark.parametrize("backend", ["auto", "numpy"])
def test_knn_ties_go_to_the_lower_index(backend, d, tiling):
    rng = np.random.default_rng(3)
    base = rng.normal(size=(5, d))
    Y = np.concatenate([base, base, base[::-1]])  # every point three times
    X = base + 1e-3
    with _backend_ctx(backend):
        dist, idx = kernelkit.knn(X, Y, 3)
    ref_d, ref_i = naive_knn(X, Y, 3)
    np.testing.assert_array_equal(idx, ref_i)
    np.testing.assert_allclose(dist, ref_d, rtol=1e-12)
    assert np.all(np.diff(idx, axis=1) > 0)  # equal distances, increasing indices


def test_knn_of_a_set_with_itself_finds_each_point_first(rng):
    X = rng.normal(size=(30, 3))
    dist, idx = kernelkit.knn(X, None, 1)
    np.testing.assert_array_equal(idx[:, 0], np.arange(30))
    np.testing.assert_array_equal(dist, 0.0)


# ----------------------------------------------------------------------------- dtypes
def test_float32_stays_float32_and_mixed_upcasts(rng):
    X32 = rng.normal(size=(5, 2)).astype(np.float32)
    k = Gaussian()
    assert kernelkit.matvec(k, X32, X32, np.ones(5, np.float32)).dtype == np.float32
    assert kernelkit.matvec(k, X32, X32, np.ones(5)).dtype == np.float64
    assert kernelkit.matvec(k, X32, X32.astype(np.float64), np.ones(5, np.float32)).dtype \
        == np.float64
    assert kernelkit.logsumexp(k, X32).dtype == np.float32
    assert kernelkit.knn(X32, X32.astype(np.float64), 2)[0].dtype == np.float64


def test_integer_inputs_are_cast_to_float64():
    X = np.arange(12).reshape(6, 2)
    out = kernelkit.matvec(Gaussian(bandwidth=3.0), X, X, np.arange(6))
    assert out.dtype == np.float64
    assert_reduction_close(out, Gaussian(bandwidth=3.0), X, X, np.arange(6), np.float64)


@pytest.mark.parametrize("fn", ["matvec", "kernel_sum", "logsumexp", "knn"])
def test_inputs_are_never_mutated(fn, rng):
    X = rng.normal(size=(20, 3)).astype(np.float32)
    Y = rng.normal(size=(25, 3)).astype(np.float32)
    V = rng.normal(size=(25, 2)).astype(np.float32)
    w = rng.uniform(size=25).astype(np.float32)
    copies = [A.copy() for A in (X, Y, V, w)]
    k = Gaussian(bandwidth=np.array([1.0, 2.0, 3.0]))
    bw = k.bandwidth.copy()
    if fn == "matvec":
        kernelkit.matvec(k, X, Y, V)
    elif fn == "kernel_sum":
        kernelkit.kernel_sum(k, X, Y, w)
    elif fn == "logsumexp":
        kernelkit.logsumexp(k, X, Y, w)
    else:
        kernelkit.knn(X, Y, 3)
    for A, B in zip((X, Y, V, w), copies, strict=True):
        np.testing.assert_array_equal(A, B)
    np.testing.assert_array_equal(k.bandwidth, bw)


# -------------------------------------------------------------------------- bad input
def _bad(name):
    X = np.ones((4, 2))
    if name == "nan":
        X[1, 1] = np.nan
    elif name == "inf":
        X[0, 0] = np.inf
    elif name == "empty":
        X = np.ones((0, 2))
    elif name == "3d":
        X = np.ones((4, 2, 1))
    elif name == "strings":
        X = np.array([["a", "b"]] * 4)
    elif name == "objects":
        X = np.array([[object(), object()]] * 4)
    return X


BAD = {"nan": InputValueError, "inf": InputValueError, "empty": InputValueError,
       "3d": ShapeError, "strings": InputTypeError, "objects": InputTypeError}


@pytest.mark.parametrize("which", ["X", "Y", "V"])
@pytest.mark.parametrize("bad", list(BAD))
def test_bad_arrays_raise_typed_errors_naming_the_argument(bad, which):
    good = np.ones((4, 2))
    args = {"X": good, "Y": good, "V": np.ones(4)}
    value = _bad(bad)
    if which == "V":
        value = value.reshape(-1)[:4] if value.ndim == 2 else value
        if bad == "3d":
            value = np.ones((4, 1, 1))
    args[which] = value
    with pytest.raises(BAD[bad], match=which):
        kernelkit.matvec(Gaussian(), args["X"], args["Y"], args["V"])


def test_shape_mismatches_raise(rng):
    X, Y = np.ones((4, 2)), np.ones((5, 3))
    with pytest.raises(ShapeError, match="features"):
        kernelkit.matvec(Gaussian(), X, Y, np.ones(5))
    with pytest.raises(ShapeError, match="V has 4 rows"):
        kernelkit.matvec(Gaussian(), X, X[:, :2].repeat(2, 0)[:5], np.ones(4))
    with pytest.raises(ShapeError, match="bandwidth"):
        kernelkit.matvec(Gaussian(bandwidth=[1.0, 2.0, 3.0]), X, X, np.ones(4))
    with pytest.raises(ShapeError, match="weights"):
        kernelkit.kernel_sum(Gaussian(), X, X, np.ones(3))
    with pytest.raises(InputValueError, match="V is empty"):
        kernelkit.matvec(Gaussian(), X, X, np.ones((4, 0)))


def test_bad_weights_and_k():
    X = np.ones((4, 2))
    with pytest.raises(InputValueError, match="negative"):
        kernelkit.logsumexp(Gaussian(), X, X, -np.ones(4))
    with pytest.raises(InputValueError, match="weights"):
        kernelkit.logsumexp(Gaussian(), X, X, np.full(4, np.nan))
    for bad_k in (0, -1, 1.5, True, "3"):
        with pytest.raises(ParameterError, match="k must be"):
            kernelkit.knn(X, X, bad_k)
    with pytest.raises(ParameterError, match="k=5 is larger"):
        kernelkit.knn(X, X, 5)


def test_not_a_kernel():
    with pytest.raises(ParameterError, match="kernel must be"):
        kernelkit.matvec("gaussian", np.ones((2, 1)), np.ones((2, 1)), np.ones(2))


def test_cosine_zero_row_is_a_clear_error():
    X = np.ones((3, 2))
    X[1] = 0.0
    with pytest.raises(InputValueError, match="zero"):
        kernelkit.matvec(Cosine(), X, X, np.ones(3))


@pytest.mark.parametrize("d", [D_GEMM, 64])
@pytest.mark.parametrize("relative_bandwidth", [0.1, 0.25, 0.5, 1.0])
@pytest.mark.parametrize("make", [Gaussian, Laplace, lambda bandwidth: Matern(2.5, bandwidth),
                                  lambda bandwidth: InverseMultiquadric(0.5, 1.0, bandwidth)],
                         ids=["gaussian", "laplace", "matern52", "imq"])
def test_float32_blas_path_keeps_its_accuracy_for_close_pairs(make, relative_bandwidth, d):
    """Near-duplicate points and small bandwidths make ||x||^2 + ||y||^2 - 2 x.y cancel;
    float32 results must stay within REDUCTION_RTOL all the same (the engine switches
    the cross term to float64 when its error bound says so)."""
    rng = np.random.default_rng(7)
    h = relative_bandwidth * np.sqrt(d)
    X = (rng.normal(size=(120, d)) + 3.0).astype(np.float32)
    Y = (X + 0.05 * h * rng.normal(size=X.shape)).astype(np.float32)
    Y[:10] = X[:10]  # exact duplicates: s = 0, where Laplace's sqrt has its kink
    V = rng.normal(size=120).astype(np.float32)
    kernel = make(bandwidth=h)
    assert_reduction_close(kernelkit.matvec(kernel, X, Y, V), kernel, X, Y, V, np.float32)
    if kernel.positive:
        np.testing.assert_allclose(kernelkit.logsumexp(kernel, X, Y),
                                   naive_logsumexp(kernel, X, Y), rtol=0,
                                   atol=REDUCTION_RTOL[np.float32])


@pytest.mark.parametrize("k", [1, 8])  # fused rows / tiles multiplied by BLAS
def test_float64_blas_path_is_exact_at_coincident_points_of_kinked_kernels(k):
    """Laplace reads sqrt(s): at s = 0 the expansion's cancellation (~1e-16 of the norms)
    became ~1e-8 of k. Close pairs are recomputed from direct differences, so float64
    keeps REDUCTION_RTOL there too (found by the bilinear-symmetry property test)."""
    from kernelkit.ops import normal_matvec

    rng = np.random.default_rng(3)
    d = D_GEMM
    X = rng.normal(size=(60, d)) + 2.0
    Y = np.concatenate([X[:20], X[20:40] + 1e-9, rng.normal(size=(30, d))])
    X[:5] = 0.0  # and all-zero rows, as in the falsifying example
    Y[:3] = 0.0
    kernel = Laplace(bandwidth=1.5)
    V = rng.normal(size=(70, k))
    out = kernelkit.matvec(kernel, X, Y, V)
    assert_reduction_close(out, kernel, X, Y, V, np.float64)
    np.testing.assert_allclose(kernelkit.logsumexp(kernel, X, Y), naive_logsumexp(kernel, X, Y),
                               rtol=0, atol=REDUCTION_RTOL[np.float64])
    K = naive_kernel_matrix(kernel, X, Y)
    U = rng.normal(size=(70, k))
    ref = K.T @ (K @ U)
    bound = np.abs(K).T @ (np.abs(K) @ np.abs(U))
    assert np.all(np.abs(normal_matvec(kernel, X, Y, U) - ref)
                  <= REDUCTION_RTOL[np.float64] * bound)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [2, D_GEMM])
def test_knn_over_many_chunks_and_tiles(d, dtype):
    """Enough columns for several screening chunks per tile and several tiles per row,
    with duplicated points so ties cross chunk and tile boundaries."""
    rng = np.random.default_rng(11)
    base = rng.normal(size=(350, d))
    Y = np.concatenate([base, base[::-1]]).astype(dtype)  # 700 points, each twice
    X = (base[:40] + 1e-3).astype(dtype)
    for cols in (2048, 100):
        with kernelkit.config_context(working_memory=cols * 8 * dtype().itemsize / 2**20):
            dist, idx = kernelkit.knn(X, Y, 7)
        ref_d, ref_i = naive_knn(X, Y, 7)
        np.testing.assert_array_equal(idx, ref_i)
        np.testing.assert_allclose(dist, ref_d, rtol=REDUCTION_RTOL[dtype], atol=1e-6)

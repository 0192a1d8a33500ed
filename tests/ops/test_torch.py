"""torch tensors through the engine: same values as numpy, torch out, autograd."""

from __future__ import annotations

import numpy as np
import pytest

import kernelkit
from kernelkit.kernels import Gaussian, Laplace, Matern, Periodic
from kernelkit.testing import REDUCTION_RTOL, example_kernels, naive_kernel_matrix

torch = pytest.importorskip("torch")

DTYPES = [torch.float32, torch.float64]
NP = {torch.float32: np.float32, torch.float64: np.float64}


def _tensors(n, m, d, dtype, grad=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    Y = torch.randn(m, d, generator=g, dtype=dtype) + 0.2
    V = torch.randn(m, 2, generator=g, dtype=dtype)
    for t in (X, Y, V):
        t.requires_grad_(grad)
    return X, Y, V


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [3, 20])
def test_torch_in_torch_out_same_values_as_numpy(dtype, d):
    X, Y, V = _tensors(15, 12, d, dtype)
    k = Gaussian(bandwidth=float(np.sqrt(d)))
    out = kernelkit.matvec(k, X, Y, V)
    assert isinstance(out, torch.Tensor) and out.dtype == dtype
    ref = kernelkit.matvec(k, X.numpy(), Y.numpy(), V.numpy())
    np.testing.assert_allclose(out.numpy(), ref, rtol=0, atol=0)
    lse = kernelkit.logsumexp(k, X, Y)
    assert isinstance(lse, torch.Tensor)
    np.testing.assert_allclose(lse.numpy(), kernelkit.logsumexp(k, X.numpy(), Y.numpy()))
    dist, idx = kernelkit.knn(X, Y, 3)
    assert isinstance(dist, torch.Tensor) and idx.dtype == torch.int64
    ref_d, ref_i = kernelkit.knn(X.numpy(), Y.numpy(), 3)
    np.testing.assert_array_equal(idx.numpy(), ref_i)
    np.testing.assert_allclose(dist.numpy(), ref_d, rtol=REDUCTION_RTOL[NP[dtype]])


def _dense_matvec(kernel, X, Y, V):
    return kernel(X, Y) @ V


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make", [lambda bw: Gaussian(bandwidth=bw),
                                  lambda bw: Matern(nu=2.5, bandwidth=bw),
                                  lambda bw: Gaussian(bandwidth=bw) * Periodic(period=3.0)],
                         ids=["gaussian", "matern52", "product"])
def test_matvec_gradients_match_dense_autograd(make, dtype, tiling):
    X, Y, V = _tensors(9, 11, 3, dtype, grad=True)
    bw = torch.tensor(1.3, dtype=dtype, requires_grad=True)
    G = torch.randn(9, 2, dtype=dtype)
    out = kernelkit.matvec(make(bw), X, Y, V)
    grads = torch.autograd.grad((out * G).sum(), (X, Y, V, bw))
    ref_out = _dense_matvec(make(bw), X, Y, V)
    ref = torch.autograd.grad((ref_out * G).sum(), (X, Y, V, bw))
    rtol = 1e-5 if dtype == torch.float32 else 1e-11
    torch.testing.assert_close(out, ref_out, rtol=rtol, atol=rtol)
    for a, b in zip(grads, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=rtol, atol=rtol)


def test_matvec_gradcheck_float64():
    X, Y, V = _tensors(5, 6, 2, torch.float64, grad=True)
    bw = torch.tensor([0.9, 1.4], dtype=torch.float64, requires_grad=True)

    def f(X, Y, V, bw):
        return kernelkit.matvec(Laplace(bandwidth=bw), X, Y, V)

    assert torch.autograd.gradcheck(f, (X, Y, V, bw))


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_gradients_match_dense_autograd(dtype, tiling):
    X, Y, _ = _tensors(7, 10, 2, dtype, grad=True)
    w = torch.rand(10, dtype=dtype).requires_grad_(True)
    bw = torch.tensor(0.3, dtype=dtype, requires_grad=True)
    out = kernelkit.logsumexp(Gaussian(bandwidth=bw), X, Y, w)
    ref_out = torch.logsumexp(Gaussian(bandwidth=bw).log(X, Y) + torch.log(w), dim=1)
    rtol = 1e-5 if dtype == torch.float32 else 1e-11
    torch.testing.assert_close(out, ref_out, rtol=rtol, atol=rtol)
    g = torch.autograd.grad(out.sum(), (X, Y, w, bw))
    r = torch.autograd.grad(ref_out.sum(), (X, Y, w, bw))
    for a, b in zip(g, r, strict=True):
        torch.testing.assert_close(a, b, rtol=rtol, atol=rtol)


def test_knn_distances_are_differentiable():
    X, Y, _ = _tensors(6, 9, 3, torch.float64, grad=True)
    dist, idx = kernelkit.knn(X, Y, 2)
    dist.sum().backward()
    ref = torch.cdist(X.detach(), Y.detach())
    assert torch.allclose(dist, torch.gather(ref, 1, idx))
    # d/dX of ||x - y|| is the unit vector (x - y) / ||x - y||.
    unit = (X.detach()[:, None, :] - Y.detach()[idx]) / dist.detach()[..., None]
    assert torch.allclose(X.grad, unit.sum(1))


def test_mixing_numpy_and_torch_gives_torch():
    X = torch.randn(4, 2, dtype=torch.float64)
    out = kernelkit.matvec(Gaussian(), X, np.ones((3, 2)), np.ones(3))
    assert isinstance(out, torch.Tensor)


def test_no_grad_mode_skips_the_autograd_path():
    X, Y, V = _tensors(5, 6, 2, torch.float64, grad=True)
    with torch.no_grad():
        out = kernelkit.matvec(Gaussian(), X, Y, V)
    assert not out.requires_grad


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(example_kernels(3)))
def test_every_kernel_through_torch_matches_the_dense_oracle(name, dtype):
    """Both torch routes — no gradient (compiled engine) and autograd (checkpointed
    torch blocks) — for every kind of kernel, against the float64 oracle and dense
    autograd."""
    X, Y, V = _tensors(8, 10, 3, dtype, grad=True)
    kernel = example_kernels(3)[name]
    K = naive_kernel_matrix(kernel, X.detach().numpy(), Y.detach().numpy())
    expected = K @ V.detach().numpy().astype(np.float64)
    bound = np.abs(K) @ np.abs(V.detach().numpy().astype(np.float64))
    rtol = REDUCTION_RTOL[NP[dtype]]
    with torch.no_grad():
        fast = kernelkit.matvec(kernel, X, Y, V)
    out = kernelkit.matvec(kernel, X, Y, V)
    for result in (fast, out):
        assert isinstance(result, torch.Tensor) and result.dtype == dtype
        assert np.all(np.abs(result.detach().numpy() - expected) <= rtol * bound + 1e-30)
    G = torch.randn(8, 2, dtype=dtype)
    grads = torch.autograd.grad((out * G).sum(), (X, Y, V))
    ref = torch.autograd.grad(((kernel(X, Y) @ V) * G).sum(), (X, Y, V))
    tol = 1e-4 if dtype == torch.float32 else 1e-10
    for a, b in zip(grads, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)

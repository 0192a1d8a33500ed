"""CKA against the dense definition."""

from __future__ import annotations

import numpy as np
import pytest

from kernelkit.exceptions import InputValueError, ShapeError
from kernelkit.kernels import Gaussian, Laplace, Linear
from kernelkit.stats import cka

from .conftest import dense_hsic


def _dense_cka(kx, ky, X, Y):
    return dense_hsic(kx, ky, X, Y) / np.sqrt(dense_hsic(kx, kx, X, X) *
                                              dense_hsic(ky, ky, Y, Y))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_cka_matches_dense(rng, dtype):
    X = rng.normal(size=(40, 4)).astype(dtype)
    Y = (X[:, :3] @ rng.normal(size=(3, 6)) + rng.normal(size=(40, 6))).astype(dtype)
    want = _dense_cka(Linear(), Linear(), X.astype(float), Y.astype(float))
    assert cka(X, Y) == pytest.approx(want, rel=1e-10 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("kernels", [(Gaussian(bandwidth=1.5), Gaussian(bandwidth=2.0)),
                                     (Laplace(bandwidth=1.0), Gaussian(bandwidth=1.0))],
                         ids=["gauss", "laplace-gauss"])
def test_kernel_cka_matches_dense(rng, kernels):
    kx, ky = kernels
    X, Y = rng.normal(size=(35, 3)), rng.normal(size=(35, 2))
    Y[:, 0] += X[:, 0] ** 2
    assert cka(X, Y, kx, ky) == pytest.approx(_dense_cka(kx, ky, X, Y), rel=1e-10)


def test_invariances(rng):
    X = rng.normal(size=(50, 4))
    Q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
    assert cka(X, X) == pytest.approx(1.0)
    assert cka(X, 5 * X @ Q + 2) == pytest.approx(1.0)
    assert cka(X, X, Gaussian(), Gaussian()) == pytest.approx(1.0)


def test_bad_inputs(rng):
    X = rng.normal(size=(10, 2))
    with pytest.raises(ShapeError, match="same number of rows"):
        cka(X, X[:8])
    with pytest.raises(InputValueError, match="constant"):
        cka(X, np.ones((10, 3)))

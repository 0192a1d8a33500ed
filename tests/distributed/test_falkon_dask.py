"""FalkonRegressor on Dask arrays: the same fit as in memory, with the big passes on the cluster."""

from __future__ import annotations

import csv
import json

import dask.array as da
import numpy as np
import pytest

from kernelkit import io as kio
from kernelkit.cli import main
from kernelkit.exceptions import InputTypeError, InputValueError, ParameterError
from kernelkit.kernels import Gaussian
from kernelkit.ops import normal_matvec
from kernelkit.regression import FalkonRegressor
from kernelkit.testing._tolerances import REDUCTION_RTOL

#: Dask fit vs in-memory fit: per-chunk sums are added in another order, and CG carries
#: those rounding differences through its iterations. On a problem where CG converges
#: (alpha = 1 here) they stay at this level; a CG stopped far from convergence on an
#: ill-conditioned system amplifies them up to its own error (the note has numbers).
FIT_RTOL = 1e-10
PARAMS = dict(alpha=1.0, n_centers=20, max_iter=40, tol=1e-11, random_state=3)


def _data(rng, n=600, d=3, k=None):
    X = rng.normal(size=(n, d))
    f = np.sin(X[:, 0]) + 0.5 * X[:, 1] ** 2
    y = f + 0.1 * rng.normal(size=n)
    if k:
        y = np.column_stack([y, np.cos(X[:, 2])])
    return X, y


def _max_rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def test_normal_matvec_on_dask(client, rng):
    X, C = rng.normal(size=(500, 3)), rng.normal(size=(20, 3))
    U, w = rng.normal(size=(20, 2)), rng.uniform(size=500)
    kernel = Gaussian(bandwidth=1.2)
    Xd = da.from_array(X, chunks=(90, 3))
    out = normal_matvec(kernel, Xd, C, U, da.from_array(w, chunks=200))
    assert isinstance(out, da.Array) and out.shape == (20, 2)
    np.testing.assert_allclose(out.compute(), normal_matvec(kernel, X, C, U, w),
                               rtol=REDUCTION_RTOL["float64"])
    np.testing.assert_allclose(normal_matvec(kernel, Xd, C, U[:, 0]).compute(),
                               normal_matvec(kernel, X, C, U[:, 0]),
                               rtol=REDUCTION_RTOL["float64"])


@pytest.mark.parametrize(("weighted", "k", "y_dask", "kernel_dtype"),
                         [(False, None, False, "float64"), (True, 2, True, "float64"),
                          (True, 2, True, "mixed")])
def test_dask_fit_equals_in_memory_fit(client, rng, weighted, k, y_dask, kernel_dtype):
    X, y = _data(rng, k=k)
    sw = rng.uniform(0.5, 2.0, size=len(X)) if weighted else None
    params = dict(kernel=Gaussian(bandwidth=1.0), kernel_dtype=kernel_dtype, **PARAMS)
    local = FalkonRegressor(**params).fit(X, y, sample_weight=sw)
    Xd = da.from_array(X, chunks=(150, 3))
    yd = da.from_array(y, chunks=(150,) + y.shape[1:]) if y_dask else y
    swd = None if sw is None else da.from_array(sw, chunks=150)
    remote = FalkonRegressor(**params).fit(Xd, yd, sample_weight=swd)
    np.testing.assert_array_equal(remote.centers_, local.centers_)
    assert remote.coef_.shape == local.coef_.shape
    assert _max_rel(remote.coef_, local.coef_) <= FIT_RTOL
    Xq = rng.normal(size=(200, 3))
    pred = remote.predict(da.from_array(Xq, chunks=(70, 3)))
    assert isinstance(pred, da.Array)
    assert _max_rel(pred.compute(), local.predict(Xq)) <= FIT_RTOL
    assert remote.n_features_in_ == 3


def test_inputs_not_mutated_and_bad_inputs(client, rng):
    X, y = _data(rng, n=200)
    X0, y0 = X.copy(), y.copy()
    Xd = da.from_array(X, chunks=(50, 3))
    FalkonRegressor(kernel=Gaussian(), n_centers=20, max_iter=5, tol=1e-3,
                    random_state=0).fit(Xd, da.from_array(y, chunks=50))
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
    with pytest.raises(ParameterError, match="centers='uniform'"):
        FalkonRegressor(centers="leverage", n_centers=20).fit(Xd, y)
    with pytest.raises(InputTypeError, match="pass X as a Dask array"):
        FalkonRegressor(n_centers=20).fit(X, da.from_array(y, chunks=50))
    bad = y.copy()
    bad[3] = np.nan
    with pytest.raises(InputValueError, match="y contains NaN"):
        FalkonRegressor(n_centers=20).fit(Xd, da.from_array(bad, chunks=50))


def _write_csv(path, X, y):
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow([f"x{i}" for i in range(X.shape[1])] + ["y"])
        for row, t in zip(X, y, strict=True):
            out.writerow([*map(repr, row.tolist()), repr(float(t))])


def test_cli_fit_falkon_on_the_cluster(cluster, client, tmp_path, rng, capsys):
    X, y = _data(rng, n=400)
    _write_csv(tmp_path / "train.csv", X, y)
    args = ["fit", "falkon", str(tmp_path / "train.csv"), "--target", "y", "--alpha", "1",
            "--n-centers", "20", "--max-iter", "40", "--json"]
    assert main([*args, "--model", str(tmp_path / "local.kk")]) == 0
    local = json.loads(capsys.readouterr().out)
    assert main([*args, "--model", str(tmp_path / "remote.kk"),
                 "--scheduler", cluster.scheduler_address]) == 0
    remote = json.loads(capsys.readouterr().out)
    assert remote["cg_iterations"] == local["cg_iterations"]
    a, b = kio.load(tmp_path / "local.kk"), kio.load(tmp_path / "remote.kk")
    np.testing.assert_array_equal(a.centers_, b.centers_)
    assert _max_rel(b.coef_, a.coef_) <= FIT_RTOL
    np.testing.assert_allclose(remote["train_rmse"], local["train_rmse"], rtol=FIT_RTOL)


def test_cli_fit_unreachable_scheduler_and_other_methods(tmp_path, rng, capsys):
    X, y = _data(rng, n=50)
    _write_csv(tmp_path / "train.csv", X, y)
    base = ["fit", "falkon", str(tmp_path / "train.csv"), "--target", "y", "--n-centers", "10"]
    assert main([*base, "--scheduler", "tcp://127.0.0.1:1", "--scheduler-timeout", "1"]) == 1
    assert "tcp://127.0.0.1:1" in capsys.readouterr().err
    assert main(["fit", "krr", str(tmp_path / "train.csv"), "--target", "y",
                 "--scheduler", "tcp://127.0.0.1:1"]) != 0
    assert "falkon" in capsys.readouterr().err

"""`kernelkit fit` and `kernelkit predict` on CSV files."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from kernelkit import io as kio
from kernelkit.cli import main
from kernelkit.datasets import make_smooth_regression


def _write(path, X, y, names=None):
    names = names or [f"x{i}" for i in range(X.shape[1])] + ["y"]
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        for row, t in zip(X, y, strict=True):
            w.writerow([*map(repr, row.tolist()), repr(float(t))])


@pytest.fixture
def files(tmp_path):
    X, y = make_smooth_regression(150, 2, noise=0.1, random_state=0)
    Xt, yt = make_smooth_regression(50, 2, noise=0.1, random_state=1)
    _write(tmp_path / "train.csv", X, y)
    _write(tmp_path / "test.csv", Xt, yt)
    return tmp_path, X, y, Xt, yt


@pytest.mark.parametrize("method, extra", [
    ("krr", ["--alpha", "0.1"]),
    ("falkon", ["--n-centers", "50", "--max-iter", "20", "--alpha", "0.1"]),
    ("falkon", ["--n-centers", "50", "--max-iter", "20", "--alpha", "0.1",
                "--kernel-dtype", "mixed"]),
    ("gp", ["--standardize"]),
])
def test_fit_then_predict(files, capsys, method, extra):
    tmp, X, y, Xt, yt = files
    model = tmp / f"{method}.kk"
    code = main(["fit", method, str(tmp / "train.csv"), "--target", "y", "--model", str(model),
                 "--json", *extra])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["n_samples"] == 150 and summary["train_rmse"] < 0.3
    out = tmp / "pred.csv"
    assert main(["predict", str(model), str(tmp / "test.csv"), "--out", str(out),
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    pred = np.loadtxt(out, delimiter=",", skiprows=1)
    loaded = kio.load(model)
    if "--kernel-dtype" in extra:
        assert loaded.get_params()["kernel_dtype"] == extra[extra.index("--kernel-dtype") + 1]
    Xs = (Xt - loaded.cli_mean_) / loaded.cli_scale_
    np.testing.assert_allclose(pred, loaded.predict(Xs), rtol=1e-12)
    assert result["rmse"] == pytest.approx(np.sqrt(np.mean((pred - yt) ** 2)))
    assert result["rmse"] < 0.3


def test_gp_std_and_plot(files, capsys):
    pytest.importorskip("matplotlib")
    tmp, *_ = files
    model = tmp / "gp.kk"
    png = tmp / "fit.png"
    assert main(["fit", "falkon", str(tmp / "train.csv"), "--target", "y", "--model",
                 str(tmp / "f.kk"), "--n-centers", "30", "--max-iter", "5",
                 "--plot", str(png)]) == 0
    assert png.stat().st_size > 1000
    assert main(["fit", "gp", str(tmp / "train.csv"), "--target", "y", "--model", str(model),
                 "--no-optimize", "--noise", "0.05"]) == 0
    out = tmp / "p.csv"
    assert main(["predict", str(model), str(tmp / "test.csv"), "--std", "--out",
                 str(out)]) == 0
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    assert table.shape == (50, 2) and np.all(table[:, 1] > 0)
    capsys.readouterr()


def test_errors(files, capsys):
    tmp, X, y, *_ = files
    assert main(["fit", "krr", str(tmp / "train.csv"), "--target", "nope"]) == 1
    assert "no column 'nope'" in capsys.readouterr().err
    assert main(["fit", "krr", str(tmp / "train.csv"), "--target", "y", "--alpha", "0"]) == 2
    assert "--alpha" in capsys.readouterr().err
    y2 = y.copy()
    y2[3] = np.nan
    _write(tmp / "nan.csv", X, y2)
    assert main(["fit", "krr", str(tmp / "nan.csv"), "--target", "y"]) == 1
    assert "NaN" in capsys.readouterr().err
    assert main(["predict", str(tmp / "train.csv"), str(tmp / "train.csv")]) == 1
    assert "not a kernelkit model file" in capsys.readouterr().err
    assert main(["fit", "krr", str(tmp / "train.csv"), "--target", "y", "--model",
                 str(tmp / "k.kk")]) == 0
    capsys.readouterr()
    assert main(["predict", str(tmp / "k.kk"), str(tmp / "test.csv"), "--std"]) == 1
    assert "--std" in capsys.readouterr().err

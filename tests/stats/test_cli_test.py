"""``kernelkit test two-sample|independence`` on files in tmp_path."""

from __future__ import annotations

import json

import numpy as np
import pytest

from kernelkit.cli import main


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a.csv", tmp_path / "b.npy"
    np.savetxt(a, rng.normal(size=(60, 2)), delimiter=",", header="u,v", comments="")
    np.save(b, rng.normal(1.0, size=(50, 2)))
    x = rng.uniform(-3, 3, 80)
    d = tmp_path / "d.csv"
    np.savetxt(d, np.c_[x, np.sin(2 * x) + 0.2 * rng.normal(size=80), rng.normal(size=80)],
               delimiter=",", header="x,y,z", comments="")
    return {"a": str(a), "b": str(b), "d": str(d), "dir": tmp_path}


def test_two_sample_json(files, capsys):
    code = main(["test", "two-sample", files["a"], files["b"], "--permutations", "50",
                 "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reject"] is True and out["n_null"] == 50 and out["n_x"] == 60
    assert out["pvalue"] == pytest.approx(1 / 51)


def test_two_sample_table_and_plot(files, capsys):
    pytest.importorskip("matplotlib")
    png = files["dir"] / "null.png"
    code = main(["test", "two-sample", files["a"], files["b"], "--permutations", "30",
                 "--kernel", "laplace", "--bandwidth", "1.5", "--plot", str(png)])
    assert code == 0
    text = capsys.readouterr().out
    assert "reject H0" in text and "Laplace(bandwidth=1.5)" in text
    assert png.stat().st_size > 1000


def test_aggregated(files, capsys):
    code = main(["test", "two-sample", files["a"], files["b"], "--method", "aggregated",
                 "--permutations", "40", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "aggregated" and len(out["kernel"]) == 20


def test_independence(files, capsys):
    code = main(["test", "independence", files["d"], "--x", "x", "--y", "1",
                 "--permutations", "40", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["reject"] is True and out["details"]["approximation"] == "exact"
    code = main(["test", "independence", files["d"], "--x", "x", "--y", "z",
                 "--method", "gamma", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["method"] == "gamma" and out["n_null"] == 0


def test_gamma_plot(files):
    pytest.importorskip("matplotlib")
    png = files["dir"] / "g.png"
    assert main(["test", "independence", files["d"], "--x", "x", "--y", "y",
                 "--method", "gamma", "--plot", str(png)]) == 0
    assert png.stat().st_size > 1000


def test_bad_arguments(files, capsys):
    assert main(["test", "two-sample", files["a"], files["b"], "--bandwidth", "-1"]) == 2
    assert "--bandwidth" in capsys.readouterr().err
    assert main(["test", "two-sample", files["a"], files["b"], "--alpha", "2"]) == 2
    assert main(["test", "two-sample", files["a"], files["b"], "--method", "aggregated",
                 "--kernel", "laplace"]) == 2
    # different feature counts: a kernelkit error, exit code 1 with a clear message
    assert main(["test", "two-sample", files["a"], files["d"]]) == 1
    assert "need the same columns" in " ".join(capsys.readouterr().err.split())
    assert main(["test", "independence", files["d"], "--x", "x", "--y", "nope"]) == 1
    assert "not a column" in capsys.readouterr().err
    assert main(["test", "two-sample", files["a"], str(files["dir"] / "missing.csv")]) == 1

"""``kernelkit kde`` on files in tmp_path."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from kernelkit.cli import main
from kernelkit.density import KernelDensity


def _write_csv(path, X, names):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names)
        w.writerows(X.tolist())


def test_kde_scores_query_file_and_writes_out(tmp_path, rng, capsys):
    X = np.concatenate([rng.normal(-2, 0.5, (100, 2)), rng.normal(2, 0.5, (100, 2))])
    Q = rng.normal(size=(15, 2))
    _write_csv(tmp_path / "d.csv", np.column_stack([X, np.arange(200)]), ["a", "b", "id"])
    _write_csv(tmp_path / "q.csv", np.column_stack([Q, np.arange(15)]), ["a", "b", "id"])
    out = tmp_path / "dens.csv"
    code = main(["kde", str(tmp_path / "d.csv"), "--columns", "a,b", "--bandwidth", "0.4",
                 "--query", str(tmp_path / "q.csv"), "--out", str(out), "--modes",
                 "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["columns"] == ["a", "b"]
    top = np.array(result["modes"][:2])  # by decreasing density: the two cluster centres
    np.testing.assert_allclose(np.sort(top[:, 0]), [-2, 2], atol=0.3)
    rows = list(csv.reader(open(out)))
    assert rows[0] == ["a", "b", "log_density"]
    got = np.array([float(r[2]) for r in rows[1:]])
    np.testing.assert_allclose(got, KernelDensity(bandwidth=0.4).fit(X).score_samples(Q),
                               rtol=1e-12)


def test_kde_plot_and_selector(tmp_path, rng):
    pytest.importorskip("matplotlib")
    np.save(tmp_path / "x.npy", rng.normal(size=300))
    png = tmp_path / "kde.png"
    assert main(["kde", str(tmp_path / "x.npy"), "--bandwidth", "isj", "--plot", str(png),
                 "--modes"]) == 0
    assert png.stat().st_size > 1000


def test_kde_bad_arguments(tmp_path, rng, capsys):
    _write_csv(tmp_path / "d.csv", rng.normal(size=(10, 2)), ["a", "b"])
    assert main(["kde", str(tmp_path / "d.csv"), "--bandwidth", "-1"]) == 2
    assert main(["kde", str(tmp_path / "d.csv"), "--columns", "zz"]) == 1
    assert "not a column" in capsys.readouterr().err
    assert main(["kde", str(tmp_path / "missing.csv")]) == 1

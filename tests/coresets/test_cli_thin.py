"""``kernelkit thin`` on files in tmp_path."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from kernelkit.cli import main


@pytest.fixture
def data_csv(tmp_path):
    X = np.random.default_rng(0).normal(size=(1024, 2))
    path = tmp_path / "data.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b"])
        w.writerows(X.tolist())
    return path, X


def test_thin_writes_coreset_and_plot(data_csv, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path, X = data_csv
    out, plot = tmp_path / "core.csv", tmp_path / "thin.png"
    code = main(["thin", str(path), "--size", "32", "--out", str(out), "--plot", str(plot),
                 "--json"])
    assert code == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["size"] == 32 and payload["method"] == "kt" and payload["n"] == 1024
    # KT beats a random subsample clearly (expected ratio ~0.1; a real margin)
    assert payload["mmd_coreset"] < 0.5 * payload["mmd_random_subsample"]
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["row", "a", "b"] and len(rows) == 33
    for r in rows[1:]:
        np.testing.assert_array_equal([float(v) for v in r[1:]], X[int(r[0])])
    assert plot.stat().st_size > 1000


def test_thin_table_compress_and_subsampled_mmd(data_csv, capsys):
    path, _ = data_csv
    code = main(["thin", str(path), "--size", "16", "--method", "compress++",
                 "--mmd-max-n", "512"])
    assert code == 0
    text = capsys.readouterr().out
    assert "compress++" in text and "random subsample of 512 rows" in text


def test_thin_bad_input(data_csv, tmp_path, capsys):
    path, _ = data_csv
    assert main(["thin", str(path), "--size", "0"]) == 2
    assert "--size must be >= 1" in capsys.readouterr().err
    assert main(["thin", str(path), "--size", "5000"]) == 1
    assert "size = 5000 is outside" in capsys.readouterr().err
    assert main(["thin", str(tmp_path / "missing.csv")]) == 1
    bad = tmp_path / "nan.csv"
    bad.write_text("x,y\n1,2\nnan,3\n4,5\n")
    assert main(["thin", str(bad), "--size", "2"]) == 1
    assert "NaN" in capsys.readouterr().err

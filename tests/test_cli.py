"""The ``kernelkit`` command: demo, bench, argument errors, and the numpy peer it times."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from scipy.special import logsumexp as dense_logsumexp

from kernelkit.cli import COMMANDS, _peers, main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ----------------------------------------------------------------------------- demo
def test_demo_writes_png_and_reports_each_step(tmp_path, capsys):
    code, out, _ = _run(capsys, "demo", "--out", str(tmp_path / "plots"), "--n", "300")
    assert code == 0
    png = tmp_path / "plots" / "kernelkit_demo.png"
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert png.stat().st_size > 10_000
    for item in ("density", "log-likelihood", "kNN", "kernel ridge", "predict",
                 "digits 1-NN", "matvec timing", "pairs/s"):
        assert item in out
    assert "Plot written to" in out and "kernelkit_demo.png" in out


def test_demo_json_values_are_right(capsys):
    code, out, _ = _run(capsys, "demo", "--n", "400", "--no-plot", "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["png"] is None
    steps = {s["name"]: s for s in payload["steps"]}
    # A normalised density integrates to one over a grid padded by 4 bandwidths.
    assert steps["density"]["values"]["integral"] == pytest.approx(1.0, abs=2e-3)
    assert steps["kernel ridge"]["values"]["residual"] < 1e-6
    assert steps["kernel ridge"]["values"]["train_accuracy"] > 0.97
    assert steps["predict"]["values"]["test_accuracy"] > 0.95
    assert steps["digits 1-NN"]["values"]["loo_accuracy"] > 0.97
    assert steps["matvec timing"]["pairs_per_s"] > 0


def test_demo_without_matplotlib_prints_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    code, out, _ = _run(capsys, "demo", "--out", str(tmp_path), "--n", "200")
    assert code == 0
    assert 'pip install "kernelkit[plot]"' in out
    assert not (tmp_path / "kernelkit_demo.png").exists()


def test_demo_does_not_import_torch(tmp_path):
    script = ("import sys; from kernelkit.cli import main; "
              f"code = main(['demo', '--n', '100', '--no-plot', '--out', r'{tmp_path}']); "
              "assert code == 0; "
              "assert 'torch' not in sys.modules, 'demo imported torch'")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


# ---------------------------------------------------------------------------- bench
def test_bench_json(capsys):
    code, out, _ = _run(capsys, "bench", "--n", "300", "--d", "4", "--repeats", "1",
                        "--json")
    assert code == 0
    payload = json.loads(out)
    assert payload["n"] == 300 and payload["d"] == 4 and payload["dtype"] == "float32"
    assert [r["op"] for r in payload["results"]] == ["matvec", "logsumexp", "knn"]
    for row in payload["results"]:
        assert row["kernelkit"]["pairs_per_s"] > 0 and row["numpy"]["pairs_per_s"] > 0
        assert row["speedup"] > 0
        assert row["discrepancy"] < 1e-3


def test_bench_table(capsys):
    code, out, _ = _run(capsys, "bench", "--n", "200", "--dtype", "float64", "--ops",
                        "matvec", "--repeats", "2")
    assert code == 0
    assert "matvec" in out and "kernelkit/numpy" in out and "float64" in out
    assert "logsumexp  " not in out and "knn (k=" not in out


# ------------------------------------------------------------------------ bad input
@pytest.mark.parametrize("argv, message", [
    ([], "required"),
    (["frobnicate"], "invalid choice"),
    (["bench", "--n", "0"], "positive integer"),
    (["bench", "--n", "ten"], "positive integer"),
    (["bench", "--dtype", "float16"], "invalid choice"),
    (["bench", "--ops", "matvec,fft"], "unknown operation"),
    (["bench", "--n", "20", "--k", "50"], "--k 50 is larger than --n 20"),
    (["demo", "--n", "5"], "at least 20"),
    (["demo", "--seed", "-1"], "--seed"),
])
def test_bad_arguments_exit_2_with_a_message(capsys, argv, message):
    code, _, err = _run(capsys, *argv)
    assert code == 2
    assert message in err


def test_demo_out_must_be_a_folder(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    code, _, err = _run(capsys, "demo", "--out", str(target), "--n", "50")
    assert code == 2 and "not a folder" in err


def test_help_and_version(capsys):
    assert main(["--version"]) == 0
    assert "kernelkit" in capsys.readouterr().out
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)


# ------------------------------------------------------------------ the numpy peer
@pytest.fixture(params=[np.float64, np.float32])
def data(request, monkeypatch):
    # Small tiles so several row and column blocks (and ragged edges) are exercised.
    monkeypatch.setattr(_peers, "ROWS", 16)
    monkeypatch.setattr(_peers, "TILE_VALUES", 16 * 40)
    rng = np.random.default_rng(0)
    dtype = request.param
    X = rng.normal(size=(37, 3)).astype(dtype)
    Y = rng.normal(size=(101, 3)).astype(dtype) + 0.5
    return X, Y, dtype


def _dense_sq(X, Y):
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    return ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)


def test_peer_matvec_matches_dense(data):
    X, Y, dtype = data
    V = np.random.default_rng(1).normal(size=(101, 2)).astype(dtype)
    out = _peers.matvec(X, Y, V, bandwidth=0.7)
    ref = np.exp(-_dense_sq(X, Y) / (2 * 0.7**2)) @ V.astype(np.float64)
    assert out.shape == (37, 2) and out.dtype == dtype
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out, ref, rtol=rtol, atol=rtol * np.abs(ref).max())
    assert _peers.matvec(X, Y, V[:, 0], bandwidth=0.7).shape == (37,)


def test_peer_logsumexp_matches_dense(data):
    X, Y, dtype = data
    out = _peers.logsumexp(X, Y, bandwidth=0.05)  # most kernel values underflow
    ref = dense_logsumexp(-_dense_sq(X, Y) / (2 * 0.05**2), axis=1)
    np.testing.assert_allclose(out, ref, rtol=1e-4 if dtype == np.float32 else 1e-10)


def test_peer_knn_matches_sort(data):
    X, Y, _ = data
    dist, idx = _peers.knn(X, Y, k=5)
    D = _dense_sq(X, Y)
    ref = np.argsort(D, axis=1)[:, :5]
    np.testing.assert_array_equal(idx, ref)
    np.testing.assert_allclose(dist, np.sqrt(np.take_along_axis(D, ref, axis=1)), rtol=1e-3)


def test_engine_errors_exit_1_with_the_message(capsys, monkeypatch):
    from kernelkit.cli import bench
    from kernelkit.exceptions import ParameterError

    def boom(args):
        raise ParameterError("bandwidth must be > 0; pass a positive bandwidth.")

    monkeypatch.setattr(bench, "run", boom)
    code, _, err = _run(capsys, "bench", "--n", "10")
    assert code == 1
    assert "kernelkit bench: error:" in err and "pass a positive bandwidth" in err

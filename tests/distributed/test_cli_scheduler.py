"""The CLI's ``--scheduler ADDRESS``: the same results with the big pass on the cluster."""

from __future__ import annotations

import csv
import json

import numpy as np

from kernelkit.cli import main
from kernelkit.density import KernelDensity
from kernelkit.testing._tolerances import REDUCTION_RTOL


def test_kde_scores_on_the_cluster(cluster, client, tmp_path, rng, capsys):
    X = rng.normal(size=(400, 2))
    np.save(tmp_path / "x.npy", X)
    out = tmp_path / "dens.csv"
    code = main(["kde", str(tmp_path / "x.npy"), "--bandwidth", "0.3", "--out", str(out),
                 "--json", "--scheduler", cluster.scheduler_address])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["n_queries"] == 400
    got = np.array([float(r[-1]) for r in list(csv.reader(open(out)))[1:]])
    expected = KernelDensity(bandwidth=0.3).fit(X).score_samples(X)
    np.testing.assert_allclose(got, expected, rtol=REDUCTION_RTOL["float64"])


def test_unreachable_scheduler_is_a_clear_error(tmp_path, rng, capsys):
    np.save(tmp_path / "x.npy", rng.normal(size=(20, 2)))
    code = main(["kde", str(tmp_path / "x.npy"), "--scheduler", "tcp://127.0.0.1:1",
                 "--scheduler-timeout", "1"])
    assert code == 1
    assert "tcp://127.0.0.1:1" in capsys.readouterr().err


def test_two_sample_test_on_the_cluster(cluster, client, tmp_path, rng, capsys):
    A, B = rng.normal(size=(300, 2)), rng.normal(0.3, 1.0, size=(250, 2))
    np.save(tmp_path / "a.npy", A)
    np.save(tmp_path / "b.npy", B)
    args = ["test", "two-sample", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
            "--permutations", "50", "--json"]
    assert main(args) == 0
    local = json.loads(capsys.readouterr().out)
    assert main([*args, "--scheduler", cluster.scheduler_address]) == 0
    remote = json.loads(capsys.readouterr().out)
    np.testing.assert_allclose(remote["statistic"], local["statistic"],
                               rtol=REDUCTION_RTOL["float64"])
    assert remote["pvalue"] == local["pvalue"]

"""Failures on a real cluster: a worker killed mid-job, retries running out, no scheduler."""

from __future__ import annotations

import os
import signal
import time

import dask.array as da
import numpy as np
import pytest
from distributed import Client, KilledWorker

import kernelkit
from kernelkit.distributed import SchedulerConnectionError, connect, map_row_chunks
from kernelkit.kernels import Gaussian
from kernelkit.testing._tolerances import REDUCTION_RTOL


def _chunk_states(scheduler, name):
    return {key: ts.state for key, ts in scheduler.tasks.items()
            if isinstance(key, tuple) and key[0] == name}


def test_worker_killed_in_the_middle_of_a_reduction(client, cluster):
    """SIGKILL one worker process while chunks run: Dask reruns its chunks elsewhere and
    the result equals the in-memory engine (nothing lost, nothing counted twice)."""
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40_000, 3))
    Y = rng.normal(size=(10_000, 3))
    w = rng.uniform(0.5, 1.5, size=10_000)
    kernel = Gaussian(bandwidth=0.5)
    expected = kernelkit.kernel_sum(kernel, X, Y, w)
    lazy = kernelkit.kernel_sum(kernel, da.from_array(X, chunks=(2000, 3)), Y, w)
    pids = client.run(os.getpid)
    future = client.compute(lazy)
    deadline = time.monotonic() + 60
    victim = None
    while victim is None:
        assert not future.done(), "the job finished before a worker could be killed"
        assert time.monotonic() < deadline, "no chunk finished within 60 s"
        for key, state in _chunk_states(cluster.scheduler, lazy.name).items():
            holders = cluster.scheduler.tasks[key].who_has
            if state == "memory" and holders:  # kill a worker that holds finished chunks
                victim = next(iter(holders)).address
                break
        time.sleep(0.005)
    states = _chunk_states(cluster.scheduler, lazy.name)
    unfinished = sum(state != "memory" for state in states.values())
    os.kill(pids[victim], signal.SIGKILL)
    got = future.result(timeout=120)
    assert unfinished > 0  # the kill really happened in the middle of the job
    assert victim not in client.scheduler_info()["workers"]  # and the worker really died
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=REDUCTION_RTOL[np.float64])
    np.testing.assert_allclose(got.sum(), expected.sum(), rtol=REDUCTION_RTOL[np.float64])


def test_when_retries_run_out_the_error_surfaces(client, cluster):
    """A task whose worker dies more often than Dask allows fails the job, visibly."""

    def die(X_chunk):
        os.kill(os.getpid(), signal.SIGKILL)

    allowed = cluster.scheduler.allowed_failures
    cluster.scheduler.allowed_failures = 0
    try:
        lazy = map_row_chunks(die, da.zeros((4, 2), chunks=(4, 2)), dtype=float)
        with pytest.raises(KilledWorker):
            lazy.compute()
    finally:
        cluster.scheduler.allowed_failures = allowed
        client.wait_for_workers(2, timeout=60)


def test_unreachable_scheduler_fails_fast_and_names_the_remedy():
    start = time.monotonic()
    with pytest.raises(SchedulerConnectionError,
                       match=r"tcp://127.0.0.1:1 within 1 s.*dask scheduler") as info:
        connect("tcp://127.0.0.1:1", timeout=1)
    assert time.monotonic() - start < 10
    assert isinstance(info.value, ConnectionError)


def test_connect_reaches_a_running_scheduler(cluster):
    with connect(cluster.scheduler_address, timeout=10, set_as_default=False) as client:
        assert isinstance(client, Client)
        assert len(client.scheduler_info()["workers"]) >= 1


def test_cli_scheduler_option_connects_and_fails_clearly(cluster):
    import argparse

    from kernelkit.cli._scheduler import add_scheduler_argument, scheduler_from_args

    parser = argparse.ArgumentParser()
    add_scheduler_argument(parser)
    with scheduler_from_args(parser.parse_args([])) as none:
        assert none is None
    args = parser.parse_args(["--scheduler", cluster.scheduler_address])
    with scheduler_from_args(args) as client:
        assert isinstance(client, Client) and client.status == "running"
    assert client.status == "closed"
    bad = parser.parse_args(["--scheduler", "tcp://127.0.0.1:1", "--scheduler-timeout", "1"])
    with pytest.raises(SchedulerConnectionError, match="tcp://127.0.0.1:1"):
        with scheduler_from_args(bad):
            pass  # pragma: no cover
    with pytest.raises(SystemExit):
        parser.parse_args(["--scheduler-timeout", "0"])

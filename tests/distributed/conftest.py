"""A real Dask cluster for the distributed tests: two worker processes, started once."""

from __future__ import annotations

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
pytest.importorskip("dask.array")


@pytest.fixture(scope="session")
def cluster():
    """``LocalCluster`` with 2 worker processes (1 thread each), behind nannies.

    Nannies restart a worker that is killed, so the fault tests can kill one and the
    following tests get two workers again (``client.wait_for_workers(2)``).
    """
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0", silence_logs=50) as cluster:
        yield cluster


def _warm_up():
    """Load the engine's compiled kernels in a worker (paid once, in parallel)."""
    import kernelkit
    from kernelkit.kernels import Gaussian

    for dtype in (np.float32, np.float64):
        X = np.ones((4, 3), dtype=dtype)
        kernelkit.matvec(Gaussian(), X, X, X[:, :2])
        kernelkit.logsumexp(Gaussian(), X, X, X[:, 0])
        kernelkit.knn(X, X, 2)


@pytest.fixture(scope="session")
def _session_client(cluster):
    with distributed.Client(cluster, set_as_default=True) as client:
        client.run(_warm_up)
        yield client


@pytest.fixture
def client(_session_client):
    """The default client (one per session); both workers are up when a test starts."""
    _session_client.wait_for_workers(2, timeout=60)
    return _session_client


@pytest.fixture
def rng():
    return np.random.default_rng(2026)

"""Overhead of running the engine on a Dask LocalCluster vs in-process, and chunk sizes.

Usage::

    python benchmarks/bench_distributed.py                # N = 1e6, M = 1e5, d = 3 (~10 min)
    python benchmarks/bench_distributed.py --quick        # N = 2e5, M = 2e4 (< 60 s)
    python benchmarks/bench_distributed.py --repeats 5 --markdown --json dist.json

What is timed (float32 ``kernelkit.kernel_sum`` with a Gaussian kernel, d = 3):

* ``in-process``: the engine with its default threads (one per core: 2 here);
* ``LocalCluster, X sent``: 2 worker processes × 1 thread (each engine call ``n_jobs=1``),
  X handed over from the client as ``dask.array.from_array`` (shipping X is timed);
* ``LocalCluster, X persisted``: the same with X already on the workers (the usual case
  for data loaded by the cluster, e.g. ``da.from_zarr``); Y is scattered on each call;
* peer ``Dask blocks + numpy``: what one writes without kernelkit, each task
  materialising its block ``exp(-cdist(X_chunk, Y)**2 / 2h**2)`` (blocks of <= 64 MiB), on
  the first rows of X only (its rate in pairs/s is what is compared).

The ratio column is time ÷ in-process time (pairs/s for the peer): 1.15 means 15 %
overhead. The chunk table times the persisted case for several rows-per-chunk.

The Falkon table times ``FalkonRegressor.fit`` (``make_smooth_regression``, d = 8,
Gaussian h = 2.5, alpha = 1, M = 1000 centres, 10 CG iterations; ``--falkon-n`` rows,
default 2e5, 2e4 with ``--quick``) in-process and with X, y as Dask arrays on the same
LocalCluster (persisted by ``fit``; one fused pass per chunk and CG iteration), and the
largest relative difference of the coefficients.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

_REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_REPO))
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(_REPO), os.environ.get("PYTHONPATH", "")) if p)

import kernelkit  # noqa: E402
import kernelkit.distributed  # noqa: E402
from kernelkit.kernels import Gaussian  # noqa: E402

BANDWIDTH = 0.5
#: Largest block one peer task materialises.
PEER_BLOCK_BYTES = 64 * 2**20


def _median_times(fn: Any, repeats: int, label: str = "") -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        print(f"  {label}: {times[-1]:.2f} s", file=sys.stderr, flush=True)  # progress
    return times


def _peer_block(X_chunk: np.ndarray, Y: np.ndarray) -> np.ndarray:
    from scipy.spatial.distance import cdist

    return np.exp(-cdist(X_chunk, Y, "sqeuclidean") / (2 * BANDWIDTH**2)).sum(axis=1)


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _rate(pairs: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if pairs >= scale:
            return f"{pairs / scale:.3g} {unit}"
    return f"{pairs:.3g}"


FALKON = {"d": 8, "bandwidth": 2.5, "alpha": 1.0, "n_centers": 1000, "max_iter": 10}


def falkon_rows(client: Any, n: int, repeats: int) -> list[dict[str, Any]]:
    """FalkonRegressor.fit in-process vs on the cluster (X, y as Dask arrays)."""
    import warnings

    from kernelkit.datasets import make_smooth_regression
    from kernelkit.regression import FalkonRegressor

    X, y = make_smooth_regression(n, FALKON["d"], noise=0.1, random_state=0)
    params = {"kernel": Gaussian(bandwidth=FALKON["bandwidth"]), "alpha": FALKON["alpha"],
              "n_centers": FALKON["n_centers"], "max_iter": FALKON["max_iter"],
              "tol": 1e-12, "random_state": 0}
    models: dict[str, Any] = {}
    warnings.simplefilter("ignore")  # a fixed 10 iterations: no ConvergenceWarning noise

    def local() -> None:
        models["local"] = FalkonRegressor(**params).fit(X, y)

    def remote() -> None:
        Xd = kernelkit.distributed.row_chunks(X)
        yd = kernelkit.distributed.row_chunks(y[:, None], Xd.chunks[0][0])[:, 0]
        models["remote"] = FalkonRegressor(**params).fit(Xd, yd)

    t_local = _median_times(local, repeats, "falkon in-process")
    t_remote = _median_times(remote, repeats, "falkon cluster")
    a, b = models["local"].coef_, models["remote"].coef_
    diff = float(np.max(np.abs(a - b)) / np.max(np.abs(a)))
    tasks = kernelkit.distributed.row_chunks(X).numblocks[0]
    return [{"case": "Falkon fit in-process (n_jobs=2)", "times": t_local, "diff": 0.0},
            {"case": f"Falkon fit on LocalCluster 2x1 ({tasks} chunks)", "times": t_remote,
             "diff": diff}]


def run(n: int, m: int, d: int, repeats: int, chunk_rows: list[int],
        peer_rows: int, falkon_n: int = 0) -> dict[str, Any]:
    import dask.array as da
    from distributed import Client, LocalCluster

    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d)).astype(np.float32)
    Y = rng.normal(size=(m, d)).astype(np.float32)
    kernel = Gaussian(bandwidth=BANDWIDTH)
    pairs = float(n) * m
    rows: list[dict[str, Any]] = []

    kernelkit.kernel_sum(kernel, X[:100], Y[:100])  # compile / load the cache
    expected = None

    def in_process() -> None:
        nonlocal expected
        expected = kernelkit.kernel_sum(kernel, X, Y)

    t = _median_times(in_process, repeats, "in-process")
    base = statistics.median(t)
    rows.append({"case": "in-process (n_jobs=2)", "times": t})

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=40) as cluster, \
            Client(cluster) as client:
        small = X[:100].copy()
        client.run(lambda: kernelkit.kernel_sum(kernel, small, small))
        default_rows = kernelkit.distributed.row_chunks(X).chunks[0][0]

        def sent(rows_per_chunk: int = default_rows) -> np.ndarray:
            Xd = da.from_array(X, chunks=(rows_per_chunk, d))
            return kernelkit.kernel_sum(kernel, Xd, Y).compute()

        got = sent()
        diff = float(np.max(np.abs(got - expected)) / np.max(np.abs(expected)))
        rows.append({"case": f"LocalCluster 2x1, X sent ({default_rows} rows/chunk)",
                     "times": _median_times(sent, repeats, "X sent")})

        persisted: dict[int, Any] = {}

        def on_cluster(rows_per_chunk: int) -> np.ndarray:
            if rows_per_chunk not in persisted:
                persisted.clear()
                Xd = client.persist(da.from_array(X, chunks=(rows_per_chunk, d)))
                client.wait_for_workers(2)
                from distributed import wait

                wait(Xd)
                persisted[rows_per_chunk] = Xd
            return kernelkit.kernel_sum(kernel, persisted[rows_per_chunk], Y).compute()

        on_cluster(default_rows)
        rows.append({"case": f"LocalCluster 2x1, X persisted ({default_rows} rows/chunk)",
                     "times": _median_times(lambda: on_cluster(default_rows), repeats,
                                            "X persisted")})

        chunk_table = []
        for r in chunk_rows:
            on_cluster(r)
            times = _median_times(lambda r=r: on_cluster(r), max(1, repeats // 2),
                                  f"{r} rows/chunk")
            chunk_table.append({"rows_per_chunk": r, "tasks": math.ceil(n / r),
                                "times": times})

        falkon = falkon_rows(client, falkon_n, repeats) if falkon_n else []

        peer_n = min(n, peer_rows)
        block_rows = max(1, PEER_BLOCK_BYTES // (8 * m))
        Xp = client.persist(da.from_array(X[:peer_n], chunks=(block_rows, d)))
        Yf = client.scatter(Y, broadcast=True)

        def peer() -> np.ndarray:
            return Xp.map_blocks(_peer_block, Yf, drop_axis=1, dtype=np.float64).compute()

        peer_got = peer()
        peer_diff = float(np.max(np.abs(peer_got - expected[:peer_n]))
                          / np.max(np.abs(expected[:peer_n])))
        rows.append({"case": f"peer: Dask blocks + numpy cdist (first {peer_n} rows)",
                     "times": _median_times(peer, repeats, "peer"),
                     "pairs": float(peer_n) * m,
                     "diff": peer_diff})

    for row in rows:
        row.setdefault("pairs", pairs)
        row.setdefault("diff", diff if "LocalCluster" in row["case"] else 0.0)
        med = statistics.median(row["times"])
        row["median_s"] = med
        row["pairs_per_s"] = row["pairs"] / med
        row["vs_in_process"] = (pairs / base) / row["pairs_per_s"]
    for row in chunk_table:
        row["median_s"] = statistics.median(row["times"])
        row["vs_in_process"] = row["median_s"] / base
    for row in falkon:
        row["median_s"] = statistics.median(row["times"])
        row["vs_in_process"] = row["median_s"] / statistics.median(falkon[0]["times"])
    return {"n": n, "m": m, "d": d, "repeats": repeats, "rows": rows, "chunks": chunk_table,
            "falkon": falkon, "falkon_n": falkon_n,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_avg": os.getloadavg()}}


def render(result: dict[str, Any], markdown: bool) -> str:
    head = (f"kernel_sum, Gaussian, float32, N={result['n']:,}, M={result['m']:,}, "
            f"d={result['d']}; median of {result['repeats']}; "
            f"load average at the end {result['machine']['load_avg'][0]:.1f} "
            f"on {result['machine']['cpus']} CPUs")
    lines = [head, ""]
    cols = ["case", "median", "min-max", "pairs/s", "time ÷ in-process", "max rel diff"]
    table = [cols]
    for row in result["rows"]:
        table.append([row["case"], _fmt(row["median_s"]),
                      f"{_fmt(min(row['times']))}-{_fmt(max(row['times']))}",
                      _rate(row["pairs_per_s"]), f"{row['vs_in_process']:.2f}x",
                      f"{row['diff']:.1e}"])
    lines += _table(table, markdown)
    lines += ["", "time vs rows per chunk (X persisted on the 2 workers)", ""]
    table = [["rows/chunk", "tasks", "median", "time ÷ in-process"]]
    for row in result["chunks"]:
        table.append([f"{row['rows_per_chunk']:,}", str(row["tasks"]), _fmt(row["median_s"]),
                      f"{row['vs_in_process']:.2f}x"])
    lines += _table(table, markdown)
    if result.get("falkon"):
        lines += ["", f"FalkonRegressor.fit, N={result['falkon_n']:,}, d={FALKON['d']}, "
                  f"M={FALKON['n_centers']}, {FALKON['max_iter']} CG iterations", ""]
        table = [["case", "median", "min-max", "time ÷ in-process", "max rel diff of coef"]]
        for row in result["falkon"]:
            table.append([row["case"], _fmt(row["median_s"]),
                          f"{_fmt(min(row['times']))}-{_fmt(max(row['times']))}",
                          f"{row['vs_in_process']:.2f}x", f"{row['diff']:.1e}"])
        lines += _table(table, markdown)
    return "\n".join(lines)


def _table(rows: list[list[str]], markdown: bool) -> list[str]:
    if markdown:
        out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
        return out + ["| " + " | ".join(r) + " |" for r in rows[1:]]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="N=2e5, M=2e4 (< 60 s)")
    parser.add_argument("--n", type=int, default=None, help="rows of X (default 1e6)")
    parser.add_argument("--m", type=int, default=None, help="rows of Y (default 1e5)")
    parser.add_argument("--d", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunks", default=None,
                        help="comma-separated rows per chunk for the chunk table "
                             "(default: N/100, N/20, N/8, N/2)")
    parser.add_argument("--peer-rows", type=int, default=None,
                        help="rows of X the peer runs on (default 20000; 4000 with --quick)")
    parser.add_argument("--falkon-n", type=int, default=None,
                        help="rows of the Falkon fit table (default 2e5; 2e4 with --quick; "
                             "0 skips it)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args(argv)
    n = args.n or (200_000 if args.quick else 1_000_000)
    m = args.m or (20_000 if args.quick else 100_000)
    fractions = (100, 10, 2) if args.quick else (100, 20, 8, 2)
    chunk_rows = [max(1, n // f) for f in fractions]
    if args.chunks:
        chunk_rows = [int(r) for r in args.chunks.split(",")]
    result = run(n, m, args.d, args.repeats, chunk_rows,
                 peer_rows=args.peer_rows or (4_000 if args.quick else 20_000),
                 falkon_n=(args.falkon_n if args.falkon_n is not None
                           else 20_000 if args.quick else 200_000))
    print(render(result, args.markdown))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Measurements that need a fresh Python process: first-call time and peak memory.

Each probe runs a small script with ``sys.executable`` and reads one JSON line back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

FIRST_CALL = r"""
import json, time
t0 = time.perf_counter()
import numpy as np
import kernelkit
from kernelkit.kernels import Gaussian
t1 = time.perf_counter()
X = np.random.default_rng(0).standard_normal((1000, 3)).astype(np.float32)
kernelkit.matvec(Gaussian(bandwidth=1.0), X, X, X[:, 0])
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "call_s": t2 - t1}))
"""

MEMORY = r"""
import gc, json, sys, time
import numpy as np
import kernelkit
from kernelkit.kernels import Gaussian

def status_mib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(key)

n, m = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
X = rng.standard_normal((n, 3), dtype=np.float32)
Y = rng.standard_normal((m, 3), dtype=np.float32)
V = rng.standard_normal(m, dtype=np.float32)
kern = Gaussian(bandwidth=1.0)
# Load the compiled code and start the worker threads before the baseline.
kernelkit.matvec(kern, X[:2000], Y[:2000], V[:2000])
gc.collect()
try:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak-RSS counter (VmHWM) to the current RSS
    how = "VmHWM after clear_refs"
except OSError:
    how = "VmHWM since process start (clear_refs not writable)"
base = status_mib("VmRSS")
t0 = time.perf_counter()
out = kernelkit.matvec(kern, X, Y, V)
seconds = time.perf_counter() - t0
peak = status_mib("VmHWM")
inputs = (X.nbytes + Y.nbytes + V.nbytes) / 2**20
print(json.dumps({"n": n, "m": m, "baseline_mib": base, "peak_mib": peak,
                  "extra_mib": peak - base, "inputs_mib": inputs,
                  "output_mib": out.nbytes / 2**20, "seconds": seconds, "how": how}))
"""


def _run(script: str, *args: str, timeout: float) -> tuple[dict[str, Any], float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, timeout=timeout)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"probe failed (exit {proc.returncode}): {proc.stderr[-1500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall


def first_call(repeats: int) -> dict[str, Any]:
    """Wall time of ``python -c 'import kernelkit; one matvec'`` in fresh processes.

    One untimed run first makes sure numba's disk cache is warm (it compiles if not).
    """
    warm, warm_wall = _run(FIRST_CALL, timeout=900)
    runs = [_run(FIRST_CALL, timeout=300) for _ in range(repeats)]
    walls = sorted(w for _, w in runs)
    return {"warmup_wall_s": warm_wall, "walls_s": walls,
            "median_wall_s": walls[len(walls) // 2],
            "median_import_s": sorted(r["import_s"] for r, _ in runs)[len(runs) // 2],
            "median_call_s": sorted(r["call_s"] for r, _ in runs)[len(runs) // 2]}


def peak_memory(n: int, m: int) -> dict[str, Any]:
    """Peak RSS above the baseline (inputs allocated, engine loaded) of one f32 d=3 matvec."""
    result, wall = _run(MEMORY, str(n), str(m), timeout=3600)
    result["wall_s"] = wall
    return result

"""The implementations compared by ``benchmarks/run.py``: kernelkit and its named peers.

Each implementation offers the three Gaussian reductions with the same signature:

* ``matvec(X, Y, V, h)`` → (n, k): ``sum_j exp(-|x_i - y_j|^2 / (2 h^2)) V[j]``
* ``logsumexp(X, Y, h)`` → (n,): ``log sum_j exp(-|x_i - y_j|^2 / (2 h^2))``
* ``knn(X, Y, k)`` → (distances (n, k), indices (n, k))

and ``prepare()``, which imports what the implementation needs and raises
``Unavailable(reason)`` when it cannot run here. Peers:

* ``numpy``: blocked numpy, :mod:`kernelkit.cli._peers` (1024-row tiles, ``np.exp`` of
  the tile, ``tile @ V``; numpy's own BLAS threads);
* ``torch``: the same blocks in torch (``torch.set_num_threads(2)``);
* ``pykeops``: KeOps LazyTensors on CPU (compiles C++ with g++ at first use of each
  formula; the compile is timed separately by ``warmup``).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

__all__ = ["Unavailable", "Kernelkit", "Numpy", "Torch", "PyKeOps", "ALL"]


class Unavailable(Exception):
    """An implementation cannot run on this machine; the message says why."""


class Impl:
    name = "?"
    available = True
    reason = ""
    #: Short description printed under the table.
    describe = ""

    def prepare(self) -> None:  # pragma: no cover - overridden
        pass

    def warmup(self, op: str, d: int, dtype: np.dtype, k_rhs: int = 1, k: int = 10) -> float:
        """Run ``op`` once on tiny inputs of this dtype, d, rhs and k; return the seconds.

        For JIT implementations this is the compile (or cache load) time.
        """
        rng = np.random.default_rng(123)
        X = rng.standard_normal((64, d)).astype(dtype)
        V = rng.standard_normal((64, k_rhs)).astype(dtype)
        t0 = time.perf_counter()
        self.call(op, X, X, V, 1.0, k)
        return time.perf_counter() - t0

    def call(self, op: str, X: np.ndarray, Y: np.ndarray, V: np.ndarray, h: float,
             k: int) -> Any:
        if op == "matvec":
            return self.matvec(X, Y, V, h)
        if op == "logsumexp":
            return self.logsumexp(X, Y, h)
        if op == "knn":
            return self.knn(X, Y, k)
        raise ValueError(op)

    def matvec(self, X, Y, V, h):  # pragma: no cover - overridden
        raise NotImplementedError

    def logsumexp(self, X, Y, h):  # pragma: no cover - overridden
        raise NotImplementedError

    def knn(self, X, Y, k):  # pragma: no cover - overridden
        raise NotImplementedError


class Kernelkit(Impl):
    name = "kernelkit"
    describe = "kernelkit engine, default settings (backend='auto', one thread per core)"

    def prepare(self) -> None:
        import kernelkit
        from kernelkit.kernels import Gaussian

        self._kk, self._G = kernelkit, Gaussian

    def matvec(self, X, Y, V, h):
        return self._kk.matvec(self._G(bandwidth=h), X, Y, V)

    def logsumexp(self, X, Y, h):
        return self._kk.logsumexp(self._G(bandwidth=h), X, Y)

    def knn(self, X, Y, k):
        return self._kk.knn(X, Y, k)


class Numpy(Impl):
    name = "numpy"
    describe = ("blocked numpy: 1024-row tiles (<= 16 Mi values), distances by one BLAS "
                "product, np.exp of the tile, tile @ V; numpy's BLAS threads")

    def prepare(self) -> None:
        from kernelkit.cli import _peers

        self._p = _peers

    def matvec(self, X, Y, V, h):
        return self._p.matvec(X, Y, V, h)

    def logsumexp(self, X, Y, h):
        return self._p.logsumexp(X, Y, h)

    def knn(self, X, Y, k):
        return self._p.knn(X, Y, k)


class Torch(Impl):
    name = "torch"
    describe = "blocked torch (CPU): the same tiles as numpy, torch.set_num_threads(2)"
    ROWS = 1024
    TILE_VALUES = 1 << 24

    def prepare(self) -> None:
        try:
            import torch
        except ImportError as exc:
            raise Unavailable(f"torch is not installed ({exc}); pip install torch==2.13.0") \
                from None
        torch.set_num_threads(2)
        self.torch = torch

    def _tiles(self, X, Y):
        """Yield (i0, i1, j0, j1, T) with T = -|x - y|^2 on one tile (in place ops)."""
        torch = self.torch
        Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
        centre = Yt.mean(dim=0)
        Xt, Yt = Xt - centre, Yt - centre
        xn, yn = (Xt * Xt).sum(1), (Yt * Yt).sum(1)
        n, m = X.shape[0], Y.shape[0]
        cols = max(1, min(m, self.TILE_VALUES // self.ROWS))
        for i0 in range(0, n, self.ROWS):
            i1 = min(n, i0 + self.ROWS)
            for j0 in range(0, m, cols):
                j1 = min(m, j0 + cols)
                T = Xt[i0:i1] @ Yt[j0:j1].T
                T.mul_(2).sub_(xn[i0:i1, None]).sub_(yn[None, j0:j1]).clamp_(max=0)
                yield i0, i1, j0, j1, T

    def matvec(self, X, Y, V, h):
        torch = self.torch
        with torch.inference_mode():
            Vt = torch.from_numpy(V)
            out = torch.zeros((X.shape[0], V.shape[1]), dtype=Vt.dtype)
            for i0, i1, j0, j1, T in self._tiles(X, Y):
                T.mul_(0.5 / h**2).exp_()
                out[i0:i1] += T @ Vt[j0:j1]
            return out.numpy()

    def logsumexp(self, X, Y, h):
        torch = self.torch
        with torch.inference_mode():
            out = torch.full((X.shape[0],), -float("inf"), dtype=torch.from_numpy(X).dtype)
            for i0, i1, _, _, T in self._tiles(X, Y):
                T.mul_(0.5 / h**2)
                out[i0:i1] = torch.logaddexp(out[i0:i1], torch.logsumexp(T, dim=1))
            return out.numpy()

    def knn(self, X, Y, k):
        torch = self.torch
        with torch.inference_mode():
            n = X.shape[0]
            best_v = torch.full((n, k), -float("inf"), dtype=torch.from_numpy(X).dtype)
            best_i = torch.zeros((n, k), dtype=torch.int64)
            for i0, i1, j0, j1, T in self._tiles(X, Y):
                v, i = torch.topk(T, min(k, j1 - j0), dim=1)
                cv = torch.cat([best_v[i0:i1], v], dim=1)
                ci = torch.cat([best_i[i0:i1], i + j0], dim=1)
                top_v, pos = torch.topk(cv, k, dim=1)
                best_v[i0:i1], best_i[i0:i1] = top_v, torch.gather(ci, 1, pos)
            return torch.sqrt(-best_v).numpy(), best_i.numpy()


class PyKeOps(Impl):
    name = "pykeops"
    describe = ("pykeops LazyTensors on CPU (K @ V, .logsumexp(dim=1), .Kmin_argKmin); "
                "generated C++ compiled with g++ on first use of each formula")

    def __init__(self, cold: bool = False) -> None:
        self.cold = cold

    def prepare(self) -> None:
        import contextlib
        import io

        buf = io.StringIO()
        try:
            with contextlib.redirect_stdout(buf):
                import pykeops
                from pykeops.numpy import LazyTensor
        except Exception as exc:  # ImportError, or a broken install
            raise Unavailable(f"cannot import pykeops ({type(exc).__name__}: {exc}); "
                              "pip install pykeops (needs g++ and cmake)") from None
        pykeops.set_verbose(False)
        if self.cold:  # a fresh build folder: every formula really compiles
            import tempfile

            pykeops.set_build_folder(tempfile.mkdtemp(prefix="keops-bench-"))
        self.LazyTensor = LazyTensor
        self.build_folder = pykeops.get_build_folder()
        try:
            X = np.zeros((4, 1))
            with contextlib.redirect_stdout(buf):
                self.matvec(X, X, np.ones((4, 1)), 1.0)
        except Exception as exc:
            raise Unavailable(f"pykeops failed to compile or run ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:160]})") from None

    def _sqdist(self, X, Y):
        L = self.LazyTensor
        x_i = L(np.ascontiguousarray(X)[:, None, :])
        y_j = L(np.ascontiguousarray(Y)[None, :, :])
        return ((x_i - y_j) ** 2).sum(-1)

    def matvec(self, X, Y, V, h):
        K = (-self._sqdist(X, Y) / (2 * h * h)).exp()
        return K @ np.ascontiguousarray(V)

    def logsumexp(self, X, Y, h):
        return (-self._sqdist(X, Y) / (2 * h * h)).logsumexp(dim=1)[:, 0]

    def knn(self, X, Y, k):
        d2, idx = self._sqdist(X, Y).Kmin_argKmin(k, dim=1)
        return np.sqrt(np.maximum(d2, 0)), idx


def ALL(keops_cold: bool = False) -> list[Impl]:
    """The subject first, then the peers in the order they are reported."""
    return [Kernelkit(), Numpy(), Torch(), PyKeOps(cold=keops_cold)]


def cpu_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1

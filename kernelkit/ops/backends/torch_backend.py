"""The torch backend: torch tensors in, torch tensors out, with autograd.

Without gradients, tensors are viewed as numpy arrays (no copy on CPU) and reduced by
the compiled engine. When X, Y, V, weights or a kernel parameter requires a gradient,
the reduction runs as blocked torch code: each block of rows is wrapped in activation
checkpointing, so the forward pass keeps no tile and the backward pass recomputes one
block at a time. Memory stays O(tile + (n + m) k) either way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..._config import get_config
from ...kernels._base import Kernel

__all__ = ["needs_grad", "matvec", "logsumexp", "knn_distances", "to_numpy", "from_numpy"]

# Temporaries of a tile kept alive inside the checkpointed function during backward.
_TEMPORARIES = 6


def _kernel_tensors(kernel: Kernel) -> list[Any]:
    out = []
    for value in kernel.get_params(deep=True).values():
        if type(value).__module__.split(".")[0] == "torch":
            out.append(value)
    return out


def needs_grad(kernel: Kernel, *tensors: Any) -> bool:
    """Whether any input or kernel parameter requires a gradient."""
    import torch

    if not torch.is_grad_enabled():
        return False
    return any(t is not None and getattr(t, "requires_grad", False)
               for t in (*tensors, *_kernel_tensors(kernel)))


def to_numpy(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy()


def from_numpy(a: np.ndarray, like: Any) -> Any:
    import torch

    return torch.from_numpy(np.ascontiguousarray(a)).to(device=like.device)


def _rows_per_block(m: int, itemsize: int) -> int:
    budget = get_config()["working_memory"] * 2**20
    return max(1, int(budget // (max(m, 1) * itemsize * _TEMPORARIES)))


def _blocked(fn: Callable[..., Any], X: Any, m: int, *args: Any) -> Any:
    import torch
    from torch.utils.checkpoint import checkpoint

    rows = _rows_per_block(m, X.element_size())
    parts = [checkpoint(fn, X[i0:i0 + rows], *args, use_reentrant=False)
             for i0 in range(0, X.shape[0], rows)]
    return torch.cat(parts, dim=0)


def matvec(kernel: Kernel, X: Any, Y: Any, V: Any) -> Any:
    """K(X, Y) @ V (V of shape (m, k)) by checkpointed torch blocks."""
    import torch

    def block(xb: Any, Y: Any, V: Any) -> Any:
        return kernel._tile(xb, Y, torch) @ V

    return _blocked(block, X, Y.shape[0], Y, V)


def logsumexp(kernel: Kernel, X: Any, Y: Any, log_weights: Any) -> Any:
    """log sum_j w_j k(x_i, y_j) by checkpointed torch blocks."""
    import torch

    def block(xb: Any, Y: Any, lw: Any) -> Any:
        L = kernel._log_tile(xb, Y, torch)
        if lw is not None:
            L = L + lw
        return torch.logsumexp(L, dim=1)

    return _blocked(block, X, Y.shape[0], Y, log_weights)


def knn_distances(X: Any, Y: Any, indices: np.ndarray) -> Any:
    """Differentiable Euclidean distances ||X[i] - Y[indices[i, j]]||."""
    import torch

    idx = torch.from_numpy(indices).to(X.device)
    diff = X[:, None, :] - Y[idx]
    return torch.linalg.vector_norm(diff, dim=-1)

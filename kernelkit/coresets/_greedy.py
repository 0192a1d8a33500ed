"""Greedy coresets: Stein thinning (kernel Stein discrepancy) and kernel herding (MMD).

Both add one point at a time: the point that most lowers the discrepancy of the points
chosen so far (repeats allowed). Each step computes one kernel row, so the time is
O(size * n * d) plus, for herding, one O(n^2) engine pass for the kernel mean; memory
O(n d).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..kernels import Kernel
from ..ops import kernel_sum
from . import _jit
from ._prepare import check_data, check_kernel, check_rng, check_size, prepare

__all__ = ["stein_thinning", "kernel_herding"]


def stein_thinning(X: Any, score: Any, size: int, kernel: Kernel | None = None) -> np.ndarray:
    r"""Stein thinning: greedily pick points of X that minimise the kernel Stein
    discrepancy (KSD) to a target p known through its score :math:`\nabla \log p`.

    Step t adds the point :math:`x_i` minimising
    :math:`u_p(x_i, x_i) / 2 + \sum_{j \in S} u_p(x_i, x_j)` over the points S chosen so
    far, where :math:`u_p` is the Stein kernel of ``kernel`` [1]_. Unlike kernel thinning
    it corrects for a biased sample (e.g. MCMC output before convergence): the coreset
    targets p, not the empirical distribution of X.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Candidate points (finite). Not modified.
    score : callable or array-like of shape (n_samples, n_features)
        :math:`\nabla \log p`: a function mapping X (n, d) to an (n, d) array, or its
        values at X.
    size : int
        Number of points to select, between 1 and n_samples.
    kernel : Gaussian or IMQ kernel with a scalar bandwidth, default=None
        Base kernel of the Stein kernel. None: IMQ(c=1, beta=1/2) with the median
        distance as bandwidth (the recommended default of [1]_).

    Returns
    -------
    indices : ndarray of int64 of shape (size,)
        Rows of X in the order chosen (a point may be chosen several times: it then
        counts with multiplicity). Every prefix is itself a Stein-thinned coreset.

    Raises
    ------
    ShapeError
        If the score does not have the shape of X.
    InputValueError
        If X or the score is not finite.
    ParameterError
        For a size outside [1, n] or an unsupported kernel.

    References
    ----------
    .. [1] M. M. Riabiz, W. Y. Chen, J. Cockayne, P. Swietach, S. A. Niederer, L. Mackey
       and C. J. Oates, "Optimal thinning of MCMC output", JRSS B 84(4), 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.coresets import stein_thinning
    >>> X = np.random.default_rng(0).normal(loc=0.5, size=(500, 2))  # biased sample
    >>> idx = stein_thinning(X, lambda Z: -Z, size=20)  # target: standard normal
    >>> idx.shape
    (20,)
    >>> bool(abs(X[idx].mean()) < abs(X.mean()))  # the coreset moves towards 0
    True
    """
    from ..stats._ksd import _profile_derivatives, _scores, _stein_profile

    X = check_data(X)
    size = check_size(size, X.shape[0])
    X64 = np.asarray(X, dtype=np.float64)
    S = _scores(score, X64)
    kernel, h = _stein_profile(kernel, X64)
    n, d = X64.shape
    h2 = h * h
    f0, f10, _ = _profile_derivatives(kernel, np.zeros(1))
    objective = 0.5 * (f0[0] * np.einsum("ij,ij->i", S, S) - 2.0 * d * f10[0] / h2)
    chosen = np.empty(size, dtype=np.int64)
    for t in range(size):
        j = int(np.argmin(objective))
        chosen[t] = j
        diff = X64 - X64[j]
        r = np.einsum("ij,ij->i", diff, diff) / h2
        f, f1, f2 = _profile_derivatives(kernel, r)
        # u_p(x, y) = f s(x).s(y) + (2 f' / h^2) (s(y) - s(x)).(x - y)
        #             - (4 r f'' + 2 d f') / h^2,  with y = x_j
        row = f * (S @ S[j])
        row += (2.0 / h2) * f1 * np.einsum("ij,ij->i", S[j] - S, diff)
        row -= (4.0 * r * f2 + 2.0 * d * f1) / h2
        objective += row
    return chosen


def kernel_herding(X: Any, size: int, kernel: Kernel | None = None, *,
                   random_state: Any = None) -> np.ndarray:
    r"""Kernel herding: greedily pick points of X whose empirical distribution matches
    the kernel mean embedding of X.

    Step t (t = 0, 1, ...) adds :math:`\arg\max_i\, \mu(x_i) - \frac{1}{t + 1}
    \sum_{j \in S} k(x_i, x_j)` with :math:`\mu(x) = \frac1n \sum_l k(x, x_l)` [1]_.
    Deterministic; its MMD decays like 1/size in favourable cases, but each step costs
    a kernel row (O(n d)), so it suits small coresets.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Candidate points (finite). Not modified.
    size : int
        Number of points, between 1 and n_samples.
    kernel : Kernel, default=None
        None: a Gaussian with the median distance (of a random subsample of 1000 points)
        as bandwidth.
    random_state : None, int or numpy.random.Generator, default=None
        Only used for the default bandwidth's subsample.

    Returns
    -------
    indices : ndarray of int64 of shape (size,)
        Rows of X in the order chosen (repeats possible).

    References
    ----------
    .. [1] Y. Chen, M. Welling and A. Smola, "Super-samples from kernel herding",
       UAI 2010.

    Examples
    --------
    >>> import numpy as np
    >>> from kernelkit.coresets import kernel_herding
    >>> from kernelkit.kernels import Gaussian
    >>> X = np.random.default_rng(0).normal(size=(400, 2))
    >>> kernel_herding(X, 5, Gaussian(bandwidth=1.0)).shape
    (5,)
    """
    X = check_data(X)
    size = check_size(size, X.shape[0])
    kernel = check_kernel(kernel, X, check_rng(random_state))
    X64 = np.asarray(X, dtype=np.float64)
    n = X64.shape[0]
    mean_k = np.asarray(kernel_sum(kernel, X64), dtype=np.float64) / n
    kd = prepare(kernel, X64)
    args = kd.block(np.arange(n, dtype=np.int64)) if kd.compiled else None
    sums = np.zeros(n)
    buf = np.empty(n)
    chosen = np.empty(size, dtype=np.int64)
    for t in range(size):
        j = int(np.argmax(mean_k - sums / (t + 1)))
        chosen[t] = j
        if args is not None:
            _jit.add_row(j, 1.0, sums, 0, *args, buf)
        else:
            sums += np.asarray(kernel(X64[j:j + 1], X64), dtype=np.float64)[0]
    return chosen

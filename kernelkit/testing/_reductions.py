"""Accuracy the engine promises for its reductions, per dtype (used by the tests).

For ``matvec``/``kernel_sum``: ``|out_i - (K V)_i| <= rtol * sum_j |k_ij v_j|`` per row and
right-hand side, against a float64 oracle. For ``logsumexp``: absolute error in log space
(a relative error of the sum) of at most ``rtol``.
"""

from __future__ import annotations

import numpy as np

from ._tolerances import _ByDtype

REDUCTION_RTOL = _ByDtype({np.float32: 1e-5, np.float64: 1e-12})

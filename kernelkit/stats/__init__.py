"""Kernel hypothesis tests: two-sample (MMD), independence (HSIC), goodness-of-fit (KSD).

Every statistic streams through the engine (:func:`kernelkit.matvec`), so memory is
O(n (d + n_permutations)), never n²; all permutations of a test are evaluated together
as one multi-column kernel product.
"""

from ._cka import cka
from ._common import TestResult, median_heuristic
from ._hsic import hsic, hsic_test
from ._ksd import MetropolisJump, ksd, ksd_test
from ._mmd import MMDReference, mmd, mmd_test

__all__ = ["TestResult", "median_heuristic", "mmd", "mmd_test", "MMDReference",
           "hsic", "hsic_test", "ksd", "ksd_test", "MetropolisJump",
           "cka"]

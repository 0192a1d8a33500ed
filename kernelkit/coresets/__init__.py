"""Coresets: a few points (or weighted points) that keep the distribution of many.

* :func:`kernel_thinning` — kernel thinning (KT, KT+) and Compress++: ~sqrt(n) points
  with MMD ~ n^(-1/2) to the sample, instead of n^(-1/4) for a random subsample.
* :func:`stein_thinning` — greedy kernel Stein discrepancy minimisation, for samples
  (e.g. MCMC output) of a distribution known through its score.
* :func:`kernel_herding` — greedy MMD minimisation (kernel herding).
* :func:`recombination` — a weighted coreset of at most ``size`` points keeping the
  sample means of ``size - 1`` Nyström features exactly (Carathéodory recombination).
* :func:`coreset_mmd` — MMD between a sample and one of its coresets.

Kernel values are computed on demand (no n x n matrix) for the Gaussian, Laplace, Matérn,
IMQ and rational quadratic kernels and their scaled sums; other kernels are evaluated on
blocks that fit the ``working_memory`` budget.
"""

from ._greedy import kernel_herding, stein_thinning
from ._recombination import recombination
from ._thinning import coreset_mmd, kernel_thinning

__all__ = ["kernel_thinning", "stein_thinning", "kernel_herding", "recombination",
           "coreset_mmd"]

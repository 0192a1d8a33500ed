"""Kernel approximations: random features, leverage-score sampling, Nyström, the planner.

- :class:`RandomFeatures`: random Fourier features (i.i.d., orthogonal, Hadamard-structured,
  simplex, quasi-Monte-Carlo) and positive FAVOR+ features.
- :func:`rls_sample` / :func:`ridge_leverage_scores`: centres drawn by approximate ridge
  leverage scores without forming the kernel matrix.
"""

from ._features import RandomFeatures
from ._leverage import ridge_leverage_scores, rls_sample

__all__ = ["RandomFeatures", "ridge_leverage_scores", "rls_sample"]

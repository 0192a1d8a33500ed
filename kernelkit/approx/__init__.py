"""Kernel approximations: random features, leverage-score sampling, Nyström, DPPs.

- :class:`RandomFeatures`: random Fourier features (i.i.d., orthogonal, Hadamard-structured,
  simplex, quasi-Monte-Carlo) and positive FAVOR+ features.
- :class:`Nystroem`: Nyström features with uniform, ridge-leverage-score, k-means, greedy
  (pivoted Cholesky) or k-DPP centres; :class:`LowRankOperator` for Woodbury solves.
- :func:`rls_sample` / :func:`ridge_leverage_scores`: centres drawn by approximate ridge
  leverage scores without forming the kernel matrix.
- :func:`sample_dpp`: exact DPP / k-DPP samples.
- :func:`volume_sampling`: generalized volume sampling for weighted least squares
  (:func:`orthonormal_features` gives the L²(μ)-orthonormal basis it uses).
- :class:`SequentialNystroem`: Nyström on a stream with a dictionary of size ≈ d_eff.
- :func:`approximate`: the planner; picks the cheapest method and rank meeting ``rtol``.
"""

from ._dpp import sample_dpp
from ._features import RandomFeatures
from ._leverage import ridge_leverage_scores, rls_sample
from ._nystroem import LowRankOperator, Nystroem
from ._planner import Approximation, approximate
from ._sequential import SequentialNystroem
from ._volume import orthonormal_features, volume_sampling

__all__ = ["approximate", "Approximation", "RandomFeatures", "Nystroem", "LowRankOperator",
           "ridge_leverage_scores", "rls_sample", "sample_dpp", "volume_sampling",
           "orthonormal_features", "SequentialNystroem"]

"""Kernel approximations: ridge-leverage-score sampling (more to come in this package).

``rls_sample`` draws Nyström / Falkon centres by approximate ridge leverage scores without
forming the kernel matrix; ``ridge_leverage_scores`` returns the scores themselves.
"""

from ._leverage import ridge_leverage_scores, rls_sample

__all__ = ["ridge_leverage_scores", "rls_sample"]

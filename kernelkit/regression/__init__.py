"""Kernel regression at scale: exact kernel ridge, Falkon, Gaussian processes, filters.

* :class:`KernelRidge` — exact KRR: in-place Cholesky within the memory budget, else
  Nyström-preconditioned CG on :class:`~kernelkit.KernelOperator`;
* :class:`FalkonRegressor`, :class:`FalkonClassifier` — Nyström KRR solved by Falkon's
  preconditioned CG with every K(X, C) product streamed through the engine;
* :class:`GaussianProcessRegressor` — exact GP with analytic log-marginal-likelihood
  gradients and L-BFGS hyper-parameter search;
* :class:`SpectralFilterRegressor` — Tikhonov, Landweber and self-distillation as filters
  on the kernel spectrum.
"""

from ._falkon import FalkonClassifier, FalkonRegressor
from ._filters import SpectralFilterRegressor, filter_values
from ._gp import GaussianProcessRegressor
from ._krr import KernelRidge

__all__ = ["KernelRidge", "FalkonRegressor", "FalkonClassifier", "GaussianProcessRegressor",
           "SpectralFilterRegressor", "filter_values"]

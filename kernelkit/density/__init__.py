"""Kernel density estimation: exact, gridded and mode-finding.

* :class:`KernelDensity` — scikit-learn estimator; exact log-densities through
  :func:`kernelkit.logsumexp` (no N × M matrix), sklearn's six kernels with the same
  normalisation plus radial kernelkit kernels, bandwidth selectors by name.
* Bandwidth selectors: :func:`scott_bandwidth`, :func:`silverman_bandwidth`,
  :func:`isj_bandwidth` (improved Sheather–Jones), :func:`cv_bandwidth` (leave-one-out
  likelihood through the engine), :func:`select_bandwidth` by name.
* :func:`grid_density` — linear binning + FFT on a grid (d <= 3).
* :func:`mean_shift` / :meth:`KernelDensity.modes` — all modes; random projection for
  high dimension.
* :class:`KernelDensityTransformer` — kernel-density integral transform per feature.

See ``docs/density.md`` for a guide.
"""

from ._bandwidth import (
    SELECTORS,
    cv_bandwidth,
    isj_bandwidth,
    scott_bandwidth,
    select_bandwidth,
    silverman_bandwidth,
)
from ._grid import GridDensity, grid_density
from ._kde import KernelDensity
from ._kernels import SKLEARN_KERNELS
from ._modes import ModeResult, mean_shift, projection_dimension
from ._transform import KernelDensityTransformer

__all__ = [
    "KernelDensity",
    "KernelDensityTransformer",
    "grid_density",
    "GridDensity",
    "mean_shift",
    "ModeResult",
    "projection_dimension",
    "scott_bandwidth",
    "silverman_bandwidth",
    "isj_bandwidth",
    "cv_bandwidth",
    "select_bandwidth",
    "SELECTORS",
    "SKLEARN_KERNELS",
]

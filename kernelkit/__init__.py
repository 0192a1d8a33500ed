"""kernelkit: scalable kernel methods on one fast, exact, memory-bounded engine."""

from . import kernels
from ._config import config_context, get_config, set_config

__version__ = "0.1.0"

__all__ = ["kernels", "config_context", "get_config", "set_config", "__version__"]

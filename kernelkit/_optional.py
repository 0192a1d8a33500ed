"""Lazy imports of optional dependencies, with errors that name the pip extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from .exceptions import OptionalDependencyError

_EXTRAS = {"torch": "torch", "dask": "dask", "matplotlib": "plot", "distributed": "dask"}


def import_optional(module: str) -> ModuleType:
    """Import ``module`` or raise an ImportError saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        extra = _EXTRAS.get(top, top)
        raise OptionalDependencyError(
            f"This feature needs {top}, which is not installed. "
            f'Install it with: pip install "kernelkit[{extra}]"'
            + (" (on CPU-only machines: pip install torch==2.13.0 first)" if top == "torch"
               else "")
        ) from exc


def import_torch() -> ModuleType:
    return import_optional("torch")

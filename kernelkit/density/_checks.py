"""Argument checks shared by the density modules."""

from __future__ import annotations

import numbers
from typing import Any

from ..exceptions import ParameterError

__all__ = ["check_integer"]


def check_integer(value: Any, name: str, *, minimum: int = 1,
                  expected: str = "a positive integer") -> int:
    """``value`` as an int >= ``minimum`` (bools and floats rejected), else ParameterError
    "``name`` must be ``expected``, got ``value``"."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ParameterError(f"{name} must be {expected}, got {value!r}.")
    return int(value)

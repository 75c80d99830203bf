"""The ``math`` module: ``abs``, ``max``, ``min`` and ``floor``.

Integers stay integers and doubles stay doubles; ``max``/``min`` of mixed
operands return the chosen operand unchanged (``math.max(1, 2.5)`` is ``2.5``,
``math.max(3, 2.5)`` is ``3``). Results outside the 64-bit range are a
ValueError (docs/decisions.md #19).
"""

from __future__ import annotations

import math

from ..errors import value_error
from ..values import check_int
from .registry import REGISTRY, param


@REGISTRY.function("math.abs", param("x", "number"))
def abs_(x: int | float) -> int | float:
    """Absolute value; ``math.abs(-9223372036854775808)`` overflows (ValueError)."""
    if type(x) is int:
        return check_int(abs(x))
    return abs(x)


@REGISTRY.function("math.max", param("x", "number"), param("y", "number"))
def max_(x: int | float, y: int | float) -> int | float:
    """The larger operand, with its own type; ``x`` when they are equal."""
    return y if y > x else x


@REGISTRY.function("math.min", param("x", "number"), param("y", "number"))
def min_(x: int | float, y: int | float) -> int | float:
    """The smaller operand, with its own type; ``x`` when they are equal."""
    return y if y < x else x


@REGISTRY.function("math.floor", param("x", "number"))
def floor(x: int | float) -> int:
    """The largest integer not greater than ``x``, as an integer."""
    if type(x) is int:
        return x
    if math.isnan(x) or math.isinf(x):
        raise value_error(f"math.floor() cannot convert {x!r} to an integer")
    return check_int(math.floor(x))


__all__ = ["abs_", "floor", "max_", "min_"]

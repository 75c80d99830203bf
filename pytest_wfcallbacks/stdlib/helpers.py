"""Top-level expression helpers: ``default``, ``if``, ``keys``, ``len``, ``int``, ``double``, ``string``, ``get_type``.

These are registered under bare names (no module prefix), with the parameter
names of docs/semantics.md §3.7 (``default(val, fallback)``, ``if(cond, a, b)``,
``keys(map)``, ``len(x)``, ``int(x)``, ``double(x)``, ``string(x)``, ``get_type(x)``).
Conversions are strict: ``int("1.5")``, ``int(" 2")`` and ``double("nan")`` are
ValueErrors, and booleans are never numbers.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import type_error, value_error
from ..values import check_int, to_string, type_name
from .registry import REGISTRY, FunctionRef, param

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_DOUBLE_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@REGISTRY.function("default", param("val"), param("fallback"), fresh=False)
def default(value: Any, fallback: Any) -> Any:
    """``value`` unless it is null, else ``fallback`` (both already evaluated)."""
    return fallback if value is None else value


@REGISTRY.function("if", param("cond", "boolean"), param("a"), param("b"), fresh=False)
def if_(condition: bool, a: Any, b: Any) -> Any:
    """``a`` when ``condition`` is true, else ``b``; the registry rejects a non-boolean condition."""
    return a if condition else b


@REGISTRY.function("keys", param("map", "map"))
def keys(mapping: dict[str, Any]) -> list[str]:
    """The map's keys in insertion order (docs/decisions.md #30)."""
    return list(mapping)


@REGISTRY.function("len", param("x"))
def len_(value: Any) -> int:
    """Element count of a list, entry count of a map, or code-point count of a string."""
    kind = type(value)
    if kind is str or kind is list or kind is dict:
        return len(value)
    raise type_error(f"len() expects a list, map or string, got {type_name(value)}")


@REGISTRY.function("int", param("x", "string", "double", "integer"))
def int_(value: Any) -> int:
    """Convert a string (decimal integer text) or a double (truncated toward zero) to an integer."""
    kind = type(value)
    if kind is int:
        return check_int(value)
    if kind is float:
        if math.isnan(value) or math.isinf(value):
            raise value_error(f"int() cannot convert {value!r} to an integer")
        return check_int(int(value))
    if _INT_TEXT.fullmatch(value) is None:
        raise value_error(f"int() cannot parse {value!r} as an integer")
    if len(value.lstrip("+-").lstrip("0")) > 19:
        # Longer than any 64-bit integer (and beyond Python's own digit limit for huge inputs).
        raise value_error("integer overflow")
    return check_int(int(value))


@REGISTRY.function("double", param("x", "string", "integer", "double"))
def double(value: Any) -> float:
    """Convert a string (decimal or exponent notation) or an integer to a double."""
    kind = type(value)
    if kind is float:
        return float(value)
    if kind is int:
        return float(value)
    if _DOUBLE_TEXT.fullmatch(value) is None:
        raise value_error(f"double() cannot parse {value!r} as a number")
    try:
        result = float(value)
    except ValueError:  # pragma: no cover - the pattern only admits float() syntax
        raise value_error(f"double() cannot parse {value!r} as a number") from None
    if math.isinf(result):
        raise value_error(f"double() value out of range: {value!r}")
    return result


@REGISTRY.function("string", param("x"))
def string(value: Any) -> str:
    """Convert an integer, double, boolean or string to a string; other types are a TypeError."""
    return to_string(value)


@REGISTRY.function("get_type", param("x"))
def get_type(value: Any) -> str:
    """The Workflows type name: boolean, bytes, double, integer, list, map, null, string (or function)."""
    if isinstance(value, FunctionRef):
        return "function"
    return type_name(value)


__all__ = ["default", "double", "get_type", "if_", "int_", "keys", "len_", "string"]

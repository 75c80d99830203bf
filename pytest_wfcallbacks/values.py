"""Workflows values in Python, and the operations every layer shares.

Representation: int (64-bit, never bool), float (double), str, bool, bytes,
None (null), list, dict (string keys, insertion order). Python's ``bool`` is an
``int``; every check here tests ``bool`` first so ``true + 1`` and ``1 == true``
never behave like Python.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .errors import WorkflowError, type_error, value_error, wf_error

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1

_SCALARS = (str, int, float, bool, type(None), bytes)


def type_name(value: Any) -> str:
    """The name ``get_type()`` returns for a value."""
    kind = type(value)
    if kind is bool:
        return "boolean"
    if kind is int:
        return "integer"
    if kind is float:
        return "double"
    if kind is str:
        return "string"
    if value is None:
        return "null"
    if kind is list:
        return "list"
    if kind is dict:
        return "map"
    if kind is bytes:
        return "bytes"
    if kind.__name__ == "FunctionRef":
        # A function used as a value (``${retry.always}``); the class lives in stdlib.registry.
        return "function"
    return kind.__name__


def is_number(value: Any) -> bool:
    """int or double, never boolean."""
    kind = type(value)
    return kind is int or kind is float


def check_int(value: int) -> int:
    """Raise ValueError when an int left the signed 64-bit range (docs/decisions.md #19)."""
    if value > INT_MAX or value < INT_MIN:
        raise value_error("integer overflow")
    return value


def copy_value(value: Any) -> Any:
    """Deep copy of lists and maps (Workflows values are values, never aliases); scalars are immutable."""
    kind = type(value)
    if kind is list:
        return [copy_value(item) if type(item) in _CONTAINERS else item for item in value]
    if kind is dict:
        return {key: copy_value(item) if type(item) in _CONTAINERS else item for key, item in value.items()}
    return value


_CONTAINERS = frozenset({list, dict})


def values_equal(left: Any, right: Any) -> bool:
    """Workflows ``==``: numbers compare numerically, containers deeply, other types unequal."""
    lk, rk = type(left), type(right)
    if lk is bool or rk is bool:
        return lk is rk and left == right
    if lk in (int, float) and rk in (int, float):
        return bool(left == right)
    if lk is not rk:
        return False
    if lk is list:
        return len(left) == len(right) and all(values_equal(a, b) for a, b in zip(left, right, strict=True))
    if lk is dict:
        # Key order is irrelevant for equality (docs/semantics.md §3.5).
        return len(left) == len(right) and all(
            key in right and values_equal(item, right[key]) for key, item in left.items()
        )
    return bool(left == right)


def json_or_repr(value: Any) -> str:
    """JSON text of a value, or its Python repr when JSON cannot hold it (bytes, functions)."""
    try:
        return json_encode(value)
    except WorkflowError:
        return repr(value)


def format_double(value: float) -> str:
    """A double as the service prints it: shortest repr, always with a point or exponent."""
    if math.isnan(value) or math.isinf(value):
        raise value_error(f"cannot represent {value!r}")
    text = repr(value)
    if "e" in text or "." in text:
        return text
    return text + ".0"


def to_string(value: Any, *, helper: str = "string") -> str:
    """``string()``: int, double, boolean and string; anything else is a TypeError."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return format_double(value)
    raise type_error(f"{helper}() cannot convert a {type_name(value)} to a string")


def _encode(value: Any, out: list[str]) -> None:
    kind = type(value)
    if value is None:
        out.append("null")
    elif kind is bool:
        out.append("true" if value else "false")
    elif kind is int:
        out.append(str(value))
    elif kind is float:
        out.append(format_double(value))
    elif kind is str:
        out.append(json.dumps(value, ensure_ascii=False))
    elif kind is list:
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif kind is dict:
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(json.dumps(key, ensure_ascii=False))
            out.append(":")
            _encode(item, out)
        out.append("}")
    else:
        raise value_error(f"a {type_name(value)} value cannot be encoded as JSON")


# The C encoder writes exactly what `_encode` writes for Workflows values (float repr
# always has a point or an exponent, ``bool`` before ``int``); it is only a faster path.
# Anything it refuses (bytes, NaN, functions) is re-encoded by `_encode` for the message.
_FAST_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False)


def json_encode(value: Any, *, indent: str | None = None, prefix: str = "") -> str:
    """JSON text per docs/decisions.md #31: compact, insertion order, non-ASCII as is, doubles with a point.

    Bytes, NaN, infinities and functions raise a ValueError Workflows error. With
    ``indent``, each element starts on a new line with ``prefix`` plus one
    ``indent`` per nesting level.
    """
    if indent is None:
        try:
            return _FAST_ENCODER.encode(value)
        except (TypeError, ValueError):
            pass
        out: list[str] = []
        _encode(value, out)
        return "".join(out)
    return _encode_indented(value, indent, prefix, 0)


def _encode_indented(value: Any, indent: str, prefix: str, level: int) -> str:
    kind = type(value)
    if kind is list and value:
        inner = "\n" + prefix + indent * (level + 1)
        items = [inner + _encode_indented(item, indent, prefix, level + 1) for item in value]
        return "[" + ",".join(items) + "\n" + prefix + indent * level + "]"
    if kind is dict and value:
        inner = "\n" + prefix + indent * (level + 1)
        items = [
            inner + json.dumps(key, ensure_ascii=False) + ": " + _encode_indented(item, indent, prefix, level + 1)
            for key, item in value.items()
        ]
        return "{" + ",".join(items) + "\n" + prefix + indent * level + "}"
    return json_encode(value)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON constant {name}")


def _object_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return dict(pairs)


def _int_or_double(literal: str) -> int | float:
    value = int(literal)
    return value if INT_MIN <= value <= INT_MAX else float(literal)


def json_decode(text: str | bytes, *, wide_ints_as_doubles: bool = False) -> Any:
    """Parse JSON into Workflows values.

    Invalid JSON, ``NaN``/``Infinity``, numbers beyond a double's range and
    integers outside the signed 64-bit range raise a ValueError Workflows error.
    With ``wide_ints_as_doubles`` an integer beyond 64 bits becomes a double instead,
    as the service's Go decoder does with the bodies of requests and responses.
    """
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        value = json.loads(text, parse_constant=_reject_constant, object_pairs_hook=_object_pairs,
                           parse_int=_int_or_double if wide_ints_as_doubles else None)
        _check_decoded(value)
    except (ValueError, UnicodeDecodeError) as exc:
        raise value_error(f"invalid JSON: {exc}") from None
    except RecursionError:
        raise value_error("invalid JSON: nested too deeply") from None
    return value


def _check_decoded(value: Any) -> None:
    kind = type(value)
    if kind is int:
        if value > INT_MAX or value < INT_MIN:
            raise ValueError(f"integer overflow: {value} does not fit in a signed 64-bit integer")
    elif kind is float:
        if math.isinf(value):
            raise ValueError("number out of range for a double")
    elif kind is list:
        for item in value:
            _check_decoded(item)
    elif kind is dict:
        for item in value.values():
            _check_decoded(item)


def from_python(value: Any, *, where: str = "value") -> Any:
    """Accept a Python value from the test (argument, mock body) as a Workflows value.

    Tuples become lists, subclasses of int/float/bool/str... become the plain
    types; NaN, infinities, integers beyond 64 bits, non-string keys and other
    Python objects raise ``ValueError`` naming ``where``.
    """
    kind = type(value)
    if kind is list or kind is dict:
        # Fast path for the common case (JSON-like data): plain scalars are taken as they are.
        try:
            return _from_container(value, where)
        except RecursionError:
            raise _too_deep(where) from None
    if kind in (str, bool, float, bytes) or value is None:
        if kind is float and (math.isnan(value) or math.isinf(value)):
            raise ValueError(f"{where}: NaN and infinities are not Workflows values")
        return value
    if kind is int:
        if value > INT_MAX or value < INT_MIN:
            raise ValueError(f"{where}: {value} does not fit in a 64-bit integer")
        return value
    if isinstance(value, (list, tuple, dict)):
        try:
            return _from_sequence_or_mapping(value, where)
        except RecursionError:
            raise _too_deep(where) from None
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return from_python(int(value), where=where)
    if isinstance(value, float):
        return from_python(float(value), where=where)
    raise ValueError(
        f"{where}: {type(value).__name__} is not a Workflows value (use str, int, float, bool, None, list, dict)"
    )


def _too_deep(where: str) -> ValueError:
    # The test's own value, so a ValueError naming it, not a RecursionError from in here.
    return ValueError(f"{where}: lists and maps nested too deeply (a workflow keeps at most "
                      f"{MAX_VALUE_DEPTH} levels in a variable)")


def _from_sequence_or_mapping(value: list[Any] | tuple[Any, ...] | dict[Any, Any], where: str) -> Any:
    if isinstance(value, (list, tuple)):
        return [_from_item(item, where) for item in value]
    out: dict[str, Any] = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise ValueError(f"{where}: map keys must be strings, got {key!r}")
        out["".join((key,))] = _from_item(item, where)
    return out


def _from_item(item: Any, where: str) -> Any:
    kind = type(item)
    if kind is str or kind is bool or item is None or (kind is int and INT_MIN <= item <= INT_MAX):
        return item
    return from_python(item, where=where)


def _from_container(value: list[Any] | dict[Any, Any], where: str) -> Any:
    if isinstance(value, list):
        return [_from_item(item, where) for item in value]
    out: dict[str, Any] = {}
    for key, item in value.items():
        if type(key) is str:
            out[key] = _from_item(item, where)
        elif isinstance(key, str):
            out["".join((key,))] = _from_item(item, where)  # a str subclass (a str enum...) -> plain string
        else:
            raise ValueError(f"{where}: map keys must be strings, got {key!r}")
    return out


#: How deep lists and maps may nest in a variable. The service documents no figure; protobuf,
#: which carries the service's values, refuses messages nested past 100 levels, and a bound
#: keeps every recursive helper (copy, equality, JSON, reports) far from Python's recursion
#: limit, so a value built deeper at run time is a ResourceLimitError naming the step
#: (docs/decisions.md #23) instead of an internal RecursionError.
MAX_VALUE_DEPTH = 100


def value_size(value: Any, depth: int = 0) -> int:
    """Approximate memory footprint in bytes (UTF-8 text, 8 per scalar and container), for the memory limit.

    ``depth`` is how deep ``value`` sits in its variable; a list or map nested past
    `MAX_VALUE_DEPTH` raises a ResourceLimitError Workflows error.
    """
    kind = type(value)
    if kind is str:
        return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
    if kind is bytes:
        return len(value)
    if kind is list:
        depth += 1
        if depth > MAX_VALUE_DEPTH:
            raise nesting_error()
        total = 8
        for item in value:
            item_kind = type(item)
            if item_kind is str or item_kind is list or item_kind is dict or item_kind is bytes:
                total += value_size(item, depth)
            else:
                total += 8
        return total
    if kind is dict:
        depth += 1
        if depth > MAX_VALUE_DEPTH:
            raise nesting_error()
        total = 8
        for key, item in value.items():
            item_kind = type(item)
            total += len(key) if key.isascii() else len(key.encode("utf-8", "surrogatepass"))
            if item_kind is str or item_kind is list or item_kind is dict or item_kind is bytes:
                total += value_size(item, depth)
            else:
                total += 8
        return total
    return 8


def nesting_error() -> WorkflowError:
    """The ResourceLimitError for a value nested past `MAX_VALUE_DEPTH` (or too deep to walk)."""
    return wf_error("ResourceLimitError", f"a list or map nested more than {MAX_VALUE_DEPTH} levels deep; "
                    "keep values flatter (the service stores values as protobuf, which stops at 100 levels)")


def key_error(key: str) -> WorkflowError:
    """A KeyError Workflows error for a missing map key or variable."""
    return wf_error("KeyError", f"key not found: {key}")


__all__ = [
    "INT_MAX",
    "INT_MIN",
    "check_int",
    "copy_value",
    "format_double",
    "from_python",
    "is_number",
    "json_decode",
    "json_encode",
    "key_error",
    "to_string",
    "type_name",
    "value_size",
    "nesting_error",
    "MAX_VALUE_DEPTH",
    "values_equal",
]

"""The ``list`` and ``map`` modules.

Every function returns a new container and leaves its arguments unchanged. The
results hold the arguments' elements (not copies), so the functions are
registered with ``fresh=False`` and the interpreter deep-copies on assignment.
"""

from __future__ import annotations

from typing import Any

from ..errors import type_error
from ..values import type_name
from .registry import REGISTRY, param


@REGISTRY.function("list.concat", param("objs", "list"), param("val"), fresh=False)
def concat(objs: list[Any], val: Any) -> list[Any]:
    """``objs`` with ``val`` appended as one element (a list ``val`` is not flattened)."""
    return [*objs, val]


@REGISTRY.function("list.prepend", param("objs", "list"), param("val"), fresh=False)
def prepend(objs: list[Any], val: Any) -> list[Any]:
    """``objs`` with ``val`` inserted in front."""
    return [val, *objs]


@REGISTRY.function("map.get", param("map"), param("keys", "string", "list"), fresh=False)
def get(mapping: Any, keys: str | list[Any]) -> Any:
    """Safe lookup of a key or a key path; null when a key is missing or a value on the path is not a map.

    ``keys`` must be a string or a list of strings (TypeError otherwise); an empty list
    returns ``map`` itself when it is a map.
    """
    path: list[Any] = [keys] if isinstance(keys, str) else keys
    for key in path:
        if type(key) is not str:
            raise type_error(f"map.get(): keys must be a string or a list of strings, found a {type_name(key)}")
    current = mapping
    if type(current) is not dict:
        return None
    for key in path:
        if type(current) is not dict:
            return None
        current = current.get(key)
        if current is None:
            return None
    return current


@REGISTRY.function("map.delete", param("map", "map"), param("key", "string"), fresh=False)
def delete(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    """A copy of ``map`` without ``key`` (an unchanged copy when the key is absent)."""
    return {name: value for name, value in mapping.items() if name != key}


@REGISTRY.function("map.merge", param("first", "map"), param("second", "map"), fresh=False)
def merge(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Shallow merge: keys of ``second`` replace those of ``first``; ``first``'s key order comes first."""
    return {**first, **second}


def _merge_nested(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    result = dict(first)
    for key, value in second.items():
        current = result.get(key)
        if type(current) is dict and type(value) is dict:
            result[key] = _merge_nested(current, value)
        else:
            result[key] = value
    return result


@REGISTRY.function("map.merge_nested", param("first", "map"), param("second", "map"), fresh=False)
def merge_nested(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge: maps present in both are merged; otherwise ``second``'s value wins."""
    return _merge_nested(first, second)


__all__ = ["concat", "delete", "get", "merge", "merge_nested", "prepend"]

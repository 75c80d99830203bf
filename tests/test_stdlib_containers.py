"""The ``list`` and ``map`` modules (docs/semantics.md §4.8, §4.9), called through the registry."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import pytest_wfcallbacks.stdlib.containers  # noqa: F401  (registers list.* and map.*)
from pytest_wfcallbacks.errors import WorkflowError
from pytest_wfcallbacks.stdlib.registry import REGISTRY


def call(name: str, *args: Any) -> Any:
    """Bind positional arguments as an expression call would, then run the function."""
    fn = REGISTRY.get(name)
    assert fn is not None, name
    return fn.impl(*fn.bind_positional(list(args)))


def call_named(name: str, **args: Any) -> Any:
    """Bind named arguments as a call step would, then run the function."""
    fn = REGISTRY.get(name)
    assert fn is not None, name
    return fn.impl(*fn.bind_named(args))


def error_tags(name: str, *args: Any) -> list[str]:
    with pytest.raises(WorkflowError) as info:
        call(name, *args)
    return list(info.value.tags)


@pytest.mark.parametrize(
    "name", ["list.concat", "list.prepend", "map.get", "map.delete", "map.merge", "map.merge_nested"]
)
def test_results_share_elements_so_not_fresh(name: str) -> None:
    assert REGISTRY.functions[name].fresh is False


# ------------------------------------------------------------------------ list


def test_concat() -> None:
    assert call("list.concat", [1, 2], [3]) == [1, 2, [3]]
    assert call("list.concat", [1], [2]) == [1, [2]]
    assert call("list.concat", [], None) == [None]
    assert call("list.concat", ["a"], {"b": 1}) == ["a", {"b": 1}]


def test_prepend() -> None:
    assert call("list.prepend", [2, 3], 1) == [1, 2, 3]
    assert call("list.prepend", ["b"], "a") == ["a", "b"]
    assert call("list.prepend", [1], [0]) == [[0], 1]


def test_list_functions_leave_inputs_unchanged() -> None:
    objs = [1, [2]]
    before = copy.deepcopy(objs)
    first = call("list.concat", objs, 3)
    second = call("list.prepend", objs, 0)
    assert objs == before
    assert first is not objs
    assert second is not objs


@pytest.mark.parametrize("objs", [None, "abc", {"a": 1}, 1])
def test_list_functions_need_a_list(objs: Any) -> None:
    assert error_tags("list.concat", objs, 1) == ["TypeError"]
    assert error_tags("list.prepend", objs, 1) == ["TypeError"]


def test_list_named_arguments() -> None:
    assert call_named("list.concat", objs=[1], val=2) == [1, 2]
    assert call_named("list.prepend", objs=[1], val=0) == [0, 1]


def test_list_arity() -> None:
    assert error_tags("list.concat", [1]) == ["TypeError"]


# --------------------------------------------------------------------- map.get


@pytest.mark.parametrize(
    ("mapping", "keys", "expected"),
    [
        ({"a": {"b": 1}}, ["a", "b"], 1),
        ({"a": {"b": {"c": 3}}}, ["a", "b", "c"], 3),
        ({"a": 1}, ["a", "b"], None),
        ({"a": 1}, "b", None),
        ({"a": 1}, "a", 1),
        ({"a": None}, "a", None),
        ({"a": {"b": None}}, ["a", "b", "c"], None),
        ({"a": [1]}, ["a", "0"], None),
        ("x", "a", None),
        (5, "a", None),
        (None, ["a"], None),
        ([{"a": 1}], "a", None),
        ({"a": {"b": 2}}, ["a"], {"b": 2}),
        ({"a": 1}, [], {"a": 1}),
        (5, [], None),
    ],
)
def test_map_get(mapping: Any, keys: Any, expected: Any) -> None:
    assert call("map.get", mapping, keys) == expected


@pytest.mark.parametrize("keys", [1, None, True, ["a", 1], [["a"]], {"a": 1}])
def test_map_get_bad_keys(keys: Any) -> None:
    assert error_tags("map.get", {"a": 1}, keys) == ["TypeError"]


def test_map_get_bad_keys_even_for_a_non_map() -> None:
    assert error_tags("map.get", 5, [1]) == ["TypeError"]


# ------------------------------------------------------------------ map.delete


def test_map_delete() -> None:
    original = {"a": 1, "b": 2}
    assert call("map.delete", original, "a") == {"b": 2}
    assert original == {"a": 1, "b": 2}
    missing = call("map.delete", original, "z")
    assert missing == original
    assert missing is not original


def test_map_delete_types() -> None:
    assert error_tags("map.delete", [1], "a") == ["TypeError"]
    assert error_tags("map.delete", {"a": 1}, 1) == ["TypeError"]


# ------------------------------------------------------------------- map.merge


def test_map_merge() -> None:
    first = {"a": 1, "b": 1}
    second = {"b": 2, "c": 3}
    result = call("map.merge", first, second)
    assert result == {"a": 1, "b": 2, "c": 3}
    assert list(result) == ["a", "b", "c"]
    assert first == {"a": 1, "b": 1}
    assert second == {"b": 2, "c": 3}


def test_map_merge_is_shallow() -> None:
    assert call("map.merge", {"a": {"x": 1, "y": 1}}, {"a": {"y": 2}}) == {"a": {"y": 2}}


def test_map_merge_nested() -> None:
    first = {"a": {"x": 1, "y": 1}, "k": 1}
    result = call("map.merge_nested", first, {"a": {"y": 2}})
    assert result == {"a": {"x": 1, "y": 2}, "k": 1}
    assert first == {"a": {"x": 1, "y": 1}, "k": 1}


def test_map_merge_nested_deep_and_non_map_values() -> None:
    first = {"a": {"b": {"c": 1, "d": 1}}, "l": [1], "m": {"x": 1}}
    second = {"a": {"b": {"d": 2}}, "l": [2], "m": 5, "n": {"y": 1}}
    assert call("map.merge_nested", first, second) == {
        "a": {"b": {"c": 1, "d": 2}},
        "l": [2],
        "m": 5,
        "n": {"y": 1},
    }
    assert first["a"] == {"b": {"c": 1, "d": 1}}


@pytest.mark.parametrize("name", ["map.merge", "map.merge_nested"])
@pytest.mark.parametrize(("first", "second"), [({}, None), (None, {}), ([1], {}), ({}, "x")])
def test_merge_types(name: str, first: Any, second: Any) -> None:
    assert error_tags(name, first, second) == ["TypeError"]

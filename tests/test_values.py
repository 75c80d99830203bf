"""Workflows values in Python (pytest_wfcallbacks.values): types, copies, equality, JSON."""

from __future__ import annotations

import enum
import math
from typing import Any

import pytest

from pytest_wfcallbacks.errors import WorkflowError
from pytest_wfcallbacks.stdlib.registry import FunctionRef
from pytest_wfcallbacks.values import (
    INT_MAX,
    INT_MIN,
    check_int,
    copy_value,
    format_double,
    from_python,
    is_number,
    json_decode,
    json_encode,
    key_error,
    to_string,
    type_name,
    value_size,
    values_equal,
)


def tags(call: Any) -> list[str]:
    with pytest.raises(WorkflowError) as info:
        call()
    return list(info.value.tags)


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (True, "boolean"),
        (False, "boolean"),
        (0, "integer"),
        (0.0, "double"),
        ("", "string"),
        (None, "null"),
        ([], "list"),
        ({}, "map"),
        (b"", "bytes"),
        (FunctionRef("retry.always"), "function"),
    ],
)
def test_type_name(value: Any, name: str) -> None:
    assert type_name(value) == name


def test_is_number_excludes_booleans() -> None:
    assert is_number(1)
    assert is_number(1.5)
    assert not is_number(True)
    assert not is_number("1")


def test_check_int_bounds() -> None:
    assert check_int(INT_MAX) == INT_MAX
    assert check_int(INT_MIN) == INT_MIN
    assert tags(lambda: check_int(INT_MAX + 1)) == ["ValueError"]
    assert tags(lambda: check_int(INT_MIN - 1)) == ["ValueError"]


def test_copy_value_is_deep_and_independent() -> None:
    original = {"a": [1, {"b": [2, 3]}], "c": "s", "d": None}
    copied = copy_value(original)
    assert copied == original
    copied["a"][1]["b"].append(4)
    copied["a"].append(5)
    assert original == {"a": [1, {"b": [2, 3]}], "c": "s", "d": None}
    assert list(copy_value({"z": 1, "a": 2})) == ["z", "a"]  # insertion order kept
    scalar = "text"
    assert copy_value(scalar) is scalar


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (1, 1.0, True),
        (1, True, False),
        (0, False, False),
        (True, True, True),
        (None, None, True),
        (None, False, False),
        ("1", 1, False),
        ([1, [2.0]], [1.0, [2]], True),
        ([1, 2], [2, 1], False),
        ([1], [1, 1], False),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),
        ({"a": 1}, {"b": 1}, False),
        ({"a": None}, {}, False),
        ({"a": [True]}, {"a": [1]}, False),
        (b"x", b"x", True),
        (b"x", "x", False),
    ],
)
def test_values_equal(left: Any, right: Any, equal: bool) -> None:
    assert values_equal(left, right) is equal
    assert values_equal(right, left) is equal


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.0, "2.0"),
        (1.5, "1.5"),
        (-0.0, "-0.0"),
        (1e20, "1e+20"),
        (1e-7, "1e-07"),
        (0.1, "0.1"),
        (123456789.0, "123456789.0"),
    ],
)
def test_format_double(value: float, text: str) -> None:
    assert format_double(value) == text
    assert to_string(value) == text


def test_to_string() -> None:
    assert to_string(True) == "true"
    assert to_string(False) == "false"
    assert to_string(-3) == "-3"
    assert to_string("s") == "s"
    for bad in (None, [1], {"a": 1}, b"x"):
        assert tags(lambda bad=bad: to_string(bad)) == ["TypeError"]


def test_json_encode_compact_ordered_unicode() -> None:
    """docs/decisions.md #31."""
    value = {"z": [1, 2.0, -0.5, True, None], "a": 'é ✓ "q"', "n": {"": 1e100}}
    assert json_encode(value) == '{"z":[1,2.0,-0.5,true,null],"a":"é ✓ \\"q\\"","n":{"":1e+100}}'
    assert json_encode(INT_MIN) == "-9223372036854775808"
    assert json_encode("\n\t\u0001") == '"\\n\\t\\u0001"'


@pytest.mark.parametrize("value", [b"x", [1, b"x"], {"a": {"b": b""}}, math.nan, [math.inf], FunctionRef("x")])
def test_json_encode_refuses_non_json_values(value: Any) -> None:
    assert tags(lambda: json_encode(value)) == ["ValueError"]


def test_json_encode_indented() -> None:
    assert json_encode({"a": [1, {}], "b": []}, indent="  ", prefix=">") == (
        '{\n>  "a": [\n>    1,\n>    {}\n>  ],\n>  "b": []\n>}'
    )


def test_json_decode_types() -> None:
    value = json_decode('{"i": 1, "d": 1.0, "e": 1e2, "b": true, "n": null, "s": "é", "l": [-0]}')
    assert value == {"i": 1, "d": 1.0, "e": 100.0, "b": True, "n": None, "s": "é", "l": [0]}
    assert [type(value[k]) for k in ("i", "d", "e", "b")] == [int, float, float, bool]
    assert list(json_decode('{"z": 1, "a": 2}')) == ["z", "a"]
    assert json_decode(b'[1, "\xc3\xa9"]') == [1, "é"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "{",
        "NaN",
        "[Infinity]",
        "-Infinity",
        "1e400",
        "[-1e400]",
        "9223372036854775808",
        '{"a": [-9223372036854775809]}',
        "1" * 5000,
        "[" * 100_000 + "]" * 100_000,
        b"\xff",
        "{'a': 1}",
    ],
)
def test_json_decode_invalid(text: str | bytes) -> None:
    assert tags(lambda: json_decode(text)) == ["ValueError"]


def test_from_python() -> None:
    assert from_python((1, [2.5, None], {"a": True})) == [1, [2.5, None], {"a": True}]
    assert type(from_python(True)) is bool

    class Number(int):
        pass

    converted = from_python(Number(3))
    assert (converted, type(converted)) == (3, int)

    class Key(str, enum.Enum):
        A = "a"

    keys = [list(from_python({Key.A: 1})), list(from_python([{Key.A: 1}])[0])]
    assert keys == [["a"], ["a"]]
    assert all(type(key[0]) is str for key in keys)
    for bad in (2**63, math.nan, {1: "a"}, object(), {1.5}):
        with pytest.raises(ValueError, match="argument"):
            from_python(bad, where="argument")


def test_value_size_grows_with_content() -> None:
    assert value_size("é") == 2
    assert value_size(b"abc") == 3
    assert value_size([1, 2]) < value_size([1, 2, 3])
    assert value_size({"key": "v" * 100}) > 100


def test_key_error() -> None:
    error = key_error("x")
    assert error.value == {"message": "KeyError: key not found: x", "tags": ["KeyError"]}

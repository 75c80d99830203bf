"""Top-level expression helpers (docs/semantics.md §3.7), called through the registry."""

from __future__ import annotations

from typing import Any

import pytest

import pytest_wfcallbacks.stdlib.helpers
from pytest_wfcallbacks.errors import WorkflowError
from pytest_wfcallbacks.stdlib.registry import REGISTRY, FunctionRef


def call(name: str, *args: Any) -> Any:
    """Bind positional arguments as an expression call would, then run the function."""
    fn = REGISTRY.get(name)
    assert fn is not None, name
    return fn.impl(*fn.bind_positional(list(args)))


def error_tags(name: str, *args: Any) -> list[str]:
    with pytest.raises(WorkflowError) as info:
        call(name, *args)
    assert isinstance(info.value.value, dict)
    assert info.value.value["message"].startswith(info.value.tags[0] + ": ")
    return list(info.value.tags)


def test_module_is_imported() -> None:
    assert pytest_wfcallbacks.stdlib.helpers.__name__.endswith("helpers")
    for name in ("default", "if", "keys", "len", "int", "double", "string", "get_type"):
        assert REGISTRY.get(name) is not None, name


def test_fresh_flags() -> None:
    assert REGISTRY.functions["default"].fresh is False
    assert REGISTRY.functions["if"].fresh is False
    assert REGISTRY.functions["keys"].fresh is True


# --------------------------------------------------------------------- default


@pytest.mark.parametrize(
    ("value", "fallback", "expected"),
    [(None, 3, 3), (0, 3, 0), (False, True, False), ("", "x", ""), (None, None, None), ([], [1], [])],
)
def test_default(value: Any, fallback: Any, expected: Any) -> None:
    result = call("default", value, fallback)
    assert result == expected
    assert type(result) is type(expected)


def test_default_returns_the_argument_itself() -> None:
    value = {"a": [1]}
    assert call("default", value, None) is value


def test_default_arity() -> None:
    assert error_tags("default", 1) == ["TypeError"]
    assert error_tags("default", 1, 2, 3) == ["TypeError"]


# -------------------------------------------------------------------------- if


def test_if_picks_a_branch() -> None:
    assert call("if", True, "yes", "no") == "yes"
    assert call("if", False, "yes", "no") == "no"


@pytest.mark.parametrize("condition", [1, 0, None, "true", [], 1.0])
def test_if_requires_a_boolean(condition: Any) -> None:
    assert error_tags("if", condition, 1, 2) == ["TypeError"]


def test_if_arity() -> None:
    assert error_tags("if", True, 1) == ["TypeError"]


# ------------------------------------------------------------------------ keys


def test_keys_keeps_insertion_order() -> None:
    assert call("keys", {"z": 1, "a": 2}) == ["z", "a"]
    assert call("keys", {"a": 1, "b": 2}) == ["a", "b"]
    assert call("keys", {}) == []


@pytest.mark.parametrize("value", [[1], "ab", None, 1, True])
def test_keys_of_a_non_map(value: Any) -> None:
    assert error_tags("keys", value) == ["TypeError"]


# ------------------------------------------------------------------------- len


@pytest.mark.parametrize(
    ("value", "expected"),
    [([1, 2, 3], 3), ({"a": 1}, 1), ("héllo", 5), ("über", 4), ("😀x", 2), ("", 0), ([], 0)],
)
def test_len(value: Any, expected: int) -> None:
    assert call("len", value) == expected


@pytest.mark.parametrize("value", [1, 1.5, True, None, b"ab"])
def test_len_of_other_types(value: Any) -> None:
    assert error_tags("len", value) == ["TypeError"]


# ------------------------------------------------------------------------- int


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", 42),
        ("-12", -12),
        ("+7", 7),
        ("007", 7),
        (2.7, 2),
        (-2.7, -2),
        (-2.9, -2),
        (5, 5),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
        (1e18, 10**18),
    ],
)
def test_int(value: Any, expected: int) -> None:
    result = call("int", value)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize("value", ["x", "1.5x", "1.5", "", " 1", "1 ", "1e3", "0x10", "١٢", "1_000"])
def test_int_of_a_bad_string(value: str) -> None:
    assert error_tags("int", value) == ["ValueError"]


@pytest.mark.parametrize("value", ["9223372036854775808", "-9223372036854775809", "1" * 5000, 1e19, -1e300])
def test_int_overflow(value: Any) -> None:
    assert error_tags("int", value) == ["ValueError"]


@pytest.mark.parametrize("value", [True, False, None, [1], {"a": 1}, b"1"])
def test_int_of_other_types(value: Any) -> None:
    assert error_tags("int", value) == ["TypeError"]


# ---------------------------------------------------------------------- double


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2.5", 2.5), (2, 2.0), ("-3", -3.0), ("1e3", 1000.0), (".5", 0.5), ("5.", 5.0), (1.25, 1.25)],
)
def test_double(value: Any, expected: float) -> None:
    result = call("double", value)
    assert result == expected
    assert type(result) is float


@pytest.mark.parametrize("value", ["x", "nan", "inf", "-Infinity", "", " 1.5", "1e400", "1_0.5", "0x1p3"])
def test_double_of_a_bad_string(value: str) -> None:
    assert error_tags("double", value) == ["ValueError"]


@pytest.mark.parametrize("value", [True, None, [1.0], {"a": 1}])
def test_double_of_other_types(value: Any) -> None:
    assert error_tags("double", value) == ["TypeError"]


# ---------------------------------------------------------------------- string


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, "true"), (False, "false"), (1.5, "1.5"), (1.7, "1.7"), (2.0, "2.0"), (-3, "-3"), ("s", "s")],
)
def test_string(value: Any, expected: str) -> None:
    assert call("string", value) == expected


@pytest.mark.parametrize("value", [[1], {"a": 1}, None, b"x"])
def test_string_of_other_types(value: Any) -> None:
    assert error_tags("string", value) == ["TypeError"]


# -------------------------------------------------------------------- get_type


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, "integer"),
        (1.0, "double"),
        (True, "boolean"),
        (False, "boolean"),
        (None, "null"),
        ("x", "string"),
        ([], "list"),
        ({}, "map"),
        (b"", "bytes"),
        (FunctionRef("retry.always"), "function"),
    ],
)
def test_get_type(value: Any, expected: str) -> None:
    assert call("get_type", value) == expected


def test_named_binding_rejects_unknown_names() -> None:
    fn = REGISTRY.functions["len"]
    with pytest.raises(WorkflowError) as info:
        fn.bind_named({"nope": [1]})
    assert list(info.value.tags) == ["TypeError"]

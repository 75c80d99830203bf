"""The ``math``, ``time``, ``uuid`` and ``retry`` modules (docs/semantics.md §4.10 to 4.13), called through the registry."""

from __future__ import annotations

import random
import uuid
from typing import Any

import pytest

import pytest_wfcallbacks.stdlib.mathlib
import pytest_wfcallbacks.stdlib.retrylib
import pytest_wfcallbacks.stdlib.timelib
import pytest_wfcallbacks.stdlib.uuidlib
from pytest_wfcallbacks.errors import WorkflowError
from pytest_wfcallbacks.stdlib.registry import REGISTRY
from pytest_wfcallbacks.values import INT_MAX, INT_MIN


def call(name: str, *args: Any) -> Any:
    """Bind positional arguments as an expression call would, then run the function."""
    fn = REGISTRY.get(name)
    assert fn is not None, name
    return fn.impl(*fn.bind_positional(list(args)))


def error_tags(name: str, *args: Any) -> list[str]:
    with pytest.raises(WorkflowError) as info:
        call(name, *args)
    return list(info.value.tags)


def check(value: Any, expected: Any) -> None:
    assert value == expected
    assert type(value) is type(expected)


# ------------------------------------------------------------------------ math


def test_math_module_loaded() -> None:
    assert pytest_wfcallbacks.stdlib.mathlib.__name__.endswith("mathlib")


@pytest.mark.parametrize(
    ("x", "expected"), [(-4, 4), (4, 4), (0, 0), (-2.5, 2.5), (2.5, 2.5), (INT_MAX, INT_MAX), (-INT_MAX, INT_MAX)]
)
def test_abs(x: Any, expected: Any) -> None:
    check(call("math.abs", x), expected)


def test_abs_overflow() -> None:
    assert error_tags("math.abs", INT_MIN) == ["ValueError"]


@pytest.mark.parametrize(
    ("x", "y", "maximum", "minimum"),
    [
        (3, 2, 3, 2),
        (2, 3, 3, 2),
        (1, 2.5, 2.5, 1),
        (3, 2.5, 3, 2.5),
        (-1.5, -1, -1, -1.5),
        (2, 2.0, 2, 2),
        (2.0, 2, 2.0, 2.0),
        (INT_MAX, INT_MAX - 1, INT_MAX, INT_MAX - 1),
    ],
)
def test_max_min_keep_the_chosen_operand_type(x: Any, y: Any, maximum: Any, minimum: Any) -> None:
    check(call("math.max", x, y), maximum)
    check(call("math.min", x, y), minimum)


@pytest.mark.parametrize(
    ("x", "expected"), [(2.7, 2), (-2.1, -3), (-2.0, -2), (5, 5), (0.0, 0), (-0.5, -1), (1e18, 10**18)]
)
def test_floor(x: Any, expected: int) -> None:
    check(call("math.floor", x), expected)


def test_floor_overflow() -> None:
    assert error_tags("math.floor", 1e19) == ["ValueError"]
    assert error_tags("math.floor", -1e300) == ["ValueError"]


@pytest.mark.parametrize("name", ["math.abs", "math.floor"])
@pytest.mark.parametrize("x", [True, False, "1", None, [1]])
def test_math_one_argument_types(name: str, x: Any) -> None:
    assert error_tags(name, x) == ["TypeError"]


@pytest.mark.parametrize("name", ["math.max", "math.min"])
@pytest.mark.parametrize(("x", "y"), [(True, 1), (1, False), ("1", 2), (1, None)])
def test_math_two_argument_types(name: str, x: Any, y: Any) -> None:
    assert error_tags(name, x, y) == ["TypeError"]


def test_math_arity() -> None:
    assert error_tags("math.max", 1) == ["TypeError"]
    assert error_tags("math.abs", 1, 2) == ["TypeError"]


# ------------------------------------------------------------------------ time


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((1720788633,), "2024-07-12T12:50:33.000000Z"),
        ((1720788633, "Europe/Paris"), "2024-07-12T14:50:33.000000+02:00"),
        ((1720788633, "GMT"), "2024-07-12T12:50:33.000000Z"),
        ((1720788633, "UTC"), "2024-07-12T12:50:33.000000Z"),
        ((1720788633, ""), "2024-07-12T12:50:33.000000Z"),
        ((1720788633, None), "2024-07-12T12:50:33.000000Z"),
        ((0,), "1970-01-01T00:00:00.000000Z"),
        ((1704903354.615087,), "2024-01-10T16:15:54.615087Z"),
        ((1704067200, "Europe/Paris"), "2024-01-01T01:00:00.000000+01:00"),
        ((1704067200, "America/New_York"), "2023-12-31T19:00:00.000000-05:00"),
        ((1704067200, "Asia/Kolkata"), "2024-01-01T05:30:00.000000+05:30"),
        ((1704067200, "Europe/London"), "2024-01-01T00:00:00.000000Z"),
        ((-1.5,), "1969-12-31T23:59:58.500000Z"),
        ((0.5,), "1970-01-01T00:00:00.500000Z"),
        ((-62135596800,), "0001-01-01T00:00:00.000000Z"),
    ],
)
def test_time_format(args: tuple[Any, ...], expected: str) -> None:
    assert call("time.format", *args) == expected


@pytest.mark.parametrize("zone", ["Nope/Zone", "Europe", "../etc/passwd", "/etc/localtime", "+02:00"])
def test_time_format_unknown_zone(zone: str) -> None:
    assert error_tags("time.format", 0, zone) == ["ValueError"]


@pytest.mark.parametrize("seconds", [10**12, -(10**12), 1e300])
def test_time_format_out_of_range(seconds: Any) -> None:
    assert error_tags("time.format", seconds) == ["ValueError"]


def test_time_format_types() -> None:
    assert error_tags("time.format", "0") == ["TypeError"]
    assert error_tags("time.format", True) == ["TypeError"]
    assert error_tags("time.format", 0, 1) == ["TypeError"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1970-01-01T00:01:00Z", 60.0),
        ("2024-05-08T12:01:00.000000Z", 1715169660.0),
        ("2024-05-08T14:01:00+02:00", 1715169660.0),
        ("2024-05-08T07:01:00-05:00", 1715169660.0),
        ("2024-05-08t12:01:00z", 1715169660.0),
        ("1970-01-01T00:00:00.5Z", 0.5),
        ("1970-01-01T00:00:00.123456789Z", 0.123456789),
        ("1969-12-31T23:59:59.75Z", -0.25),
        ("2024-02-29T00:00:00Z", 1709164800.0),
    ],
)
def test_time_parse(text: str, expected: float) -> None:
    check(call("time.parse", text), expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "yesterday",
        "2024-05-08",
        "2024-05-08T12:01:00",  # no offset
        "2024-05-08 12:01:00Z",
        "2024-13-01T00:00:00Z",
        "2023-02-29T00:00:00Z",
        "2024-05-08T24:00:00Z",
        "2024-05-08T12:01:60Z",
        "2024-05-08T12:01:00+24:00",
        "2024-05-08T12:01:00+02:60",
        "2024-05-08T12:01:00.Z",
        "0000-01-01T00:00:00Z",
        "2024-05-08T12:01:00Z ",
        "\uff12\uff10\uff12\uff14-05-08T12:01:00Z",  # full-width digits
    ],
)
def test_time_parse_invalid(text: str) -> None:
    assert error_tags("time.parse", text) == ["ValueError"]


def test_time_parse_types() -> None:
    assert error_tags("time.parse", 0) == ["TypeError"]


@pytest.mark.parametrize("seconds", [0, 1720788633, 1704903354.615087, -1.5])
def test_time_round_trip(seconds: float) -> None:
    text = call("time.format", seconds, "Europe/Paris")
    assert call("time.parse", text) == pytest.approx(seconds, abs=1e-6)


# ------------------------------------------------------------------------ uuid


class FakeContext:
    """The only part of `CallContext` that uuid.generate uses."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)


def generate(ctx: FakeContext) -> Any:
    fn = REGISTRY.functions["uuid.generate"]
    assert fn.context is True
    return fn.impl(ctx, *fn.bind_positional([]))


def test_uuid_is_version_4() -> None:
    text = generate(FakeContext(1))
    assert isinstance(text, str)
    assert len(text) == 36
    parsed = uuid.UUID(text)
    assert parsed.version == 4
    assert parsed.variant == uuid.RFC_4122
    assert str(parsed) == text


def test_uuid_is_deterministic_per_seed() -> None:
    first, second = FakeContext(7), FakeContext(7)
    run_a = [generate(first) for _ in range(5)]
    run_b = [generate(second) for _ in range(5)]
    assert run_a == run_b
    assert len(set(run_a)) == 5
    assert generate(FakeContext(8)) != run_a[0]


def test_uuid_takes_no_arguments() -> None:
    fn = REGISTRY.functions["uuid.generate"]
    with pytest.raises(WorkflowError) as info:
        fn.bind_positional([1])
    assert list(info.value.tags) == ["TypeError"]


# ----------------------------------------------------------------------- retry


def test_retry_predicates() -> None:
    assert pytest_wfcallbacks.stdlib.retrylib.DEFAULT_BACKOFF is REGISTRY.constants["retry.default_backoff"]
    error = {"message": "boom", "tags": ["HttpError"]}
    assert call("retry.always", error) is True
    assert call("retry.never", error) is False
    assert call("retry.always", "raised string") is True
    assert error_tags("retry.always") == ["TypeError"]


def test_retry_default_backoff() -> None:
    backoff = REGISTRY.constants["retry.default_backoff"]
    assert backoff == {"initial_delay": 1, "max_delay": 60, "multiplier": 1.25}
    assert type(backoff["initial_delay"]) is int
    assert type(backoff["multiplier"]) is float
    assert REGISTRY.is_module("retry")


def test_time_module_loaded() -> None:
    assert pytest_wfcallbacks.stdlib.timelib.__name__.endswith("timelib")

"""The ``text`` module (docs/semantics.md §4.5), called through the registry."""

from __future__ import annotations

from typing import Any

import pytest

import pytest_wfcallbacks.stdlib.textlib  # noqa: F401  (registers the text.* functions)
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


# ------------------------------------------------------------- encode / decode


def test_encode_decode_round_trip() -> None:
    data = call("text.encode", "hé")
    assert data == b"h\xc3\xa9"
    assert call("text.decode", data) == "hé"


@pytest.mark.parametrize("charset", ["UTF-8", "utf-8", "US-ASCII", "ISO-8859-2", "ISO-8859-1"])
def test_encode_with_charsets(charset: str) -> None:
    assert call("text.decode", call("text.encode", "abc", charset), charset) == "abc"


def test_latin1_bytes() -> None:
    assert call("text.encode", "é", "ISO-8859-1") == b"\xe9"
    assert call("text.decode", b"\xe9", "ISO-8859-1") == "é"


def test_decode_replaces_bad_bytes() -> None:
    assert call("text.decode", b"a\xffb") == "a\ufffdb"


def test_encode_unrepresentable_character() -> None:
    assert error_tags("text.encode", "é", "US-ASCII") == ["ValueError"]


@pytest.mark.parametrize("charset", ["NOPE-42", "rot13", "base64", "", "\x00", "\ud800", "utf\x008"])
def test_unknown_charset(charset: str) -> None:
    assert error_tags("text.encode", "a", charset) == ["ValueError"]
    assert error_tags("text.decode", b"a", charset) == ["ValueError"]


def test_encode_decode_types() -> None:
    assert error_tags("text.decode", "not bytes") == ["TypeError"]
    assert error_tags("text.encode", b"bytes") == ["TypeError"]
    assert error_tags("text.encode", "a", 8) == ["TypeError"]


def test_null_charset_means_default() -> None:
    assert call("text.encode", "é", None) == b"\xc3\xa9"
    assert call_named("text.encode", text="é") == b"\xc3\xa9"


# -------------------------------------------------------------------- find_all


@pytest.mark.parametrize(
    ("source", "substr", "expected"),
    [
        ("00000", "00", [0, 2]),
        ("Hello World", "l", [2, 3, 9]),
        ("abc", "z", []),
        ("ééxéx", "x", [2, 4]),
        ("😀a😀a", "a", [1, 3]),
        ("", "a", []),
        ("ab", "", [0, 1, 2]),
    ],
)
def test_find_all(source: str, substr: str, expected: list[int]) -> None:
    result = call("text.find_all", source, substr)
    assert result == expected
    assert all(type(i) is int for i in result)


def test_find_all_types() -> None:
    assert error_tags("text.find_all", "abc", 1) == ["TypeError"]
    assert error_tags("text.find_all", ["a"], "a") == ["TypeError"]
    assert error_tags("text.find_all", "abc") == ["TypeError"]


# -------------------------------------------------------------- find_all_regex


def test_find_all_regex_vectors() -> None:
    assert call("text.find_all_regex", "HelloWorld", "Hello|World") == [
        {"index": 0, "match": "Hello"},
        {"index": 5, "match": "World"},
    ]
    assert call("text.find_all_regex", "a1b22", "[0-9]+") == [
        {"index": 1, "match": "1"},
        {"index": 3, "match": "22"},
    ]
    assert call("text.find_all_regex", "abc", "[0-9]") == []


def test_find_all_regex_longest_at_equal_start() -> None:
    # RE2 leftmost-longest: "HelloWorld" wins over "Hello", which the alternation lists first.
    assert call("text.find_all_regex", "HelloWorld", "Hello|HelloWorld") == [{"index": 0, "match": "HelloWorld"}]


def test_find_all_regex_code_point_indexes() -> None:
    assert call("text.find_all_regex", "ééx😀yx", "x") == [{"index": 2, "match": "x"}, {"index": 5, "match": "x"}]
    assert call("text.find_all_regex", "aéb", "é") == [{"index": 1, "match": "é"}]


@pytest.mark.parametrize("pattern", ["(", "[a-", "(?=a)", "a**", r"(a)\1"])
def test_find_all_regex_invalid_pattern(pattern: str) -> None:
    # Lookarounds and backreferences are not RE2.
    assert error_tags("text.find_all_regex", "abc", pattern) == ["ValueError"]


def test_find_all_regex_types() -> None:
    assert error_tags("text.find_all_regex", "abc", 1) == ["TypeError"]
    assert error_tags("text.find_all_regex", None, "a") == ["TypeError"]


# ----------------------------------------------------------------- match_regex


@pytest.mark.parametrize(
    ("source", "pattern", "expected"),
    [
        ("order-123", "[0-9]+", True),
        ("order", "[0-9]+", False),
        ("abc", "^b", False),
        ("abc", "b", True),
        ("ÉTÉ", "(?i)été", True),
        ("", "", True),
    ],
)
def test_match_regex(source: str, pattern: str, expected: bool) -> None:
    assert call("text.match_regex", source, pattern) is expected


def test_match_regex_invalid() -> None:
    assert error_tags("text.match_regex", "abc", "(") == ["ValueError"]
    assert error_tags("text.match_regex", "abc", True) == ["TypeError"]


# ----------------------------------------------------------------- replace_all


@pytest.mark.parametrize(
    ("source", "substr", "repl", "expected"),
    [
        ("a.b.c", ".", "/", "a/b/c"),
        ("aaa", "aa", "b", "ba"),
        ("abc", "z", "y", "abc"),
        ("ab", "", "-", "-a-b-"),
        ("a$1a", "a", r"\1", r"\1$1\1"),
    ],
)
def test_replace_all(source: str, substr: str, repl: str, expected: str) -> None:
    assert call("text.replace_all", source, substr, repl) == expected


def test_replace_all_types() -> None:
    assert error_tags("text.replace_all", "a", "a", 1) == ["TypeError"]


# ----------------------------------------------------------- replace_all_regex


@pytest.mark.parametrize(
    ("source", "pattern", "repl", "expected"),
    [
        ("one two", "one|two", "three", "three three"),
        ("ab", "(a)", "\\1", "\\1b"),
        ("ab", "(a)", "$1", "$1b"),
        ("ab", "(?P<x>a)", r"\g<x>", r"\g<x>b"),
        ("aé", "", "-", "-a-é-"),
        ("HelloWorld", "Hello|HelloWorld", "X", "X"),
        ("x😀y", "😀", "_", "x_y"),
    ],
)
def test_replace_all_regex(source: str, pattern: str, repl: str, expected: str) -> None:
    assert call("text.replace_all_regex", source, pattern, repl) == expected


def test_replace_all_regex_invalid() -> None:
    assert error_tags("text.replace_all_regex", "ab", "(", "x") == ["ValueError"]
    assert error_tags("text.replace_all_regex", "ab", "a", None) == ["TypeError"]


# ----------------------------------------------------------------------- split


@pytest.mark.parametrize(
    ("source", "separator", "expected"),
    [
        ("x-y-z", "-", ["x", "y", "z"]),
        ("x--y", "-", ["x", "", "y"]),
        ("-x-", "-", ["", "x", ""]),
        ("abc", ",", ["abc"]),
        ("", ",", [""]),
        ("héllo", "", ["h", "é", "l", "l", "o"]),
        ("a::b", "::", ["a", "b"]),
    ],
)
def test_split(source: str, separator: str, expected: list[str]) -> None:
    assert call("text.split", source, separator) == expected


def test_split_types() -> None:
    assert error_tags("text.split", "a,b", None) == ["TypeError"]


# ------------------------------------------------------------------- substring


@pytest.mark.parametrize(
    ("source", "start", "end", "expected"),
    [
        ("workflows", 4, 9, "flows"),
        ("workflows", 0, 4, "work"),
        ("héllo", 1, 3, "él"),
        ("😀😁😂", 1, 2, "😁"),
        ("abc", -5, 2, "ab"),
        ("abc", 1, 100, "bc"),
        ("abc", 2, 1, ""),
        ("abc", 2, 2, ""),
        ("abc", 5, 9, ""),
        ("abc", -3, -1, ""),
    ],
)
def test_substring(source: str, start: int, end: int, expected: str) -> None:
    assert call("text.substring", source, start, end) == expected


@pytest.mark.parametrize(("start", "end"), [(1.0, 2), (True, 2), (0, "2"), (0, None)])
def test_substring_indexes_must_be_integers(start: Any, end: Any) -> None:
    assert error_tags("text.substring", "abc", start, end) == ["TypeError"]


# ------------------------------------------------------------------- case maps


def test_case() -> None:
    assert call("text.to_upper", "abc") == "ABC"
    assert call("text.to_lower", "ABC") == "abc"
    assert call("text.to_upper", "été") == "ÉTÉ"
    assert call("text.to_lower", "ÉTÉ") == "été"
    assert error_tags("text.to_upper", 1) == ["TypeError"]


# -------------------------------------------------------------------- url_*


def test_url_encode_vectors() -> None:
    assert call("text.url_encode", "a/b/c?item=d+e f") == "a%2Fb%2Fc%3Fitem%3Dd%2Be%20f"
    assert call("text.url_encode_plus", "a/b/c?item=d+e f") == "a%2Fb%2Fc%3Fitem%3Dd%2Be+f"
    assert call("text.url_encode", "a~b c") == "a%7Eb%20c"
    assert call("text.url_encode_plus", "a~b") == "a%7Eb"


def test_url_encode_keeps_only_unreserved() -> None:
    assert call("text.url_encode", "AZaz09.-_") == "AZaz09.-_"
    assert call("text.url_encode", "é") == "%C3%A9"
    assert call("text.url_encode", "*'()!") == "%2A%27%28%29%21"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a%2Fb%20c", "a/b c"),
        ("a%2Fb%2Fc%3Fitem%3Dd%2Be", "a/b/c?item=d+e"),
        ("d+e", "d e"),
        ("%C3%a9", "é"),
        ("plain", "plain"),
    ],
)
def test_url_decode(source: str, expected: str) -> None:
    assert call("text.url_decode", source) == expected


@pytest.mark.parametrize("source", ["%", "a%2", "%zz", "%C3", "100%"])
def test_url_decode_bad_escapes(source: str) -> None:
    assert error_tags("text.url_decode", source) == ["ValueError"]


def test_url_round_trip() -> None:
    source = "a/b?c=d&e=f g~h+é😀"
    assert call("text.url_decode", call("text.url_encode", source)) == source
    assert call("text.url_decode", call("text.url_encode_plus", source)) == source


def test_url_types() -> None:
    assert error_tags("text.url_encode", None) == ["TypeError"]
    assert error_tags("text.url_decode", 1) == ["TypeError"]


# ---------------------------------------------------------------- named calls


def test_named_arguments_use_documented_names() -> None:
    assert call_named("text.find_all", source="aXa", substr="a") == [0, 2]
    assert call_named("text.substring", source="abc", start=1, end=3) == "bc"
    assert call_named("text.replace_all_regex", source="ab", regexp="b", repl="c") == "ac"
    with pytest.raises(WorkflowError) as info:
        call_named("text.split", source="a", sep=",")
    assert list(info.value.tags) == ["TypeError"]

"""The ``base64``, ``json`` and ``hash`` modules (docs/semantics.md §4.4, §4.6, §4.7), called through the registry."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import pytest_wfcallbacks.stdlib.encoding  # noqa: F401  (registers base64.*, json.*, hash.*)
from pytest_wfcallbacks.errors import WorkflowError
from pytest_wfcallbacks.stdlib.registry import REGISTRY, FunctionRef
from pytest_wfcallbacks.values import INT_MAX, INT_MIN, values_equal


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


# ---------------------------------------------------------------------- base64


def test_base64_encode() -> None:
    assert call("base64.encode", b"hi") == "aGk="
    assert call("base64.encode", b"hi", False) == "aGk"
    assert call("base64.encode", b"") == ""
    assert call("base64.encode", b"\xfb\xff") == "+/8="
    assert call("base64.encode", b"Hello World") == "SGVsbG8gV29ybGQ="


def test_base64_decode() -> None:
    assert call("base64.decode", "SGVsbG8gV29ybGQ=") == b"Hello World"
    assert call("base64.decode", "aGk", False) == b"hi"
    assert call("base64.decode", "d29y\r\na2Zsb3dz") == b"workflows"
    assert call("base64.decode", "") == b""
    assert call("base64.decode", "+/8=") == b"\xfb\xff"


@pytest.mark.parametrize(
    ("data", "padding"),
    [
        ("aGk", True),  # unpadded while padding is expected
        ("aGk=", False),  # padding character while padding is off
        ("a", False),  # impossible length
        ("a===", True),
        ("====", True),
        ("aG=k", True),
        ("aGk*", True),
        ("-_8=", True),  # URL-safe alphabet is not the standard one
        ("aGk= ", True),
        ("éGk=", True),
    ],
)
def test_base64_decode_invalid(data: str, padding: bool) -> None:
    assert error_tags("base64.decode", data, padding) == ["ValueError"]


def test_base64_types() -> None:
    assert error_tags("base64.encode", "text") == ["TypeError"]
    assert error_tags("base64.encode", b"x", 1) == ["TypeError"]
    assert error_tags("base64.decode", b"aGk=") == ["TypeError"]


@given(st.binary(max_size=64), st.booleans())
def test_base64_round_trip(data: bytes, padding: bool) -> None:
    assert call("base64.decode", call("base64.encode", data, padding), padding) == data


# ------------------------------------------------------------------------ json


def test_json_decode() -> None:
    assert call("json.decode", '{"a": [1, true, null]}') == {"a": [1, True, None]}
    assert call("json.decode", b'{"b": 2.5}') == {"b": 2.5}
    assert call("json.decode", '"h\\u00e9"') == "hé"
    assert call("json.decode", "3") == 3
    assert type(call("json.decode", "3")) is int
    assert type(call("json.decode", "3.0")) is float
    assert list(call("json.decode", '{"z": 1, "a": 2}')) == ["z", "a"]


@pytest.mark.parametrize(
    "data", ["{oops", "", "[1,]", "NaN", "Infinity", "-Infinity", "1e400", "[-1e999]", "9223372036854775808", b"\xff"]
)
def test_json_decode_invalid(data: str | bytes) -> None:
    assert error_tags("json.decode", data) == ["ValueError"]


def test_json_decode_types() -> None:
    assert error_tags("json.decode", 1) == ["TypeError"]
    assert error_tags("json.decode", None) == ["TypeError"]


def test_json_encode_compact() -> None:
    assert call("json.encode_to_string", [1, "a", {"b": 2.5}]) == '[1,"a",{"b":2.5}]'
    assert call("json.encode_to_string", {"a": [1, 2]}) == '{"a":[1,2]}'
    assert call("json.encode_to_string", {"x": 2.0, "y": None, "z": False}) == '{"x":2.0,"y":null,"z":false}'
    assert call("json.encode_to_string", "é") == '"é"'


def test_json_encode_gives_bytes() -> None:
    result = call("json.encode", {"a": "é"})
    assert type(result) is bytes
    assert result == '{"a":"é"}'.encode()


def test_json_encode_indent_true() -> None:
    assert call("json.encode_to_string", {"a": [1, 2]}, True) == '{\n    "a": [\n        1,\n        2\n    ]\n}'
    assert call("json.encode_to_string", {"a": 1}, {}) == '{\n    "a": 1\n}'


def test_json_encode_indent_false_and_null() -> None:
    assert call("json.encode_to_string", {"a": [1]}, False) == '{"a":[1]}'
    assert call("json.encode_to_string", {"a": [1]}, None) == '{"a":[1]}'


def test_json_encode_indent_map() -> None:
    assert call("json.encode_to_string", [1, {"b": 2}], {"indent": "\t"}) == '[\n\t1,\n\t{\n\t\t"b": 2\n\t}\n]'
    assert call("json.encode_to_string", {"a": 1}, {"prefix": "> ", "indent": " "}) == '{\n>  "a": 1\n> }'
    assert call("json.encode", {"a": 1}, {"prefix": "#"}) == b'{\n#    "a": 1\n#}'


def test_json_encode_indent_errors() -> None:
    assert error_tags("json.encode_to_string", {"a": 1}, {"indent": 2}) == ["TypeError"]
    assert error_tags("json.encode_to_string", {"a": 1}, {"spaces": "  "}) == ["ValueError"]
    assert error_tags("json.encode_to_string", {"a": 1}, "  ") == ["TypeError"]
    assert error_tags("json.encode_to_string", {"a": 1}, 4) == ["TypeError"]


@pytest.mark.parametrize("data", [b"bytes", {"a": [b"x"]}, FunctionRef("retry.always"), float("nan"), [float("inf")]])
def test_json_encode_unencodable(data: Any) -> None:
    assert error_tags("json.encode", data) == ["ValueError"]
    assert error_tags("json.encode_to_string", data) == ["ValueError"]


def test_json_named_arguments() -> None:
    assert call_named("json.encode_to_string", data=[1]) == "[1]"
    assert call_named("json.decode", data="[1]") == [1]


_KEYS = st.text(max_size=8)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=INT_MIN, max_value=INT_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=16)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_KEYS, children, max_size=4),
    max_leaves=20,
)


def _same_types(left: Any, right: Any) -> bool:
    if type(left) is not type(right):
        return False
    if type(left) is list:
        return len(left) == len(right) and all(_same_types(a, b) for a, b in zip(left, right))
    if type(left) is dict:
        return list(left) == list(right) and all(_same_types(left[k], right[k]) for k in left)
    return True


@given(_VALUES, st.sampled_from([False, True, {"indent": "\t", "prefix": " "}]))
def test_json_round_trip(value: Any, indent: Any) -> None:
    text = call("json.encode_to_string", value, indent)
    decoded = call("json.decode", text)
    assert values_equal(decoded, value)
    assert _same_types(decoded, value)
    assert call("json.decode", call("json.encode", value, indent)) == decoded


# ------------------------------------------------------------------------ hash


def test_checksum_vectors() -> None:
    digest = call("hash.compute_checksum", b"abc", "SHA256")
    assert call("base64.encode", digest) == "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    digest = call("hash.compute_checksum", b"Hello World", "SHA256")
    assert call("base64.encode", digest) == "pZGm1Av0IEBKARczz7exkNYsZb8LzaMrV7J32a2fFG4="


@pytest.mark.parametrize(
    ("algorithm", "size"), [("MD5", 16), ("SHA1", 20), ("SHA224", 28), ("SHA256", 32), ("SHA384", 48), ("SHA512", 64)]
)
def test_checksum_algorithms(algorithm: str, size: int) -> None:
    digest = call("hash.compute_checksum", b"data", algorithm)
    assert len(digest) == size
    assert digest == hashlib.new(algorithm.lower(), b"data").digest()


def test_hmac_key_comes_first() -> None:
    result = call("hash.compute_hmac", b"key", b"The quick brown fox jumps over the lazy dog", "SHA256")
    assert result.hex() == "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    assert call("hash.compute_hmac", b"k", b"d", "MD5") == hmac.new(b"k", b"d", "md5").digest()
    assert call("hash.compute_hmac", b"k", b"d", "MD5") != call("hash.compute_hmac", b"d", b"k", "MD5")


@pytest.mark.parametrize("algorithm", ["sha256", "SHA-256", "CRC32", "", "BLAKE2B"])
def test_unknown_algorithm(algorithm: str) -> None:
    assert error_tags("hash.compute_checksum", b"x", algorithm) == ["ValueError"]
    assert error_tags("hash.compute_hmac", b"k", b"x", algorithm) == ["ValueError"]


def test_hash_types() -> None:
    assert error_tags("hash.compute_checksum", "text", "SHA256") == ["TypeError"]
    assert error_tags("hash.compute_checksum", b"x", 256) == ["TypeError"]
    assert error_tags("hash.compute_hmac", "key", b"x", "SHA256") == ["TypeError"]
    assert error_tags("hash.compute_hmac", b"key", b"x") == ["TypeError"]

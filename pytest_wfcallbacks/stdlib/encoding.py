"""The ``base64``, ``json`` and ``hash`` modules.

JSON text follows docs/decisions.md #31 through `values.json_encode` / `values.json_decode`:
compact separators, insertion order, non-ASCII written as is, doubles always
with a point or exponent, and NaN or infinities rejected.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import math
import re
from typing import Any

from ..errors import type_error, value_error
from ..values import json_decode, json_encode, type_name
from .registry import REGISTRY, param

# --------------------------------------------------------------------- base64

_BASE64_CHARS = re.compile(r"[A-Za-z0-9+/]*")


@REGISTRY.function("base64.encode", param("data", "bytes"), param("padding", "boolean", default=True))
def base64_encode(data: bytes, padding: bool) -> str:
    """Standard-alphabet Base64 text of ``data``, with ``=`` padding unless ``padding`` is false."""
    text = binascii.b2a_base64(data, newline=False).decode("ascii")
    return text if padding else text.rstrip("=")


@REGISTRY.function("base64.decode", param("data", "string"), param("padding", "boolean", default=True))
def base64_decode(data: str, padding: bool) -> bytes:
    """Bytes from standard-alphabet Base64 text; ``\\r`` and ``\\n`` are ignored.

    With ``padding`` true the input must be padded to a multiple of four characters;
    with ``padding`` false it must not contain ``=``. Anything else is a ValueError.
    """
    text = data.replace("\r", "").replace("\n", "")
    body = text.rstrip("=") if padding else text
    pad = len(text) - len(body)
    if _BASE64_CHARS.fullmatch(body) is None:
        raise value_error("base64.decode: characters outside the Base64 alphabet")
    if len(body) % 4 == 1:
        raise value_error("base64.decode: truncated input")
    if padding:
        if len(text) % 4 != 0 or pad > 2:
            raise value_error("base64.decode: input is not padded to a multiple of 4 characters")
    else:
        text = body + "=" * (-len(body) % 4)
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError) as exc:
        raise value_error(f"base64.decode: {exc}") from None


# ----------------------------------------------------------------------- json


def _check_finite(value: Any) -> None:
    kind = type(value)
    if kind is float:
        if math.isinf(value) or math.isnan(value):
            raise value_error("invalid JSON: number out of range for a double")
    elif kind is list:
        for item in value:
            _check_finite(item)
    elif kind is dict:
        for item in value.values():
            _check_finite(item)


@REGISTRY.function("json.decode", param("data", "string", "bytes"))
def decode(data: str | bytes) -> Any:
    """Parse JSON text (a string, or UTF-8 bytes) into a Workflows value; invalid JSON is a ValueError."""
    try:
        value = json_decode(data)
        # json.loads turns 1e400 into an infinity; Workflows has no such double.
        _check_finite(value)
    except RecursionError:
        raise value_error("invalid JSON: nested too deeply") from None
    return value


def _indent_options(indent: bool | dict[str, Any]) -> tuple[str, str] | None:
    """``(indent, prefix)`` for an ``indent`` argument, or None for compact output."""
    if indent is False:
        return None
    if indent is True:
        return ("    ", "")
    unknown = [key for key in indent if key not in ("indent", "prefix")]
    if unknown:
        raise value_error(f"json.encode: unknown indent option(s) {', '.join(sorted(unknown))}")
    options: list[str] = []
    for key, fallback in (("indent", "    "), ("prefix", "")):
        option = indent.get(key, fallback)
        if option is None:
            option = fallback
        if type(option) is not str:
            raise type_error(f"json.encode: indent option {key!r} must be a string, got {type_name(option)}")
        options.append(option)
    return (options[0], options[1])


def _encode_chars(data: Any, indent: bool | dict[str, Any]) -> int:
    """A lower bound of the length of ``json.encode``'s text, computed without building it.

    A ``prefix`` or ``indent`` repeats on every line, so a short list encoded with a long
    prefix asks for a text thousands of times its size; refusing a bound past the string
    limit keeps that allocation from happening (`Function.result_chars`).
    """
    options = _indent_options(indent)
    step, prefix = (len(options[0]), len(options[1])) if options is not None else (0, 0)
    newline = 1 if options is not None else 0
    total = 0
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, level = stack.pop()
        kind = type(value)
        if kind is str:
            total += len(value) + 2
        elif kind is list or kind is dict:
            count = len(value)
            total += 2 + max(count - 1, 0)
            if count and newline:
                total += count * (1 + prefix + (level + 1) * step) + 1 + prefix + level * step
            if kind is dict:
                for key, item in value.items():
                    total += len(key) + 3
                    stack.append((item, level + 1))
            else:
                stack.extend((item, level + 1) for item in value)
        else:
            total += 1
    return total


def _encode_text(data: Any, indent: bool | dict[str, Any]) -> str:
    options = _indent_options(indent)
    try:
        if options is None:
            return json_encode(data)
        return json_encode(data, indent=options[0], prefix=options[1])
    except RecursionError:
        raise value_error("json.encode: value nested too deeply") from None


@REGISTRY.function("json.encode", param("data"), param("indent", "boolean", "map", default=False),
                   result_chars=_encode_chars)
def encode(data: Any, indent: bool | dict[str, Any]) -> bytes:
    """JSON text of ``data`` as UTF-8 bytes (see `encode_to_string` for ``indent``)."""
    text = _encode_text(data, indent)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise value_error("json.encode: a string is not valid UTF-8 text") from None


@REGISTRY.function("json.encode_to_string", param("data"), param("indent", "boolean", "map", default=False),
                   result_chars=_encode_chars)
def encode_to_string(data: Any, indent: bool | dict[str, Any]) -> str:
    """JSON text of ``data``.

    ``indent`` false or absent gives compact output; true is the same as ``{}``; a map
    may set ``prefix`` (default empty) and ``indent`` (default four spaces).
    """
    return _encode_text(data, indent)


# ----------------------------------------------------------------------- hash

_ALGORITHMS = {
    "MD5": "md5",
    "SHA1": "sha1",
    "SHA224": "sha224",
    "SHA256": "sha256",
    "SHA384": "sha384",
    "SHA512": "sha512",
}


def _algorithm(name: str) -> str:
    try:
        return _ALGORITHMS[name]
    except KeyError:
        supported = ", ".join(_ALGORITHMS)
        raise value_error(f"unsupported hash algorithm {name!r} (supported: {supported})") from None


@REGISTRY.function("hash.compute_checksum", param("data", "bytes"), param("algorithm", "string"))
def compute_checksum(data: bytes, algorithm: str) -> bytes:
    """Digest of ``data`` with MD5, SHA1, SHA224, SHA256, SHA384 or SHA512."""
    return hashlib.new(_algorithm(algorithm), data).digest()


@REGISTRY.function("hash.compute_hmac", param("key", "bytes"), param("data", "bytes"), param("algorithm", "string"))
def compute_hmac(key: bytes, data: bytes, algorithm: str) -> bytes:
    """HMAC of ``data`` under ``key`` (key first) with the given hash algorithm."""
    return hmac.new(key, data, _algorithm(algorithm)).digest()


__all__ = [
    "base64_decode",
    "base64_encode",
    "compute_checksum",
    "compute_hmac",
    "decode",
    "encode",
    "encode_to_string",
]

"""The ``text`` module: encoding, searching, regular expressions (RE2), splitting and URL escaping.

Every index is a code-point index. Regular expressions use RE2 syntax through
the ``google-re2`` package, in leftmost-longest mode: when matches overlap the
leftmost wins, and among matches starting at the same index the longest one
(as the Workflows reference describes for ``find_all_regex`` and
``replace_all_regex``). Replacement strings are literal: ``\\1`` is not a
backreference.
"""

from __future__ import annotations

import codecs
import functools
import re
import urllib.parse
from typing import Any, Protocol, cast

import re2

from ..errors import value_error
from .registry import REGISTRY, param


class _Match(Protocol):
    def start(self) -> int: ...

    def group(self) -> str: ...


class _Pattern(Protocol):
    def finditer(self, text: str) -> Any: ...

    def search(self, text: str) -> _Match | None: ...

    def sub(self, repl: Any, text: str) -> str: ...


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> _Pattern:
    options = re2.Options()
    options.longest_match = True
    options.log_errors = False
    try:
        return cast("_Pattern", re2.compile(pattern, options))
    except re2.error as exc:
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise value_error(f"invalid regular expression {pattern!r}: {detail}") from None
    except UnicodeError:
        raise value_error("the regular expression is not valid UTF-8") from None


def _check_utf8(source: str, what: str = "source") -> None:
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:
        raise value_error(f"{what} is not valid UTF-8 text") from None


def _codec(charset: str) -> codecs.CodecInfo:
    try:
        info = codecs.lookup(charset)
    except (LookupError, ValueError):  # NUL or lone surrogates in the name: not even looked up
        raise value_error(f"unsupported charset {charset!r}") from None
    if not getattr(info, "_is_text_encoding", True):
        raise value_error(f"unsupported charset {charset!r}")
    return info


@REGISTRY.function("text.decode", param("data", "bytes"), param("charset", "string", default="UTF-8"))
def decode(data: bytes, charset: str) -> str:
    """Decode bytes in the given charset; undecodable bytes become U+FFFD."""
    info = _codec(charset)
    try:
        return info.decode(data, "replace")[0]
    except (UnicodeError, ValueError, TypeError) as exc:
        raise value_error(f"cannot decode data as {charset}: {exc}") from None


@REGISTRY.function("text.encode", param("text", "string"), param("charset", "string", default="UTF-8"))
def encode(text: str, charset: str) -> bytes:
    """Encode text in the given charset; characters the charset cannot represent are a ValueError."""
    info = _codec(charset)
    try:
        return info.encode(text, "strict")[0]
    except (UnicodeError, ValueError, TypeError) as exc:
        raise value_error(f"cannot encode text as {charset}: {exc}") from None


@REGISTRY.function("text.find_all", param("source", "string"), param("substr", "string"))
def find_all(source: str, substr: str) -> list[int]:
    """Code-point indexes of the non-overlapping occurrences of ``substr``, left to right.

    An empty ``substr`` matches at every index from 0 to ``len(source)``.
    """
    if not substr:
        return list(range(len(source) + 1))
    found: list[int] = []
    index = source.find(substr)
    while index >= 0:
        found.append(index)
        index = source.find(substr, index + len(substr))
    return found


@REGISTRY.function("text.find_all_regex", param("source", "string"), param("regexp", "string"))
def find_all_regex(source: str, regexp: str) -> list[dict[str, Any]]:
    """Every non-overlapping match as ``{"index": <code point>, "match": <text>}``, sorted by index."""
    pattern = _regex(regexp)
    _check_utf8(source)
    return [{"index": m.start(), "match": m.group()} for m in pattern.finditer(source)]


@REGISTRY.function("text.match_regex", param("source", "string"), param("regexp", "string"))
def match_regex(source: str, regexp: str) -> bool:
    """True when the pattern matches anywhere in ``source`` (a search, not a full match)."""
    pattern = _regex(regexp)
    _check_utf8(source)
    return pattern.search(source) is not None


def _replace_all_chars(source: str, substr: str, repl: str) -> int:
    # str.count of "" is len + 1: one insertion between every code point and at both ends.
    return len(source) + source.count(substr) * (len(repl) - len(substr))


def _replace_all_regex_chars(source: str, regexp: str, repl: str) -> int:
    # An upper bound that needs no matching: every match removes at least nothing and adds
    # ``repl``; a pattern matches at most once per position (len + 1 for empty matches).
    # Exact only when it matters: the count is taken when the bound passes the limit.
    bound = len(source) + (len(source) + 1) * len(repl)
    if bound <= 65_536:
        return bound
    pattern = _regex(regexp)
    total = len(source)
    for match in pattern.finditer(source):
        total += len(repl) - (match.end() - match.start())
    return total


@REGISTRY.function("text.replace_all", param("source", "string"), param("substr", "string"), param("repl", "string"),
                   result_chars=_replace_all_chars)
def replace_all(source: str, substr: str, repl: str) -> str:
    """Replace every occurrence of ``substr`` literally (an empty ``substr`` matches between code points)."""
    return source.replace(substr, repl)


@REGISTRY.function(
    "text.replace_all_regex", param("source", "string"), param("regexp", "string"), param("repl", "string"),
    result_chars=_replace_all_regex_chars,
)
def replace_all_regex(source: str, regexp: str, repl: str) -> str:
    """Replace every match with ``repl`` taken literally (no backreferences)."""
    pattern = _regex(regexp)
    _check_utf8(source)
    _check_utf8(repl, "repl")
    return pattern.sub(lambda _match: repl, source)


@REGISTRY.function("text.split", param("source", "string"), param("separator", "string"))
def split(source: str, separator: str) -> list[str]:
    """Split on every occurrence of ``separator``; an empty separator splits into code points."""
    if not separator:
        return list(source)
    return source.split(separator)


@REGISTRY.function("text.substring", param("source", "string"), param("start", "integer"), param("end", "integer"))
def substring(source: str, start: int, end: int) -> str:
    """Code points ``start`` (inclusive) to ``end`` (exclusive), both clamped to ``[0, len]``."""
    length = len(source)
    start = min(max(start, 0), length)
    end = min(max(end, 0), length)
    if start >= end:
        return ""
    return source[start:end]


@REGISTRY.function("text.to_lower", param("source", "string"))
def to_lower(source: str) -> str:
    """Lower-case copy (Unicode case mapping)."""
    return source.lower()


@REGISTRY.function("text.to_upper", param("source", "string"))
def to_upper(source: str) -> str:
    """Upper-case copy (Unicode case mapping)."""
    return source.upper()


def _quote(source: str, *, plus: bool) -> str:
    try:
        quoted = urllib.parse.quote_plus(source, safe="") if plus else urllib.parse.quote(source, safe="")
    except UnicodeEncodeError:
        raise value_error("source is not valid UTF-8 text") from None
    # urllib leaves "~" unescaped; Workflows escapes everything but letters, digits, ".", "-" and "_".
    return quoted.replace("~", "%7E")


@REGISTRY.function("text.url_encode", param("source", "string"))
def url_encode(source: str) -> str:
    """Percent-encode the UTF-8 bytes of everything except ASCII letters, digits, ``.``, ``-``, ``_``."""
    return _quote(source, plus=False)


@REGISTRY.function("text.url_encode_plus", param("source", "string"))
def url_encode_plus(source: str) -> str:
    """Like ``text.url_encode`` but a space becomes ``+``."""
    return _quote(source, plus=True)


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


@REGISTRY.function("text.url_decode", param("source", "string"))
def url_decode(source: str) -> str:
    """Decode ``%xx`` escapes (as UTF-8) and ``+`` (as a space).

    A ``%`` not followed by two hex digits, or escapes that are not valid UTF-8, are a ValueError.
    """
    bad = _BAD_ESCAPE.search(source)
    if bad is not None:
        raise value_error(f"invalid percent escape at index {bad.start()} in {source!r}")
    try:
        raw = urllib.parse.unquote_to_bytes(source.replace("+", " "))
        return raw.decode("utf-8")
    except UnicodeError:
        raise value_error(f"percent escapes in {source!r} are not valid UTF-8") from None


__all__ = [
    "decode",
    "encode",
    "find_all",
    "find_all_regex",
    "match_regex",
    "replace_all",
    "replace_all_regex",
    "split",
    "substring",
    "to_lower",
    "to_upper",
    "url_decode",
    "url_encode",
    "url_encode_plus",
]

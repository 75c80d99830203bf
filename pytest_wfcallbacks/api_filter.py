"""The ``filter`` of ``executions.list``: the AIP-160 filtering language, as the Executions API reads it.

The Executions API reference names the fields a filter may use (``executionId``,
``state``, ``createTime``, ``startTime``, ``endTime``, ``duration``,
``workflowRevisionId``, ``stepName``, ``label``) and points at AIP-160 for the
syntax, with the example ``state="SUCCEEDED" OR startTime>"2023-08-01" AND
state="FAILED"``. AIP-160's grammar, which this module follows::

    expression  = sequence { "AND" sequence }
    sequence    = factor { factor }              (juxtaposition also means AND)
    factor      = term { "OR" term }             (OR binds tighter than AND)
    term        = [ "NOT" | "-" ] simple
    simple      = restriction | "(" expression ")"
    restriction = member [ comparator value ]    comparator: = != < <= > >= :
    member      = name { "." name }

Values are quoted strings or bare words. Timestamps are RFC 3339 (a date alone,
as in the reference's example, means its midnight UTC); durations are seconds
with an ``s`` suffix (``"90s"``, ``"1.5s"``). ``labels.KEY`` compares one label,
``labels:KEY`` asks whether the label is set; ``*`` in a string value is a
wildcard. What this double does not implement (global text search, functions,
``stepName``, ``disableConcurrencyQuotaOverflowBuffering``) is refused with a 400
naming it, never guessed at.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: Fields a filter may name (``labels.KEY`` aside), and the comparators each allows.
_ORDERED = ("=", "!=", "<", "<=", ">", ">=", ":")
_EQUALITY = ("=", "!=", ":")
FIELDS: dict[str, tuple[str, ...]] = {
    "executionId": _EQUALITY,
    "name": _EQUALITY,
    "workflowRevisionId": _EQUALITY,
    "state": _EQUALITY,
    "createTime": _ORDERED,
    "startTime": _ORDERED,
    "endTime": _ORDERED,
    "duration": _ORDERED,
}
_UNSUPPORTED_FIELDS = ("stepName", "disableConcurrencyQuotaOverflowBuffering")
STATES = ("STATE_UNSPECIFIED", "ACTIVE", "SUCCEEDED", "FAILED", "CANCELLED", "UNAVAILABLE", "QUEUED")
_MAX_LENGTH = 10_000
_MAX_DEPTH = 32

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op><=|>=|!=|=|<|>|:)
  | (?P<paren>[()])
  | (?P<word>[^\s()"'=<>!:]+)
""", re.VERBOSE)


class FilterError(ValueError):
    """A filter this API refuses: the message says what and how to write it instead."""


#: What a filter reads of one execution: the FIELDS above (times in epoch nanoseconds, endTime None while
#: running), ``labels`` (a map).
Record = Mapping[str, Any]
Predicate = Callable[[Record], bool]


@dataclass(frozen=True)
class _Token:
    kind: str  # "string", "op", "paren", "word", "end"
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise FilterError(f"unexpected {text[position]!r} at character {position + 1}")
        kind = match.lastgroup or ""
        if kind != "space":
            found.append(_Token(kind, match.group(), position))
        position = match.end()
    found.append(_Token("end", "", len(text)))
    return found


def _unquote(token: _Token) -> str:
    body = token.text[1:-1]
    return re.sub(r"\\(.)", lambda m: m.group(1), body)


class _Parser:
    def __init__(self, text: str, restrict: Callable[[str, str, str], Predicate] | None = None) -> None:
        # What one ``FIELD OP VALUE`` means: the executions fields by default (stepEntries.list passes its own).
        self.restrict = restrict or _restriction
        self.tokens = _tokens(text)
        self.index = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Predicate:
        predicate = self.expression()
        token = self.peek()
        if token.kind != "end":
            raise FilterError(f"unexpected {token.text!r} at character {token.position + 1}")
        return predicate

    def expression(self) -> Predicate:
        parts = [self.sequence()]
        while self.peek().kind == "word" and self.peek().text == "AND":
            self.take()
            parts.append(self.sequence())
        return _all(parts)

    def sequence(self) -> Predicate:
        parts = [self.factor()]
        while self.peek().kind not in ("end",) and not (self.peek().kind == "paren" and self.peek().text == ")") \
                and not (self.peek().kind == "word" and self.peek().text == "AND"):
            parts.append(self.factor())
        return _all(parts)

    def factor(self) -> Predicate:
        parts = [self.term()]
        while self.peek().kind == "word" and self.peek().text == "OR":
            self.take()
            parts.append(self.term())
        if len(parts) == 1:
            return parts[0]
        return lambda record: any(part(record) for part in parts)

    def term(self) -> Predicate:
        token = self.peek()
        if token.kind == "word" and token.text in ("NOT", "-"):
            self.take()
            inner = self.simple()
            return lambda record: not inner(record)
        if token.kind == "word" and token.text.startswith("-") and len(token.text) > 1:
            # "-state=..." : the minus sign written against the member
            self.tokens[self.index] = _Token("word", token.text[1:], token.position + 1)
            inner = self.simple()
            return lambda record: not inner(record)
        return self.simple()

    def simple(self) -> Predicate:
        token = self.peek()
        if token.kind == "paren" and token.text == "(":
            self.take()
            self.depth += 1
            if self.depth > _MAX_DEPTH:
                raise FilterError(f"parentheses nested deeper than {_MAX_DEPTH} levels")
            inner = self.expression()
            closing = self.take()
            if closing.kind != "paren" or closing.text != ")":
                raise FilterError(f"missing ')' for the '(' at character {token.position + 1}")
            self.depth -= 1
            return inner
        return self.restriction()

    def restriction(self) -> Predicate:
        token = self.take()
        if token.kind == "end":
            raise FilterError("the filter ends where a restriction (FIELD OP VALUE) was expected")
        if token.kind != "word":
            raise FilterError(f"expected a field name at character {token.position + 1}, got {token.text!r}")
        if token.text in ("AND", "OR", "NOT"):
            raise FilterError(f"{token.text} at character {token.position + 1} has nothing before or after it")
        member = token.text
        if self.peek().kind == "paren" and self.peek().text == "(":
            raise FilterError(f"functions such as {member}(...) are not supported in this filter")
        op = self.peek()
        if op.kind != "op":
            raise FilterError(f"{member!r} alone (a global text search) is not supported: write FIELD OP VALUE, "
                              'e.g. state="ACTIVE"')
        self.take()
        value_token = self.take()
        if value_token.kind == "string":
            value = _unquote(value_token)
        elif value_token.kind == "word" and value_token.text not in ("AND", "OR", "NOT"):
            value = value_token.text
        else:
            raise FilterError(f"{member}{op.text} needs a value at character {value_token.position + 1}")
        return self.restrict(member, op.text, value)


def _all(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    return lambda record: all(part(record) for part in parts)


def _text_match(op: str, actual: str | None, wanted: str) -> bool:
    if actual is None:
        return op == "!="
    equal = fnmatch.fnmatchcase(actual, wanted) if "*" in wanted else actual == wanted
    return not equal if op == "!=" else equal


def _ordered(op: str, actual: int | None, wanted: int) -> bool:
    if actual is None:  # an execution still running has no endTime: no comparison holds but !=
        return op == "!="
    return {
        "=": actual == wanted, ":": actual == wanted, "!=": actual != wanted,
        "<": actual < wanted, "<=": actual <= wanted, ">": actual > wanted, ">=": actual >= wanted,
    }[op]


def parse_time(text: str) -> int:
    """Epoch nanoseconds of an RFC 3339 timestamp or a date (midnight UTC); FilterError when malformed."""
    match = re.fullmatch(r"(?P<date>\d{4}-\d\d-\d\d)(?:[Tt ](?P<time>\d\d:\d\d:\d\d)(?:\.(?P<frac>\d{1,9}))?"
                         r"(?P<zone>[Zz]|[+-]\d\d:\d\d))?", text.strip())
    if match is None:
        raise FilterError(f"{text!r} is not a timestamp: write RFC 3339, e.g. \"2026-01-01T00:00:00Z\", "
                          "or a date, e.g. \"2026-01-01\"")
    zone = (match.group("zone") or "+00:00").upper().replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(f"{match.group('date')}T{match.group('time') or '00:00:00'}{zone}")
    except ValueError:
        raise FilterError(f"{text!r} is not a valid date or time") from None
    seconds = int(moment.timestamp())
    return seconds * 1_000_000_000 + int((match.group("frac") or "").ljust(9, "0"))


def parse_duration(text: str) -> int:
    """Nanoseconds of a protobuf JSON duration (``"90s"``, ``"1.5s"``); FilterError when malformed."""
    match = re.fullmatch(r"(?P<whole>\d{1,12})(?:\.(?P<frac>\d{1,9}))?s", text.strip())
    if match is None:
        raise FilterError(f"{text!r} is not a duration: write seconds with an 's', e.g. \"90s\" or \"1.5s\"")
    return int(match.group("whole")) * 1_000_000_000 + int((match.group("frac") or "").ljust(9, "0"))


def _restriction(member: str, op: str, value: str) -> Predicate:
    if member in ("labels", "label"):
        if op != ":":
            raise FilterError(f"{member}{op}... is not supported: use labels.KEY=\"value\" or labels:KEY")
        return lambda record: value in record["labels"]
    for prefix in ("labels.", "label."):
        if member.startswith(prefix):
            key = member[len(prefix):]
            if not key:
                raise FilterError(f"{member!r} names no label: write labels.KEY")
            if op not in _EQUALITY:
                raise FilterError(f"labels support =, != and :, not {op}")
            if op == ":" and value == "*":
                return lambda record: key in record["labels"]
            return lambda record: _text_match(op, record["labels"].get(key), value)
    if member in _UNSUPPORTED_FIELDS:
        raise FilterError(f"filtering on {member} is not supported by pytest-wfcallbacks")
    allowed = FIELDS.get(member)
    if allowed is None:
        raise FilterError(f"filtering on {member!r} is not supported: use {', '.join(FIELDS)} or labels.KEY")
    if op not in allowed:
        raise FilterError(f"{member} supports {', '.join(allowed)}, not {op}")
    if member == "state":
        if value not in STATES:
            raise FilterError(f"state {value!r} is not one of {', '.join(STATES)}")
        return lambda record: _text_match(op, record["state"], value)
    if member in ("executionId", "name", "workflowRevisionId"):
        return lambda record: _text_match(op, record[member], value)
    wanted = parse_duration(value) if member == "duration" else parse_time(value)
    return lambda record: _ordered(op, record[member], wanted)


def compile_filter(text: str, restrict: Callable[[str, str, str], Predicate] | None = None) -> Predicate:
    """A predicate over execution records for an ``executions.list`` filter; FilterError when refused.

    ``restrict(member, op, value)`` builds the predicate of one restriction, for another
    resource's fields (``stepEntries.list``); `text_match` and `ordered` compare values.
    """
    if not text.strip():
        return lambda record: True
    if len(text) > _MAX_LENGTH:
        raise FilterError(f"the filter is longer than {_MAX_LENGTH} characters")
    return _Parser(text, restrict).parse()


#: Public names of the comparisons, for other resources' restrictions.
text_match = _text_match
ordered = _ordered


__all__ = ["FIELDS", "STATES", "FilterError", "Predicate", "Record", "compile_filter", "ordered", "parse_duration",
           "parse_time", "text_match"]

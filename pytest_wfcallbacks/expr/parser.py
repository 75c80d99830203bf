"""Lexer and Pratt parser for the Workflows expression language (the text inside ``${...}``).

Precedence follows the official table (docs/semantics.md §3.3), highest first::

    ( )   . []   not   unary -   * / // %   + -   < <= >= > == != in   and   or

so ``not a == b`` is ``(not a) == b`` and comparisons, including ``in``, share
one left-associative level (``a < b < c`` is ``(a < b) < c``). Logical
keywords are all lower case or all upper case (``and``/``AND``, not ``And``).

The parser never evaluates anything; it returns a tree of `Node` values and
raises `ExprSyntaxError` with the 0-based offset of the offending character.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Binary",
    "Call",
    "ExprSyntaxError",
    "Index",
    "ListLit",
    "Literal",
    "MapLit",
    "Member",
    "Node",
    "Token",
    "Unary",
    "Var",
    "parse_expression",
    "tokenize",
]


class ExprSyntaxError(Exception):
    """A malformed expression; ``offset`` is 0-based in the expression text."""

    def __init__(self, message: str, offset: int) -> None:
        self.message = message
        self.offset = offset
        super().__init__(f"{message} (at offset {offset})")


@dataclass(frozen=True, slots=True)
class Token:
    """One lexical token: ``kind`` is NUMBER, STRING, NAME, OP, KEYWORD or END."""

    kind: str
    value: Any
    pos: int


_KEYWORDS = {
    "and": "and", "AND": "and", "or": "or", "OR": "or", "not": "not", "NOT": "not", "in": "in", "IN": "in",
    "true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False, "null": None,
}
_TWO_CHAR_OPS = ("//", "==", "!=", "<=", ">=")
_ONE_CHAR_OPS = "+-*/%<>()[]{},.:"
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _read_string(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(out), i + 1
        if ch == "\\":
            if i + 1 >= len(text):
                break
            esc = text[i + 1]
            if esc in _ESCAPES:
                out.append(_ESCAPES[esc])
                i += 2
                continue
            if esc == "u":
                digits = text[i + 2 : i + 6]
                if len(digits) == 4 and all(c in "0123456789abcdefABCDEF" for c in digits):
                    out.append(chr(int(digits, 16)))
                    i += 6
                    continue
                raise ExprSyntaxError("\\u must be followed by four hex digits", i)
            raise ExprSyntaxError(f"unknown escape sequence \\{esc} in a string", i)
        out.append(ch)
        i += 1
    raise ExprSyntaxError("unterminated string: add the closing quote", start)


_DIGITS = "0123456789"
#: Deepest nesting of brackets and prefix operators (keeps the parser, the compiler
#: and the compiled closures far from Python's recursion limit).
MAX_NESTING = 100


def _read_number(text: str, start: int) -> tuple[Any, int]:
    # ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() rejects or misreads.
    i = start
    while i < len(text) and text[i] in _DIGITS:
        i += 1
    is_double = False
    if i < len(text) and text[i] == "." and i + 1 < len(text) and text[i + 1] in _DIGITS:
        is_double = True
        i += 1
        while i < len(text) and text[i] in _DIGITS:
            i += 1
    if i < len(text) and text[i] in "eE":
        j = i + 1
        if j < len(text) and text[j] in "+-":
            j += 1
        if j < len(text) and text[j] in _DIGITS:
            is_double = True
            i = j
            while i < len(text) and text[i] in _DIGITS:
                i += 1
    if i < len(text) and (text[i].isalnum() or text[i] == "_"):
        raise ExprSyntaxError(f"invalid number literal {text[start:i + 1]!r}", start)
    literal = text[start:i]
    if is_double:
        return float(literal), i
    if len(literal.lstrip("0")) > 19:
        # Longer than any 64-bit integer (and than int()'s digit limit for huge literals).
        raise ExprSyntaxError(f"integer literal {literal[:25]}... does not fit in 64 bits", start)
    return int(literal), i


def tokenize(text: str) -> list[Token]:
    """Split an expression into tokens; raises `ExprSyntaxError` on a bad character."""
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch in _DIGITS:
            value, end = _read_number(text, i)
            tokens.append(Token("NUMBER", value, i))
            i = end
            continue
        if ch in "\"'":
            value, end = _read_string(text, i)
            tokens.append(Token("STRING", value, i))
            i = end
            continue
        if ch.isalpha() or ch == "_":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            if word in _KEYWORDS:
                tokens.append(Token("KEYWORD", word, i))
            else:
                tokens.append(Token("NAME", word, i))
            i = j
            continue
        two = text[i : i + 2]
        if two in _TWO_CHAR_OPS:
            tokens.append(Token("OP", two, i))
            i += 2
            continue
        if ch in _ONE_CHAR_OPS:
            tokens.append(Token("OP", ch, i))
            i += 1
            continue
        if ch == "=":
            raise ExprSyntaxError("'=' is not an operator: use '==' to compare (assignments go in an assign step)", i)
        if ch in "&|!":
            hint = {"&": "and", "|": "or", "!": "not"}[ch]
            raise ExprSyntaxError(f"unexpected character {ch!r}: use the keyword '{hint}'", i)
        raise ExprSyntaxError(f"unexpected character {ch!r}", i)
    tokens.append(Token("END", None, n))
    return tokens


# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True, slots=True)
class Node:
    """Base of the expression tree; ``pos`` is the 0-based offset of the node's first token."""

    pos: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    """A constant: number, string, boolean or null."""

    value: Any


@dataclass(frozen=True, slots=True)
class Var(Node):
    """A variable (or module / subworkflow name) reference."""

    name: str


@dataclass(frozen=True, slots=True)
class Member(Node):
    """``obj.name``."""

    obj: Node
    name: str


@dataclass(frozen=True, slots=True)
class Index(Node):
    """``obj[index]``."""

    obj: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    """``name(args...)`` where name is dotted (``text.split``) or a subworkflow."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Unary(Node):
    """``-x`` or ``not x``."""

    op: str
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    """``left op right``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class ListLit(Node):
    """``[a, b]``."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapLit(Node):
    """``{"k": v}``; keys are expressions that must evaluate to strings."""

    pairs: tuple[tuple[Node, Node], ...]


# --------------------------------------------------------------------------- parser

_INFIX_POWER = {
    "or": 10,
    "and": 20,
    "==": 30, "!=": 30, "<": 30, "<=": 30, ">": 30, ">=": 30, "in": 30,
    "+": 40, "-": 40,
    "*": 50, "/": 50, "//": 50, "%": 50,
    ".": 90, "[": 90, "(": 90,
}
_NOT_POWER = 70
_NEG_POWER = 60


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def expect(self, op: str) -> Token:
        token = self.peek()
        if token.kind == "OP" and token.value == op:
            return self.advance()
        found = "the end of the expression" if token.kind == "END" else repr(str(token.value))
        raise ExprSyntaxError(f"expected {op!r}, found {found}", token.pos)

    def parse(self) -> Node:
        if self.peek().kind == "END":
            raise ExprSyntaxError("empty expression: write something between ${ and }", 0)
        node = self.expression(0)
        token = self.peek()
        if token.kind != "END":
            raise ExprSyntaxError(f"unexpected {str(token.value)!r} after a complete expression", token.pos)
        return node

    @staticmethod
    def infix_op(token: Token) -> str | None:
        if token.kind == "OP" and token.value in _INFIX_POWER:
            return str(token.value)
        if token.kind == "KEYWORD" and _KEYWORDS[token.value] in ("and", "or", "in"):
            return str(_KEYWORDS[token.value])
        return None

    def expression(self, rbp: int) -> Node:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ExprSyntaxError(
                f"expression nested more than {MAX_NESTING} levels deep: split it over several assign steps",
                self.peek().pos,
            )
        left = self.prefix()
        while True:
            token = self.peek()
            op = self.infix_op(token)
            if op is None or _INFIX_POWER[op] <= rbp:
                self.depth -= 1
                return left
            self.advance()
            left = self.infix(op, token, left)

    def prefix(self) -> Node:
        token = self.advance()
        kind, value, pos = token.kind, token.value, token.pos
        if kind in ("NUMBER", "STRING"):
            return Literal(pos, value)
        if kind == "KEYWORD":
            meaning = _KEYWORDS[value]
            if meaning == "not":
                return Unary(pos, "not", self.expression(_NOT_POWER))
            if meaning in (True, False, None):
                return Literal(pos, meaning)
            raise ExprSyntaxError(f"{value!r} needs a value on its left", pos)
        if kind == "NAME":
            return Var(pos, value)
        if kind == "OP":
            if value == "-":
                operand = self.expression(_NEG_POWER)
                if isinstance(operand, Literal) and type(operand.value) in (int, float):
                    return Literal(pos, -operand.value)
                return Unary(pos, "-", operand)
            if value == "(":
                inner = self.expression(0)
                self.expect(")")
                return inner
            if value == "[":
                return ListLit(pos, tuple(self.sequence("]")))
            if value == "{":
                return self.map_literal(pos)
        if kind == "END":
            raise ExprSyntaxError("the expression ends too early: a value is missing", pos)
        raise ExprSyntaxError(f"unexpected {str(value)!r}: a value was expected here", pos)

    def sequence(self, closer: str) -> list[Node]:
        items: list[Node] = []
        if self.peek().kind == "OP" and self.peek().value == closer:
            self.advance()
            return items
        while True:
            items.append(self.expression(0))
            token = self.peek()
            if token.kind == "OP" and token.value == ",":
                self.advance()
                continue
            self.expect(closer)
            return items

    def map_literal(self, pos: int) -> Node:
        pairs: list[tuple[Node, Node]] = []
        if self.peek().kind == "OP" and self.peek().value == "}":
            self.advance()
            return MapLit(pos, ())
        while True:
            key = self.expression(0)
            self.expect(":")
            pairs.append((key, self.expression(0)))
            token = self.peek()
            if token.kind == "OP" and token.value == ",":
                self.advance()
                continue
            self.expect("}")
            return MapLit(pos, tuple(pairs))

    def infix(self, op: str, token: Token, left: Node) -> Node:
        if op == ".":
            name = self.advance()
            if name.kind == "NAME":
                return Member(left.pos, left, name.value)
            if name.kind == "KEYWORD":  # `m.in`, `m.true` are still plain keys
                return Member(left.pos, left, name.value)
            raise ExprSyntaxError("a key name must follow '.'", name.pos)
        if op == "[":
            index = self.expression(0)
            self.expect("]")
            return Index(left.pos, left, index)
        if op == "(":
            callee = _dotted_name(left)
            if callee is None:
                raise ExprSyntaxError("only functions and subworkflows can be called", token.pos)
            return Call(left.pos, callee, tuple(self.sequence(")")))
        right = self.expression(_INFIX_POWER[op])
        return Binary(token.pos, op, left, right)


def _dotted_name(node: Node) -> str | None:
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Member):
        base = _dotted_name(node.obj)
        return None if base is None else f"{base}.{node.name}"
    return None


def parse_expression(text: str) -> Node:
    """Parse the text inside ``${...}`` into a tree."""
    return _Parser(text).parse()

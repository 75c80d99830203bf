"""Property tests (Hypothesis) for the expression language and the standard library.

* The parser raises nothing but `ExprSyntaxError`, whatever the text.
* Compiling and evaluating generated expressions (operators, literals of every
  type, variables, every non-blocking standard-library function) either gives a
  Workflows value or raises `WorkflowError` carrying a built-in Workflows tag;
  never a bare Python exception and never an internal ``SystemError``.
* 64-bit integer arithmetic matches Python's exactly inside the range and is a
  ValueError outside it.
* Through a real runtime, a failing expression ends the execution FAILED with
  the same tags.

The JSON round trip ``json.decode(json.encode_to_string(v)) == v`` is in
tests/test_stdlib_encoding.py (``test_json_round_trip``). Example counts are
kept small so the file runs in a few seconds.
"""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_wfcallbacks import WorkflowRuntime
from pytest_wfcallbacks.errors import WorkflowError
from pytest_wfcallbacks.expr import CompileContext, CompileError, ExprSyntaxError, compile_expression, parse_expression
from pytest_wfcallbacks.server import WorkflowServer
from pytest_wfcallbacks.stdlib import load_all
from pytest_wfcallbacks.stdlib.registry import Function, FunctionRef
from pytest_wfcallbacks.values import INT_MAX, INT_MIN, key_error

REGISTRY = load_all()
CONTEXT = CompileContext(REGISTRY, {})
#: The tags a built-in error may carry when an expression fails (docs/semantics.md §5.2).
EXPRESSION_TAGS = {"TypeError", "ValueError", "KeyError", "IndexError", "ZeroDivisionError"}
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class FakeFrame:
    """The smallest frame compiled expressions accept: fixed variables, no subworkflows."""

    implicit_string_concat = False
    string_limit = 256 * 1024

    def __init__(self, variables: dict[str, Any]) -> None:
        self.variables = variables
        self.random = random.Random(7)

    def lookup(self, name: str) -> Any:
        if name in self.variables:
            return self.variables[name]
        raise key_error(name)

    def call(self, function: Function, args: list[Any]) -> Any:
        if function.context:
            return function.impl(self, *args)
        return function.impl(*args)

    def call_subworkflow(self, name: str, args: list[Any]) -> Any:
        raise AssertionError("no subworkflows in these tests")

    def now(self) -> float:
        return 1_767_225_600.25

    def get_env(self, name: str) -> str | None:
        return {"GOOGLE_CLOUD_PROJECT_ID": "test-project"}.get(name)


VARIABLES: dict[str, Any] = {
    "i": 7,
    "neg": -3,
    "big": INT_MAX,
    "small": INT_MIN,
    "d": 2.5,
    "s": "héllo, wörld",
    "t": True,
    "f": False,
    "n": None,
    "l": [1, 2.0, "x", None, [True]],
    "m": {"a": 1, "b": {"c": [1, 2]}, "": "empty"},
    "b": b"\x00\xffbytes",
    "e": [],
}


def is_workflows_value(value: Any) -> bool:
    kind = type(value)
    if value is None or kind in (bool, str, bytes, FunctionRef):
        return True
    if kind is int:
        return bool(INT_MIN <= value <= INT_MAX)
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(is_workflows_value(item) for item in value)
    if kind is dict:
        return all(type(key) is str and is_workflows_value(item) for key, item in value.items())
    return False


# ------------------------------------------------------------------ the parser

_TOKENS = [
    "1",
    "0",
    "9223372036854775807",
    "9223372036854775808",
    "1.5",
    "2e3",
    "1e",
    ".",
    "..",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "!",
    "&",
    "|",
    "and",
    "AND",
    "And",
    "or",
    "not",
    "in",
    "true",
    "False",
    "null",
    "x",
    "m.k",
    "len",
    "text.split",
    '"',
    "'",
    '"s"',
    "'q'",
    '"\\n"',
    '"\\u00e9"',
    '"\\u12"',
    '"\\q"',
    "\\",
    " ",
    "\t",
    "\n",
    "${",
    "}",
    "é",
    "٣",
    "_",
    "$",
]


#: Inputs that once escaped the parser as bare Python errors: non-ASCII digits that
#: ``str.isdigit()`` accepts and ``int()`` rejects ("²"), integer literals past Python's
#: 4,300-digit limit, and nesting deep enough to exhaust the Python stack.
PARSER_EDGES = [
    pytest.param("²", id="superscript-digit"),
    pytest.param("1" * 5000, id="5000-digit-literal"),
    pytest.param("[" * 400 + "]" * 400, id="400-nested-lists"),
    pytest.param("-" * 400 + "1", id="400-unary-minus"),
]


@pytest.mark.parametrize("text", PARSER_EDGES)
def test_parser_edge_inputs_are_syntax_errors(text: str) -> None:
    with pytest.raises(ExprSyntaxError):
        parse_expression(text)


@FAST
@given(st.text(max_size=80) | st.lists(st.sampled_from(_TOKENS), max_size=25).map("".join))
def test_parser_raises_only_syntax_errors(text: str) -> None:
    try:
        parse_expression(text)
    except ExprSyntaxError as error:
        problem = error
    else:
        return
    assert 0 <= problem.offset <= len(text)
    assert problem.message


# ------------------------------------------------------------------ generated expressions

_INT_LITERALS = st.sampled_from([0, 1, 2, 7, -1, -7, 10, 63, INT_MAX, INT_MIN, INT_MAX // 2]) | st.integers(
    min_value=INT_MIN, max_value=INT_MAX
)
_DOUBLE_LITERALS = st.sampled_from([0.0, 0.5, -2.5, 1e308, 1e-308, 3.0]) | st.floats(
    allow_nan=False, allow_infinity=False
)
_STRING_LITERALS = st.sampled_from(
    [
        "",
        "a",
        "abc",
        "[0-9]+",
        "(",
        ",",
        "UTF-8",
        "MD5",
        "SHA256",
        "2024-07-12T12:50:33Z",
        "Europe/Paris",
        '{"a": [1, 2.5]}',
        "%zz",
        "aGk=",
        "\\1",
    ]
) | st.text(max_size=8)


def _literal(value: Any) -> str:
    if type(value) is str:
        return json.dumps(value, ensure_ascii=False)
    if type(value) is float:
        text = repr(value)
        return f"({text})" if value < 0 else text
    if type(value) is int:
        return f"({value})" if value < 0 else str(value)
    raise AssertionError(value)


_ATOMS = st.one_of(
    _INT_LITERALS.map(_literal),
    _DOUBLE_LITERALS.map(_literal),
    _STRING_LITERALS.map(_literal),
    st.sampled_from(
        [
            "true",
            "FALSE",
            "null",
            "[]",
            "{}",
            *VARIABLES,
            "m.a",
            "m.b.c",
            'm["b"]',
            "l[0]",
            "l[4][0]",
            "retry.default_backoff",
            "retry.always",
        ]
    ),
)
_BINARY = ["+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=", "in", "and", "or", "AND", "OR"]
_FUNCTIONS = sorted(name for name, function in REGISTRY.functions.items() if not function.blocking)


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(children, st.sampled_from(_BINARY), children).map(lambda p: f"({p[0]} {p[1]} {p[2]})")
    unary = st.tuples(st.sampled_from(["-", "not ", "NOT "]), children).map(lambda p: f"{p[0]}({p[1]})")
    listing = st.lists(children, max_size=3).map(lambda items: "[" + ", ".join(items) + "]")
    mapping = st.lists(st.tuples(children, children), max_size=3).map(
        lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    )
    index = st.tuples(children, children).map(lambda p: f"({p[0]})[{p[1]}]")
    member = st.tuples(children, st.sampled_from(["a", "b", "k", "url"])).map(lambda p: f"({p[0]}).{p[1]}")
    call = st.sampled_from(_FUNCTIONS).flatmap(
        lambda name: st.lists(children, max_size=len(REGISTRY.functions[name].params)).map(
            lambda args: f"{name}({', '.join(args)})"
        )
    )
    return binary | unary | listing | mapping | index | member | call


EXPRESSIONS = st.recursive(_ATOMS, _combine, max_leaves=8)


def _evaluate(text: str) -> tuple[str, Any]:
    """('value', v), ('error', tags) or ('deploy', message) for an expression text."""
    try:
        compiled = compile_expression(text, CONTEXT)
    except CompileError as error:
        return "deploy", error.message
    try:
        return "value", compiled.fn(FakeFrame(VARIABLES))
    except WorkflowError as error:
        return "error", error.value


@FAST
@given(EXPRESSIONS)
def test_evaluation_raises_only_workflows_errors(text: str) -> None:
    outcome, detail = _evaluate(text)
    if outcome == "value":
        assert is_workflows_value(detail), (text, detail)
    elif outcome == "error":
        assert isinstance(detail, dict), detail
        tags = detail["tags"]
        assert len(tags) == 1, (text, detail)
        assert tags[0] in EXPRESSION_TAGS, (text, detail)
        assert detail["message"].startswith(tags[0] + ": ")


@FAST
@given(EXPRESSIONS)
def test_evaluation_leaves_variables_unchanged(text: str) -> None:
    before = json.dumps(VARIABLES, default=repr)
    _evaluate(text)
    assert json.dumps(VARIABLES, default=repr) == before


_SCALAR_VALUES = st.none() | st.booleans() | _INT_LITERALS | _DOUBLE_LITERALS | _STRING_LITERALS | st.binary(max_size=8)
_ANY_VALUES = st.recursive(
    _SCALAR_VALUES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=6,
)
_MEANINGFUL_STRINGS = st.sampled_from(
    [
        "UTF-8",
        "utf-16",
        "latin-1",
        "ascii",
        "rot13",
        "hex",
        "base64",
        "MD5",
        "SHA512",
        "sha1",
        "Europe/Paris",
        "../etc",
        "Mars/Base",
        "",
        "[",
        "a|b",
        "(?P<x>a)",
        "\\C",
        "x*",
        "\\pL+",
        "2026-01-01T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999+14:00",
        "0001-01-01T00:00:00-23:59",
        "%",
        "%e9",
        "%C3%A9",
        "a+b",
        '{"a": 1}',
        "[1, 2",
        "1e400",
        "-0",
        "12345678901234567890",
        "\ud800",
        "aGk",
        "aGk=",
        "a===",
    ]
)
_TYPED: dict[str, st.SearchStrategy[Any]] = {
    "string": _STRING_LITERALS | _MEANINGFUL_STRINGS,
    "integer": _INT_LITERALS,
    "double": _DOUBLE_LITERALS,
    "number": _INT_LITERALS | _DOUBLE_LITERALS,
    "boolean": st.booleans(),
    "null": st.none(),
    "bytes": st.binary(max_size=12) | st.sampled_from([b"\xff\xfe", "é".encode("utf-16"), b"hi"]),
    "list": st.lists(_ANY_VALUES, max_size=4) | st.lists(_STRING_LITERALS, max_size=4),
    "map": st.dictionaries(st.text(max_size=3) | st.sampled_from(["url", "indent", "prefix"]), _ANY_VALUES, max_size=4),
    "any": _ANY_VALUES,
    "function": st.just(FunctionRef("retry.always")),
}


def _arguments(function: Function) -> st.SearchStrategy[list[Any]]:
    """Arguments mostly of the declared types (sometimes of any type), possibly fewer than declared."""
    per_param = [
        st.one_of(*(_TYPED[kind] for kind in spec.types)) | _ANY_VALUES if spec.types != ("any",) else _ANY_VALUES
        for spec in function.params
    ]
    return (
        st.integers(min_value=0, max_value=len(per_param))
        .flatmap(lambda count: st.tuples(*per_param[:count]))
        .map(list)
    )


@FAST
@given(st.sampled_from(_FUNCTIONS).flatmap(lambda name: st.tuples(st.just(name), _arguments(REGISTRY.functions[name]))))
def test_functions_raise_only_workflows_errors(call: tuple[str, list[Any]]) -> None:
    """Every non-blocking function, with arguments mostly of the right types, gives a value or a tagged error."""
    name, args = call
    function = REGISTRY.functions[name]
    frame = FakeFrame(VARIABLES)
    try:
        result = frame.call(function, function.bind_positional(args))
    except WorkflowError as error:
        problem = error.value
    else:
        assert is_workflows_value(result), (name, args, result)
        return
    assert isinstance(problem, dict), (name, args, problem)
    assert problem["tags"][0] in EXPRESSION_TAGS, (name, args, problem)


_INTS = st.integers(min_value=INT_MIN, max_value=INT_MAX) | st.sampled_from([INT_MIN, INT_MAX, -1, 0, 1, 2])


@FAST
@given(_INTS, st.sampled_from(["+", "-", "*", "//", "%"]), _INTS)
def test_integer_arithmetic_is_exact_or_overflows(a: int, op: str, b: int) -> None:
    expected = {"+": a + b, "-": a - b, "*": a * b, "//": a // b if b else None, "%": a % b if b else None}[op]
    outcome, detail = _evaluate(f"a {op} b".replace("a", _literal(a), 1).replace("b", _literal(b), 1))
    if expected is None:
        assert (outcome, detail["tags"]) == ("error", ["ZeroDivisionError"])
    elif INT_MIN <= expected <= INT_MAX:
        assert (outcome, type(detail), detail) == ("value", int, expected)
    else:
        assert (outcome, detail["tags"]) == ("error", ["ValueError"])


_RUNTIME_CASES = st.sampled_from(
    [
        "1 / 0",
        "[1][5]",
        "{}.k",
        '"a" < 1',
        "true + 1",
        "9223372036854775807 + 1",
        'int("x")',
        "not 1",
        'text.split(1, ",")',
        'json.decode("{")',
        "len(null)",
        '-"a"',
    ]
)


@settings(max_examples=12, deadline=None)
@given(_RUNTIME_CASES)
def test_runtime_reports_the_same_tags(workflow_server: WorkflowServer, text: str) -> None:
    """A failing expression ends the execution FAILED with the tag the compiled closure raised."""
    _, detail = _evaluate(text)
    with WorkflowRuntime(server=workflow_server) as runtime:
        execution = runtime.run([{"r": {"return": "${" + text + "}"}}])
    assert execution.state == "FAILED"
    assert execution.error["tags"] == detail["tags"]

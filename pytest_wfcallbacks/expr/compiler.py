"""Compile expression trees into Python closures, once, at deploy time.

Each node becomes a function ``f(frame) -> value``. The frame (the running
thread's view of variables) provides ``lookup(name)``, ``call(fn, args)`` for
standard-library functions, ``call_subworkflow(name, args)`` and
``implicit_string_concat``. No dictionaries of nodes are walked at run time and
no scope is copied: a variable read is one chain walk in the frame.

Every closure raises only `WorkflowError` (Workflows error values); Python
errors from operators are mapped to the Workflows tags here.

A compiled expression also says whether its value is *fresh*: built anew
(arithmetic, literals, most function results) or possibly shared with a
variable (a variable read, ``default(x, y)``...). The interpreter deep-copies
only values that are not fresh, which keeps Workflows' value semantics without
copying on every step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import type_error, wf_error
from ..stdlib.registry import Function, FunctionRef, Registry
from ..values import INT_MAX, INT_MIN, check_int, type_name, values_equal
from .parser import Binary, Call, Index, ListLit, Literal, MapLit, Member, Node, Unary, Var

Evaluator = Callable[[Any], Any]


class Frame(Protocol):
    """What compiled expressions need from the interpreter."""

    implicit_string_concat: bool
    #: The string limit in bytes (`Limits.string_bytes`), checked before a string is built.
    string_limit: int

    def lookup(self, name: str) -> Any:
        """Value of a variable; raises a KeyError Workflows error when unset."""
        ...

    def call(self, function: Function, args: list[Any]) -> Any:
        """Call a standard-library function with checked positional arguments."""
        ...

    def call_subworkflow(self, name: str, args: list[Any]) -> Any:
        """Run a subworkflow to completion (it may not block) and return its value."""
        ...


@dataclass(frozen=True)
class CompileContext:
    """What the compiler needs to resolve names: the registry and the routines of the workflow."""

    registry: Registry
    subworkflows: dict[str, tuple[str, ...]]


class CompileError(Exception):
    """A deploy-time problem in an expression (unknown function, blocking call...)."""

    def __init__(self, message: str, offset: int) -> None:
        self.message = message
        self.offset = offset
        super().__init__(message)


@dataclass(frozen=True)
class Compiled:
    """A compiled expression: evaluate with ``fn(frame)``."""

    fn: Evaluator
    fresh: bool
    text: str
    node: Node
    #: Variable names read (for deploy-time checks).
    reads: frozenset[str]
    #: Subworkflows called inside the expression.
    calls: frozenset[str]


#: Deepest expression tree compiled: evaluating a closure tree costs about one Python
#: frame per level, and the interpreter itself already sits some frames deep.
MAX_DEPTH = 200


def compile_node(node: Node, ctx: CompileContext, text: str = "") -> Compiled:
    """Compile a tree into a `Compiled` closure; raises `CompileError` for what a deploy rejects."""
    compiler = _Compiler(ctx)
    try:
        fn, fresh = compiler.compile(node)
    except RecursionError:
        raise CompileError(
            f"expression nested more than {MAX_DEPTH} levels deep: split it over several assign steps", node.pos
        ) from None
    return Compiled(fn, fresh, text, node, frozenset(compiler.reads), frozenset(compiler.calls))


def _dotted(node: Node) -> str | None:
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Member):
        base = _dotted(node.obj)
        return None if base is None else f"{base}.{node.name}"
    return None


class _Compiler:
    def __init__(self, ctx: CompileContext) -> None:
        self.ctx = ctx
        self.reads: set[str] = set()
        self.calls: set[str] = set()
        self.depth = 0

    def compile(self, node: Node) -> tuple[Evaluator, bool]:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise CompileError(
                f"expression nested more than {MAX_DEPTH} levels deep: split it over several assign steps", node.pos
            )
        try:
            return self.compile_one(node)
        finally:
            self.depth -= 1

    def compile_one(self, node: Node) -> tuple[Evaluator, bool]:
        if isinstance(node, Literal):
            value = node.value
            if type(value) is int and not INT_MIN <= value <= INT_MAX:
                # docs/decisions.md #19: a literal that does not fit in 64 bits is rejected at deploy.
                raise CompileError(
                    f"integer literal {value} is outside the signed 64-bit range "
                    f"[{INT_MIN}, {INT_MAX}]: use a double (e.g. {value}.0) if you need it",
                    node.pos,
                )
            if type(value) is float and not math.isfinite(value):
                raise CompileError(f"number literal out of the range of a double: {value}", node.pos)
            return (lambda fr: value), True
        if isinstance(node, Var):
            return self.var(node)
        if isinstance(node, Member):
            dotted = _dotted(node)
            if dotted is not None and "." in dotted:
                resolved = self.module_value(dotted)
                if resolved is not None:
                    return resolved
            return self.member(node)
        if isinstance(node, Index):
            return self.index(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Unary):
            return self.unary(node)
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, ListLit):
            parts = [self.compile(item) for item in node.items]
            fns = [fn for fn, _ in parts]
            return (lambda fr: [fn(fr) for fn in fns]), all(fresh for _, fresh in parts)
        if isinstance(node, MapLit):
            return self.map_literal(node)
        raise CompileError(f"unsupported expression node {type(node).__name__}", node.pos)

    def module_value(self, dotted: str) -> tuple[Evaluator, bool] | None:
        registry = self.ctx.registry
        if dotted in registry.constants:
            constant = registry.constants[dotted]
            from ..values import copy_value

            return (lambda fr: copy_value(constant)), True
        if dotted in registry.functions:
            ref = FunctionRef(dotted)
            return (lambda fr: ref), True
        root = dotted.split(".", 1)[0]
        if registry.is_module(root) and dotted.count(".") == 1:
            # `text.nope`: a module with no such member is almost always a typo.
            raise CompileError(f"unknown function or value {dotted!r} in module {root!r}", 0)
        return None

    def var(self, node: Var) -> tuple[Evaluator, bool]:
        name = node.name
        if name in self.ctx.subworkflows:
            ref = FunctionRef(name, subworkflow=True)

            def subworkflow_or_var(fr: Any) -> Any:
                try:
                    return fr.lookup(name)
                except Exception:
                    return ref

            return subworkflow_or_var, False
        if self.ctx.registry.is_module(name):
            raise CompileError(
                f"{name!r} is a standard-library module, not a value: "
                f"call one of its functions, e.g. {name}.<function>(...)",
                node.pos,
            )
        self.reads.add(name)
        return (lambda fr: fr.lookup(name)), False

    def member(self, node: Member) -> tuple[Evaluator, bool]:
        obj, _ = self.compile(node.obj)
        key = node.name

        def member(fr: Any) -> Any:
            value = obj(fr)
            if type(value) is dict:
                try:
                    return value[key]
                except KeyError:
                    raise wf_error("KeyError", f"key not found: {key}") from None
            raise type_error(f"cannot read the key {key!r} of a {type_name(value)}: only maps have keys")

        return member, False

    def index(self, node: Index) -> tuple[Evaluator, bool]:
        obj, _ = self.compile(node.obj)
        index, _ = self.compile(node.index)

        def subscript(fr: Any) -> Any:
            value = obj(fr)
            key = index(fr)
            kind = type(value)
            if kind is list:
                if type(key) is not int:
                    raise type_error(f"list index must be an integer, got {type_name(key)}")
                if key < 0 or key >= len(value):
                    raise wf_error("IndexError", f"list index {key} out of range (length {len(value)})")
                return value[key]
            if kind is dict:
                if type(key) is not str:
                    raise type_error(f"map key must be a string, got {type_name(key)}")
                try:
                    return value[key]
                except KeyError:
                    raise wf_error("KeyError", f"key not found: {key}") from None
            raise type_error(f"cannot index a {type_name(value)}: only lists and maps can be indexed")

        return subscript, False

    def call(self, node: Call) -> tuple[Evaluator, bool]:
        args = [self.compile(arg)[0] for arg in node.args]
        name = node.name
        if name in self.ctx.subworkflows:
            params = self.ctx.subworkflows[name]
            if len(args) > len(params):
                raise CompileError(
                    f"subworkflow {name!r} takes at most {len(params)} argument(s), {len(args)} given", node.pos
                )
            self.calls.add(name)
            return (lambda fr: fr.call_subworkflow(name, [a(fr) for a in args])), True
        function = self.ctx.registry.get(name)
        if function is None:
            raise CompileError(f"unknown function {name!r}: not a standard-library function or a subworkflow", node.pos)
        if function.blocking:
            raise CompileError(
                f"{name} is a blocking function and cannot be used in an expression; call it from a call step "
                f"(call: {name}, args: ..., result: ...)",
                node.pos,
            )
        if len(args) > len(function.params):
            raise CompileError(
                f"{name}() takes at most {len(function.params)} argument(s), {len(args)} given", node.pos
            )
        required = sum(1 for spec in function.params if spec.required)
        if len(args) < required:
            missing = ", ".join(spec.name for spec in function.params[len(args):] if spec.required)
            raise CompileError(
                f"{name}() needs at least {required} argument(s), {len(args)} given (missing: {missing})", node.pos
            )

        def call(fr: Any) -> Any:
            return fr.call(function, function.bind_positional([a(fr) for a in args]))

        return call, function.fresh

    def unary(self, node: Unary) -> tuple[Evaluator, bool]:
        operand, _ = self.compile(node.operand)
        if node.op == "not":

            def not_(fr: Any) -> Any:
                value = operand(fr)
                if type(value) is not bool:
                    raise type_error(f"'not' needs a boolean, got {type_name(value)}")
                return not value

            return not_, True

        def neg(fr: Any) -> Any:
            value = operand(fr)
            kind = type(value)
            if kind is int:
                return check_int(-value)
            if kind is float:
                return -value
            raise type_error(f"unary '-' needs a number, got {type_name(value)}")

        return neg, True

    def binary(self, node: Binary) -> tuple[Evaluator, bool]:
        left, _ = self.compile(node.left)
        right, _ = self.compile(node.right)
        op = node.op
        if op == "and":

            def and_(fr: Any) -> Any:
                a = left(fr)
                if type(a) is not bool:
                    raise type_error(f"'and' needs booleans, got {type_name(a)} on the left")
                if not a:
                    return False
                b = right(fr)
                if type(b) is not bool:
                    raise type_error(f"'and' needs booleans, got {type_name(b)} on the right")
                return b

            return and_, True
        if op == "or":

            def or_(fr: Any) -> Any:
                a = left(fr)
                if type(a) is not bool:
                    raise type_error(f"'or' needs booleans, got {type_name(a)} on the left")
                if a:
                    return True
                b = right(fr)
                if type(b) is not bool:
                    raise type_error(f"'or' needs booleans, got {type_name(b)} on the right")
                return b

            return or_, True
        operator = _OPERATORS[op]
        fast = _INT_FAST_PATHS.get(op)
        if fast is None:
            return (lambda fr: operator(left(fr), right(fr), fr)), True
        return fast(left, right, operator), True

    def map_literal(self, node: MapLit) -> tuple[Evaluator, bool]:
        pairs = [(self.compile(k)[0], self.compile(v)) for k, v in node.pairs]
        fresh = all(f for _, (_, f) in pairs)
        compiled = [(k, v) for k, (v, _) in pairs]

        def build(fr: Any) -> Any:
            out: dict[str, Any] = {}
            for key_fn, value_fn in compiled:
                key = key_fn(fr)
                if type(key) is not str:
                    raise type_error(f"map keys must be strings, got {type_name(key)}")
                out[key] = value_fn(fr)
            return out

        return build, fresh


# --------------------------------------------------------------------------- operators


def _number_pair(op: str, a: Any, b: Any) -> tuple[Any, Any]:
    ka, kb = type(a), type(b)
    if (ka is int or ka is float) and (kb is int or kb is float):
        return a, b
    raise type_error(f"'{op}' is not supported between {type_name(a)} and {type_name(b)}")


def _int_result(value: int) -> int:
    if value > INT_MAX or value < INT_MIN:
        raise wf_error("ValueError", "integer overflow")
    return value


def _float_result(value: float) -> float:
    if math.isinf(value) or math.isnan(value):
        raise wf_error("ValueError", "double overflow")
    return value


def _add(a: Any, b: Any, fr: Any) -> Any:
    ka, kb = type(a), type(b)
    if ka is int and kb is int:
        return _int_result(a + b)
    if ka is str and kb is str:
        _check_concat(len(a) + len(b), fr)
        return a + b
    if (ka is str or kb is str) and fr.implicit_string_concat:
        other = b if ka is str else a
        if type(other) in (int, float, bool):
            from ..values import to_string

            return a + to_string(b) if ka is str else to_string(a) + b
    if ka is str or kb is str:
        raise type_error(
            f"'+' cannot join {type_name(a)} and {type_name(b)}: convert with string(...) "
            "(or set implicit_string_concat=True)"
        )
    a, b = _number_pair("+", a, b)
    return _float_result(a + b) if (ka is float or kb is float) else a + b


def _check_concat(chars: int, fr: Any) -> None:
    """Refuse a string join past the string limit before building it: ``s + s`` repeated inside
    one expression would otherwise double the text at every ``+`` (docs/decisions.md #23)."""
    limit = fr.string_limit
    if chars > limit:
        raise wf_error("ResourceLimitError", f"'+' would build a string of {chars} characters, more than the "
                       f"{limit}-byte string limit (limit `string_bytes`)")


def _sub(a: Any, b: Any, fr: Any) -> Any:
    a, b = _number_pair("-", a, b)
    if type(a) is int and type(b) is int:
        return _int_result(a - b)
    return _float_result(float(a) - b)


def _mul(a: Any, b: Any, fr: Any) -> Any:
    a, b = _number_pair("*", a, b)
    if type(a) is int and type(b) is int:
        return _int_result(a * b)
    return _float_result(float(a) * b)


def _div(a: Any, b: Any, fr: Any) -> Any:
    a, b = _number_pair("/", a, b)
    if b == 0:
        raise wf_error("ZeroDivisionError", "division by zero")
    if type(a) is int and type(b) is int:
        # True division of two ints; exact for values a double can hold.
        return _float_result(a / b)
    return _float_result(float(a) / b)


def _floordiv(a: Any, b: Any, fr: Any) -> Any:
    a, b = _number_pair("//", a, b)
    if b == 0:
        raise wf_error("ZeroDivisionError", "division by zero")
    if type(a) is int and type(b) is int:
        return _int_result(a // b)
    # Python's float floor division (docs/decisions.md #20): exact, unlike floor(a / b).
    return _float_result(float(a) // b)


def _mod(a: Any, b: Any, fr: Any) -> Any:
    a, b = _number_pair("%", a, b)
    if b == 0:
        raise wf_error("ZeroDivisionError", "modulo by zero")
    if type(a) is int and type(b) is int:
        return a % b
    return _float_result(float(a) % b)


def _compare(op: str, a: Any, b: Any) -> Any:
    ka, kb = type(a), type(b)
    numbers = (ka is int or ka is float) and (kb is int or kb is float)
    if not numbers and not (ka is str and kb is str):
        raise type_error(f"'{op}' cannot compare {type_name(a)} with {type_name(b)}")
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def _in(a: Any, b: Any, fr: Any) -> Any:
    kind = type(b)
    if kind is list:
        return any(values_equal(a, item) for item in b)
    if kind is dict:
        if type(a) is not str:
            raise type_error(f"'in' on a map needs a string key, got {type_name(a)}")
        return a in b
    raise type_error(f"'in' needs a list or a map on the right, got {type_name(b)}")


# Loops mostly add and compare integers: these closures handle int-int operands inline
# (one Python call per operator instead of three) and hand everything else to the
# general operator, so the semantics stay in one place.


def _fast_add(left: Evaluator, right: Evaluator, general: Callable[[Any, Any, Any], Any]) -> Evaluator:
    def add(fr: Any) -> Any:
        a = left(fr)
        b = right(fr)
        if type(a) is int and type(b) is int:
            result = a + b
            if INT_MIN <= result <= INT_MAX:
                return result
        return general(a, b, fr)

    return add


def _fast_sub(left: Evaluator, right: Evaluator, general: Callable[[Any, Any, Any], Any]) -> Evaluator:
    def sub(fr: Any) -> Any:
        a = left(fr)
        b = right(fr)
        if type(a) is int and type(b) is int:
            result = a - b
            if INT_MIN <= result <= INT_MAX:
                return result
        return general(a, b, fr)

    return sub


def _fast_mul(left: Evaluator, right: Evaluator, general: Callable[[Any, Any, Any], Any]) -> Evaluator:
    def mul(fr: Any) -> Any:
        a = left(fr)
        b = right(fr)
        if type(a) is int and type(b) is int:
            result = a * b
            if INT_MIN <= result <= INT_MAX:
                return result
        return general(a, b, fr)

    return mul


def _fast_compare(symbol: str) -> Callable[[Evaluator, Evaluator, Callable[[Any, Any, Any], Any]], Evaluator]:
    compare: Callable[[Any, Any], bool] = {
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
    }[symbol]

    def build(left: Evaluator, right: Evaluator, general: Callable[[Any, Any, Any], Any]) -> Evaluator:
        def cmp(fr: Any) -> Any:
            a = left(fr)
            b = right(fr)
            if type(a) is int and type(b) is int:
                return compare(a, b)
            return general(a, b, fr)

        return cmp

    return build


_INT_FAST_PATHS: dict[str, Callable[[Evaluator, Evaluator, Callable[[Any, Any, Any], Any]], Evaluator]] = {
    "+": _fast_add,
    "-": _fast_sub,
    "*": _fast_mul,
    **{symbol: _fast_compare(symbol) for symbol in ("<", "<=", ">", ">=", "==", "!=")},
}


_OPERATORS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "+": _add,
    "-": _sub,
    "*": _mul,
    "/": _div,
    "//": _floordiv,
    "%": _mod,
    "==": lambda a, b, fr: values_equal(a, b),
    "!=": lambda a, b, fr: not values_equal(a, b),
    "<": lambda a, b, fr: _compare("<", a, b),
    "<=": lambda a, b, fr: _compare("<=", a, b),
    ">": lambda a, b, fr: _compare(">", a, b),
    ">=": lambda a, b, fr: _compare(">=", a, b),
    "in": _in,
}

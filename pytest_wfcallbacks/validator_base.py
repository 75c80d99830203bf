"""What the deploy-time validator's step builders share (validator.py builds the steps).

Block and scope bookkeeping, errors with file/line/column, expression templates
compiled once (with the reads they make), and the whole-workflow checks run after
every routine is built: reads of names no path assigns, blocking subworkflows
called inside expressions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .definition import (
    _EXPR_RE,
    EXPRESSION_CONNECTORS,
    Block,
    Control,
    RetrySpec,
    Routine,
    Template,
)
from .errors import Location, WorkflowSyntaxError
from .expr import CompileContext, Compiled, CompileError, ExprSyntaxError, compile_expression
from .settings import Limits
from .source import MarkedDict, Source, key_mark_of, mark_of, start_of
from .stdlib.registry import Function, Registry
from .stdlib.registry import Param as FunctionParam
from .values import copy_value


@dataclass
class _BlockInfo:
    """Compile-time facts about a block, for jump and scope checks."""

    block: Block
    parent: _BlockInfo | None
    kind: str  # routine, nested, for, branch (parallel branch), pfor (parallel for body), try, except
    names: set[str] = field(default_factory=set)
    pending_jumps: list[tuple[str, Location, str]] = field(default_factory=list)

    def ancestors(self) -> Iterator[_BlockInfo]:
        """This block and every enclosing block of the routine, innermost first."""
        current: _BlockInfo | None = self
        while current is not None:
            yield current
            current = current.parent


#: The fields every `Step` starts with: name, path, routine, location, next.
_Common = tuple[str, str, str, Location, Control]

#: A jump still looking for its target: target, where, origin step, the block it was found in.
_PendingJump = tuple[str, Location, str, _BlockInfo]

#: Block kinds a ``next`` jump can never leave: loop bodies, parallel branches, the routine.
_JUMP_BOUNDARIES = ("for", "branch", "pfor", "routine")


@dataclass
class _ScopeInfo:
    """Compile-time view of a variable scope: names assigned in it, and whether it is a branch."""

    parent: _ScopeInfo | None
    names: set[str] = field(default_factory=set)
    shared: frozenset[str] | None = None  # set for parallel branches
    reads: list[tuple[str, Location]] = field(default_factory=list)

    def visible(self, name: str) -> bool:
        scope: _ScopeInfo | None = self
        while scope is not None:
            if name in scope.names:
                return True
            scope = scope.parent
        return False


class _ExpressionRegistry(Registry):
    """The registry as expressions of one routine see it.

    Two differences from the standard library's registry: a module name that the
    routine uses as a variable (official samples assign ``list``, ``map`` and loop over
    ``text``) is a variable there, not a module; and the connector helpers of
    `EXPRESSION_CONNECTORS` may be called (answered by `WorkflowRuntime.connectors` fakes).
    """

    def __init__(self, base: Registry) -> None:
        super().__init__(base.functions, base.constants)
        self.variables: frozenset[str] = frozenset()
        self.connectors = {
            name: Function(name, tuple(FunctionParam(p) for p in params), _expression_connector(name, params),
                           context=True)
            for name, params in EXPRESSION_CONNECTORS.items()
        }

    def is_module(self, name: str) -> bool:
        """A module prefix, unless the routine assigns a variable of that name."""
        return name not in self.variables and super().is_module(name)

    def get(self, name: str) -> Function | None:
        """A standard-library function, or one of the connector helpers allowed in expressions."""
        return super().get(name) or self.connectors.get(name)


def _expression_connector(name: str, params: tuple[str, ...]) -> Callable[..., Any]:
    """A connector helper callable inside an expression: answered by the runtime's connector fakes."""

    def call(th: Any, *args: Any) -> Any:
        return th.host.call_connector_now(th, name, dict(zip(params, args, strict=False)))

    return call


def _variables_written(body: Any) -> frozenset[str]:
    """Every name a routine body may write: assign roots, results, loop variables, ``except as``."""
    names: set[str] = set()
    stack = [body]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            assign = node.get("assign")
            if isinstance(assign, list):
                for item in assign:
                    if isinstance(item, dict):
                        names.update(re.split(r"[.\[]", str(k), maxsplit=1)[0].strip() for k in item)
            for key, attribute in (("result", None), ("for", "value"), ("for", "index"), ("except", "as")):
                value = node.get(key)
                if attribute is not None:
                    value = value.get(attribute) if isinstance(value, dict) else None
                if isinstance(value, str):
                    names.add(value)
            stack.extend(node.values())
    return frozenset(names)


#: Problems one deploy reports at most; past them the file likely is not a workflow at all.
MAX_PROBLEMS = 50


class TooManyProblems(Exception):
    """Raised by `_BuilderBase.report` at `MAX_PROBLEMS`: the build stops and reports what it has."""


class _BuilderBase:
    """State and shared helpers of one deploy-time build (`validator._Builder` adds the steps)."""

    def __init__(self, source: Source, registry: Registry, limits: Limits) -> None:
        self.source = source
        self.registry = registry
        self.limits = limits
        self.routine = ""
        self.step_names: dict[str, Location] = {}
        self.expr_registry = _ExpressionRegistry(registry)
        self.ctx = CompileContext(self.expr_registry, {})
        self.routine_calls: dict[str, set[str]] = {}
        self.routine_blocks: dict[str, bool] = {}
        self.expr_calls: list[tuple[str, Location]] = []
        self.parallel_depth = 0
        self.deferred_scopes: list[_ScopeInfo] = []
        #: Required parameter names of each subworkflow.
        self.required_params: dict[str, frozenset[str]] = {}
        #: Per routine: each step name and the blocks holding a step of that name.
        self.routine_names: dict[str, dict[str, list[_BlockInfo]]] = {}
        self.name_blocks: dict[str, list[_BlockInfo]] = {}
        self.unresolved_jumps: list[_PendingJump] = []
        self.jump_reports: list[tuple[str, list[_PendingJump]]] = []
        #: Problems found so far: a check that fails raises (`fail`) and the enclosing step or
        #: routine records it and goes on, or reports it directly (`problem`) and goes on itself.
        self.problems: list[WorkflowSyntaxError] = []
        #: Routines with a step whose name could not be taken (not a map, reserved, duplicated).
        self.unnamed_problem: dict[str, bool] = {}

    # ---------------------------------------------------------------- errors
    def loc(self, container: Any, key: Any = None, step: str = "", *, of_key: bool = False) -> Location:
        if key is None:
            line, column = start_of(container)
        elif of_key or (isinstance(container, MarkedDict) and isinstance(container.get(key), (dict, list))):
            # Errors about a whole block (`except:`, `for:`...) point at its key, not its first item.
            line, column = key_mark_of(container, key)
        else:
            line, column = mark_of(container, key)
        return Location(self.source.file, line, column, step)

    def fail(self, message: str, location: Location, snippet: str = "") -> WorkflowSyntaxError:
        """The error for a problem that stops the current step (or routine); raise it.

        The step (or routine) that contains it records it and the build goes on with the next
        one, so a deploy reports every problem of a file (`WorkflowSyntaxError.problems`).
        """
        return WorkflowSyntaxError(message, location, snippet=snippet)

    def problem(self, message: str, location: Location, snippet: str = "") -> None:
        """Record a problem that needs not stop the check that found it (the build goes on)."""
        self.report(self.fail(message, location, snippet))

    def report(self, problem: WorkflowSyntaxError) -> None:
        """Keep ``problem`` for the final error; past `MAX_PROBLEMS` the build stops."""
        self.problems.append(problem)
        if len(self.problems) >= MAX_PROBLEMS:
            raise TooManyProblems()

    # ---------------------------------------------------------------- retry policies
    def retry_spec(self, raw: Any, body: Any, path: str, scope: _ScopeInfo) -> RetrySpec:
        where = self.loc(body, "retry", path)
        if isinstance(raw, str):
            if not _EXPR_RE.match(raw):
                raise self.fail("`retry` takes a policy expression like ${http.default_retry} or a map", where)
            return RetrySpec(self.template(raw, body, "retry", path, scope), None, None, None, None, None)
        if not isinstance(raw, dict):
            raise self.fail("`retry` takes a policy expression or a map {predicate, max_retries, backoff}", where)
        for k in raw:
            if k not in ("predicate", "max_retries", "backoff"):
                raise self.fail(f"unknown key {k!r} in `retry`; allowed: predicate, max_retries, backoff",
                                self.loc(raw, k, path, of_key=True))
        for required in ("predicate", "max_retries"):
            if required not in raw:
                raise self.fail(f"`retry` needs `{required}`", where)
        predicate = self.template(raw["predicate"], raw, "predicate", path, scope)
        pred_value = raw["predicate"]
        pred_where = self.loc(raw, "predicate", path)
        if not isinstance(pred_value, str) or not _EXPR_RE.match(pred_value):
            raise self.fail(
                f"retry `predicate` must be an expression naming a predicate, e.g. "
                f"${{http.default_retry_predicate}} or ${{my_predicate_subworkflow}}, not {pred_value!r}",
                pred_where)
        if isinstance(pred_value, str):
            match = _EXPR_RE.match(pred_value)
            name = match.group(1).strip() if match else ""
            if name in self.registry.constants:
                raise self.fail(
                    f"{name} is a retry policy, not a predicate: write `retry: ${{{name}}}` for the whole policy, "
                    f"or `predicate: ${{{name}_predicate}}` in a retry map",
                    pred_where)
            if name in self.ctx.subworkflows and len(self.ctx.subworkflows[name]) != 1:
                raise self.fail(f"retry predicate subworkflow {name!r} must take exactly one parameter (the error)",
                                self.loc(raw, "predicate", path))
        max_retries = self.template(raw["max_retries"], raw, "max_retries", path, scope)
        backoff = raw.get("backoff")
        initial = max_delay = multiplier = None
        if backoff is not None:
            if not isinstance(backoff, dict):
                raise self.fail("`backoff` must be a map {initial_delay, max_delay, multiplier}",
                                self.loc(raw, "backoff", path))
            for k in backoff:
                if k not in ("initial_delay", "max_delay", "multiplier"):
                    raise self.fail(f"unknown key {k!r} in `backoff`; allowed: initial_delay, max_delay, multiplier",
                                    self.loc(backoff, k, path, of_key=True))
            initial = self.template(backoff.get("initial_delay", 1), backoff, "initial_delay", path, scope)
            max_delay = self.template(backoff.get("max_delay", 60), backoff, "max_delay", path, scope)
            multiplier = self.template(backoff.get("multiplier", 1.25), backoff, "multiplier", path, scope)
        return RetrySpec(None, predicate, max_retries, initial, max_delay, multiplier)

    # ---------------------------------------------------------------- expressions
    def expr_location(self, owner: Any, key: Any, path: str, offset: int | None,
                      expression: str = "") -> tuple[Location, str]:
        """Where an expression (or the character at ``offset`` in it) is, plus a caret snippet.

        The caret goes under the offending character when the source line holds the
        expression text verbatim up to it; otherwise (an expression folded over several
        lines, JSON escapes) under the ``${`` that starts it.
        """
        line, column = mark_of(owner, key) if owner is not None else (0, 0)
        snippet = ""
        if line and offset is not None:
            text = self.source.line_text(line)
            start = column - 1
            if start < len(text) and text[start] in "'\"":
                start += 1
            if text[start : start + 2] == "${":
                body = start + 2
                seen = min(offset + 1, len(expression))
                if not expression or text[body : body + seen] == expression[:seen]:
                    column = body + offset + 1
                else:
                    column = start + 1
                snippet = f"    {text}\n    {' ' * (column - 1)}^"
        return Location(self.source.file, line, column, path), snippet

    def check_expression_length(self, value: str, owner: Any, key: Any, path: str) -> None:
        """The expressions reference: "There is a limit to the expression length" (the figure is not
        published; the Go emulator's 400 characters is the default, docs/decisions.md #23). The whole
        ``${...}`` text counts, delimiters included: the stricter reading."""
        limit = self.limits.expression_length
        if len(value) > limit:
            where, _ = self.expr_location(owner, key, path, None)
            raise self.fail(
                f"expression is {len(value)} characters long (`${{...}}` included); at most {limit} are allowed "
                "(limit `expression_length`): compute it in several steps (assign parts to variables) or in a "
                "subworkflow",
                where)

    def compile_node(self, node: Any, where: Location, scope: _ScopeInfo, text: str) -> Compiled:
        from .expr.compiler import compile_node

        try:
            compiled = compile_node(node, self.ctx, text)
        except CompileError as exc:
            raise self.fail(exc.message, where) from None
        for name in compiled.reads:
            scope.reads.append((name, where))
        return compiled

    def template(self, value: Any, owner: Any, key: Any, path: str, scope: _ScopeInfo | None = None) -> Template:
        if isinstance(value, str):
            match = _EXPR_RE.match(value)
            if not match:
                return _constant(value)
            text = match.group(1)
            try:
                compiled = compile_expression(text, self.ctx)
            except ExprSyntaxError as exc:
                where, snippet = self.expr_location(owner, key, path, exc.offset, text)
                raise self.fail(f"invalid expression ${{{text}}}: {exc.message}", where, snippet) from None
            except CompileError as exc:
                where, snippet = self.expr_location(owner, key, path, exc.offset, text)
                raise self.fail(f"in ${{{text}}}: {exc.message}", where, snippet) from None
            # After compiling: an expression that is also malformed reports what is wrong inside it first.
            self.check_expression_length(value, owner, key, path)
            if scope is not None:
                where, _ = self.expr_location(owner, key, path, None)
                for name in compiled.reads:
                    scope.reads.append((name, where))
            for name in compiled.calls:
                self.routine_calls[self.routine].add(name)
                where, _ = self.expr_location(owner, key, path, None)
                self.expr_calls.append((name, where))
            return Template(compiled.fn, compiled.fresh, compiled.reads, compiled.calls)
        if isinstance(value, dict):
            parts: list[tuple[Template, Template]] = []
            for k, v in value.items():
                key_tpl = self.template(k, value, k, path, scope) if isinstance(k, str) and _EXPR_RE.match(k) else None
                parts.append((key_tpl or _constant(k),
                              self.template(v, value, k, path, scope)))
            if all(k.constant and v.constant for k, v in parts):
                constant = {k.value: v.value for k, v in parts}
                return Template(lambda fr: copy_value(constant), True, frozenset(), frozenset(), True, constant)

            def build_map(fr: Any) -> Any:
                out: dict[str, Any] = {}
                for key_tpl, value_tpl in parts:
                    name = key_tpl.fn(fr)
                    if type(name) is not str:
                        from .errors import type_error
                        from .values import type_name

                        raise type_error(f"map keys must be strings, got {type_name(name)}")
                    out[name] = value_tpl.evaluate(fr)
                return out

            reads = frozenset().union(*(k.reads | v.reads for k, v in parts)) if parts else frozenset()
            return Template(build_map, True, reads, frozenset())
        if isinstance(value, list):
            items = [self.template(v, value, i, path, scope) for i, v in enumerate(value)]
            if all(t.constant for t in items):
                constant_list = [t.value for t in items]
                return Template(lambda fr: copy_value(constant_list), True, frozenset(), frozenset(), True,
                                constant_list)
            return Template(lambda fr: [t.evaluate(fr) for t in items], True,
                            frozenset().union(*(t.reads for t in items)), frozenset())
        if isinstance(value, float) and math.isnan(value):
            raise self.fail("NaN is not a Workflows value", self.loc(owner, key, path))
        return _constant(value)

    # ---------------------------------------------------------------- checks of what the service refuses at deploy
    def check_callback_method(self, target: str, raw_args: Any, path: str) -> None:
        """A literal ``http_callback_method`` outside the service's methods fails at deploy, not at run time."""
        from .definition import CALLBACK_METHODS

        if target != "events.create_callback_endpoint":
            return
        key: str | int
        if isinstance(raw_args, dict) and "http_callback_method" in raw_args:
            key = "http_callback_method"
        elif isinstance(raw_args, list) and raw_args:
            key = 0
        else:
            return
        owner: Any = raw_args
        method = owner[key]
        if isinstance(method, str) and _EXPR_RE.match(method):
            return  # computed at run time: checked there
        if method not in CALLBACK_METHODS:
            raise self.fail(f"http_callback_method must be one of {', '.join(CALLBACK_METHODS)}, got {method!r}",
                            self.loc(owner, key, path))

    def check_try_body_is_not_a_loop(self, raw: dict[str, Any], path: str) -> None:
        """A `for` as the direct body of `try` fails to deploy in the service.

        The service's documented known issue ("loop step name should not be empty"): only a loop in
        a named step under `try: steps:` deploys, so one that passed here must not fail there.
        """
        if "for" in raw:
            raise self.fail(
                "a `for` loop cannot be the direct body of `try` (the service refuses it at deploy: \"loop step "
                "name should not be empty\"); put the loop in a named step under `try: steps:`, e.g. "
                "`try: {steps: [{my_loop: {for: ...}}]}`",
                self.loc(raw, "for", path, of_key=True))

    # ---------------------------------------------------------------- whole-workflow checks
    def check_reads(self, scope: _ScopeInfo) -> None:
        """docs/decisions.md #32: a read of a name that no path in the visible scopes assigns is a deploy error."""
        for name, where in scope.reads:
            if name in self.ctx.subworkflows:
                continue
            if not scope.visible(name):
                self.problem(
                    f"variable {name!r} is read but never assigned where this step can see it "
                    "(names first assigned inside a for loop, an except block or a parallel branch "
                    "vanish when it ends); assign it before, in an enclosing scope",
                    where,
                )
        scope.reads.clear()

    def check_subworkflow_calls(self, routines: dict[str, Routine]) -> None:
        # A routine blocks when it has a blocking call or calls a blocking routine (fixpoint).
        changed = True
        while changed:
            changed = False
            for name, callees in self.routine_calls.items():
                if not self.routine_blocks.get(name) and any(self.routine_blocks.get(c) for c in callees):
                    self.routine_blocks[name] = True
                    changed = True
        for name, where in self.expr_calls:
            if self.routine_blocks.get(name):
                self.problem(
                    f"subworkflow {name!r} blocks (http, sys.sleep, sys.log, events..., a parallel step or a retry "
                    "backoff) and cannot be "
                    "called inside an expression; call it from a call step",
                    where,
                )
        for name, routine in list(routines.items()):
            routines[name] = Routine(routine.name, routine.params, routine.body, routine.loc,
                                     bool(self.routine_blocks.get(name)))


def _constant_fn(value: Any) -> Callable[[Any], Any]:
    def constant(frame: Any) -> Any:
        return value

    return constant


def _constant(value: Any) -> Template:
    """A template for a scalar from the source (no ``${...}``)."""
    return Template(_constant_fn(value), True, frozenset(), frozenset(), True, value)


def _suggest(word: str, candidates: Any) -> str:
    import difflib

    close = difflib.get_close_matches(str(word), sorted(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""

"""The frozen step tree: routines, blocks, steps and the control signals the engine passes.

`build_definition` (in validator.py, re-exported here) builds it from loaded source
data and rejects at deploy time what the service rejects; the engine only reads it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .errors import Location
from .settings import Limits
from .source import MarkedList, Source
from .stdlib.registry import Function, Registry
from .values import copy_value

_EXPR_RE = re.compile(r"^\$\{(.*)\}$", re.DOTALL)
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
STEP_KEYS = frozenset(
    {"assign", "call", "args", "result", "next", "switch", "for", "parallel", "raise", "try", "retry", "except",
     "return", "steps"}
)
ACTION_KEYS = ("assign", "call", "switch", "for", "parallel", "raise", "try", "return", "steps")
RESERVED_TARGETS = ("end", "break", "continue")
CALLBACK_METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH")
#: Call targets that are connectors (run by the runtime's connector hook, never by the stdlib).
CONNECTOR_PREFIXES = ("googleapis.", "experimental.", "gke.")
#: Connector helpers the service lets expressions call with positional arguments (the official
#: `connector_secretmanager` sample does), with their parameters in order.
EXPRESSION_CONNECTORS: dict[str, tuple[str, ...]] = {
    "googleapis.secretmanager.v1.projects.secrets.versions.accessString": ("secret_id", "version", "project_id"),
}


# --------------------------------------------------------------------------- control signals


@dataclass(frozen=True, slots=True)
class Jump:
    """Go to a named step of an enclosing block."""

    target: str


@dataclass(frozen=True, slots=True)
class _Signal:
    name: str


END = _Signal("end")
BREAK = _Signal("break")
CONTINUE = _Signal("continue")


@dataclass(slots=True)
class Return:
    """``return`` with a value (leaves the routine)."""

    value: Any


Control = Jump | _Signal | Return | None


# --------------------------------------------------------------------------- templates


@dataclass(frozen=True)
class Template:
    """A definition value that may contain ``${...}``: evaluated with ``fn(frame)``."""

    fn: Callable[[Any], Any]
    fresh: bool
    reads: frozenset[str]
    calls: frozenset[str]
    constant: bool = False
    value: Any = None

    def evaluate(self, frame: Any) -> Any:
        """The value, copied when it may be shared with a variable."""
        value = self.fn(frame)
        if not self.fresh:
            return copy_value(value)
        return value


# --------------------------------------------------------------------------- steps


@dataclass(frozen=True, eq=False)
class Step:
    """A step: its name, path (``main/loop/add``), location and ``next``."""

    name: str
    path: str
    routine: str
    loc: Location
    next: Control


@dataclass(frozen=True, eq=False)
class AssignTarget:
    """Left-hand side of an assignment: a variable and a path of keys / indexes."""

    root: str
    path: tuple[tuple[str, Callable[[Any], Any]], ...]
    text: str


@dataclass(frozen=True, eq=False)
class AssignStep(Step):
    """``assign``: a list of targets and values."""

    items: tuple[tuple[AssignTarget, Template], ...]


@dataclass(frozen=True, eq=False)
class CallStep(Step):
    """``call``: a standard-library function, a subworkflow or a connector."""

    target: str
    function: Function | None
    subworkflow: str | None
    args: Template | None
    positional: bool
    result: str | None


@dataclass(frozen=True, eq=False)
class SwitchArm:
    """One ``condition`` entry: its body (an inline step, or None) and its ``next``."""

    condition: Template
    body: Step | None
    next: Control
    loc: Location
    #: Line of the arm's first key after ``condition`` (where a taken condition goes; coverage arcs).
    action_line: int = 0


@dataclass(frozen=True, eq=False)
class SwitchStep(Step):
    """``switch``: the first arm whose condition is true runs."""

    arms: tuple[SwitchArm, ...]


@dataclass(frozen=True, eq=False)
class LoopSpec:
    """``for``: loop variable, index, list or range, body."""

    value: str
    index: str | None
    items: Template | None
    range: Template | None
    body: Block


@dataclass(frozen=True, eq=False)
class ForStep(Step):
    """A sequential ``for`` loop."""

    loop: LoopSpec


@dataclass(frozen=True, eq=False)
class ParallelStep(Step):
    """``parallel``: branches or a parallel ``for``."""

    branches: tuple[tuple[str, Block], ...]
    loop: LoopSpec | None
    shared: tuple[str, ...]
    concurrency_limit: Template | None
    #: Source line of each branch in ``branches`` (coverage counts each branch as a line).
    branch_lines: tuple[int, ...] = ()


@dataclass(frozen=True, eq=False)
class RetrySpec:
    """``retry``: a policy expression, or predicate + max_retries + backoff."""

    policy: Template | None
    predicate: Template | None
    max_retries: Template | None
    initial_delay: Template | None
    max_delay: Template | None
    multiplier: Template | None


@dataclass(frozen=True, eq=False)
class TryStep(Step):
    """``try`` with optional ``retry`` and ``except``."""

    body: Block
    retry: RetrySpec | None
    except_as: str | None
    except_body: Block | None
    #: Lines of the ``try`` and ``except`` keys (coverage: where a try step goes).
    try_line: int = 0
    except_line: int = 0


@dataclass(frozen=True, eq=False)
class RaiseStep(Step):
    """``raise``: the value is the error."""

    value: Template


@dataclass(frozen=True, eq=False)
class ReturnStep(Step):
    """``return``: leave the routine with a value."""

    value: Template


@dataclass(frozen=True, eq=False)
class StepsStep(Step):
    """A nested ``steps`` block (no new scope)."""

    body: Block


@dataclass(frozen=True, eq=False)
class JumpStep(Step):
    """A step with only ``next``."""


@dataclass(eq=False)
class Block:
    """A list of steps; ``index`` maps step names to positions for jumps."""

    steps: tuple[Step, ...] = ()
    index: dict[str, int] = field(default_factory=dict)
    kind: str = "nested"


@dataclass(frozen=True, eq=False)
class Param:
    """A routine parameter; ``default`` is None for required parameters."""

    name: str
    default: Template | None


@dataclass(frozen=True, eq=False)
class Routine:
    """``main`` or a subworkflow."""

    name: str
    params: tuple[Param, ...]
    body: Block
    loc: Location
    #: True when the routine (or anything it calls) blocks: may not run inside an expression.
    blocking: bool = False


@dataclass(frozen=True, eq=False)
class Definition:
    """A validated workflow: its routines and where it came from."""

    routines: dict[str, Routine]
    source: Source

    @property
    def main(self) -> Routine:
        """The entry routine."""
        return self.routines["main"]

    def steps(self) -> Iterator[Step]:
        """Every step of every routine, depth first."""
        for routine in self.routines.values():
            yield from _walk_block(routine.body)


def _walk_block(block: Block) -> Iterator[Step]:
    for step in block.steps:
        yield step
        yield from _children(step)


def _children(step: Step) -> Iterator[Step]:
    if isinstance(step, StepsStep):
        yield from _walk_block(step.body)
    elif isinstance(step, ForStep):
        yield from _walk_block(step.loop.body)
    elif isinstance(step, ParallelStep):
        for _, block in step.branches:
            yield from _walk_block(block)
        if step.loop:
            yield from _walk_block(step.loop.body)
    elif isinstance(step, TryStep):
        yield from _walk_block(step.body)
        if step.except_body:
            yield from _walk_block(step.except_body)
    elif isinstance(step, SwitchStep):
        for arm in step.arms:
            if arm.body is not None:
                yield arm.body
                yield from _children(arm.body)


def build_definition(source: Source, registry: Registry, limits: Limits) -> Definition:
    """Validate and compile a loaded source; raises `WorkflowSyntaxError` on the first problem (validator.py)."""
    from .validator import build_definition as build

    return build(source, registry, limits)


__all__ = [
    "BREAK",
    "CALLBACK_METHODS",
    "CONTINUE",
    "END",
    "AssignStep",
    "AssignTarget",
    "Block",
    "CallStep",
    "Control",
    "Definition",
    "ForStep",
    "Jump",
    "JumpStep",
    "LoopSpec",
    "MarkedList",
    "ParallelStep",
    "RaiseStep",
    "RetrySpec",
    "Return",
    "ReturnStep",
    "Routine",
    "Step",
    "StepsStep",
    "SwitchArm",
    "SwitchStep",
    "Template",
    "TryStep",
    "build_definition",
]

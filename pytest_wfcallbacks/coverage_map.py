"""Workflow coverage, the model both coverage readers share.

`CoverageMap` is what a workflow file *could* run: its executable lines and its
branch arcs, read from the definition tree (`coverage_map_of`). `Visit` is what one
execution *did* run, read from its record at the end of the execution: the
``line`` of every step-entered event, the branches started, and the outcome of
every switch and try step (`visit_of`). The coverage.py plugin (``coverage.py``)
and ``pytest --wf-coverage`` (``wf_coverage.py``) both subscribe here with
`listen`; while nobody listens the engine records no outcomes and nothing here
runs, so an execution costs what it always did.

The rule (docs/coverage.md):

- executable lines: each step's line (the line of its name), each switch
  ``condition`` entry, each ``except`` key, each parallel branch's line;
- branch arcs (``branch = true``): a condition line goes to the line of its arm's
  action when true, and to the next condition when false (the last condition,
  when false, "exits" the switch: ``C -> -S`` with S the switch step's line); a
  try step with ``except`` goes to its ``try`` key when the body ends without an
  error for ``except``, and to its ``except`` key when except catches one.
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .definition import Block, ForStep, ParallelStep, Step, StepsStep, SwitchStep, TryStep, build_definition
from .errors import WfCallbacksError
from .record import collect_visited
from .settings import Limits
from .source import load_source
from .stdlib import load_all
from .stdlib.registry import Registry

if TYPE_CHECKING:
    from .definition import Definition
    from .history import HistoryEvent

Arc = tuple[int, int]
#: Suffixes of the files the readers measure (what `load_source` reads as a path).
WORKFLOW_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass(frozen=True)
class _Switch:
    step_line: int
    conditions: tuple[int, ...]
    actions: tuple[int, ...]


@dataclass(frozen=True)
class _Try:
    step_line: int
    try_line: int
    except_line: int


@dataclass
class CoverageMap:
    """What a workflow file could run: executable lines, branch arcs and their meaning."""

    file: str
    lines: set[int] = field(default_factory=set)
    arcs: set[Arc] = field(default_factory=set)
    #: What each arc means, for "line N didn't jump to ..." messages.
    descriptions: dict[Arc, str] = field(default_factory=dict)
    #: Lines whose step has two outcomes but both go to the same line (one-line JSON): no branch.
    no_branch: set[int] = field(default_factory=set)
    #: Step names by line, for reports.
    names: dict[int, str] = field(default_factory=dict)
    switches: dict[str, _Switch] = field(default_factory=dict)
    tries: dict[str, _Try] = field(default_factory=dict)
    #: Parallel branch ids (``step/branch``, as the scheduler names branch threads) -> lines.
    branches: dict[str, set[int]] = field(default_factory=dict)

    def exit_counts(self) -> dict[int, int]:
        """How many ways out each executable line has (2 for a branch line, else 1)."""
        outs: dict[int, int] = {}
        for start, _ in self.arcs:
            outs[start] = outs.get(start, 0) + 1
        return {line: max(outs.get(line, 1), 1) for line in self.lines | outs.keys()}

    def add_arc(self, arc: Arc, description: str) -> None:
        arc = normal_arc(arc)
        if arc in self.arcs:
            return
        self.arcs.add(arc)
        self.descriptions[arc] = description


def normal_arc(arc: Arc) -> Arc:
    """coverage.py has no arc from a line to itself: an outcome landing on its own line "exits" it (N -> -N)."""
    return (arc[0], -arc[0]) if arc[0] == arc[1] else arc


def _add_block(cmap: CoverageMap, block: Block) -> None:
    for step in block.steps:
        _add_step(cmap, step, inline=False)


def _add_step(cmap: CoverageMap, step: Step, *, inline: bool) -> None:
    """Add a step; an inline body (a switch arm's, a one-step try's) has no line of its own and no entry."""
    line = step.loc.line
    if line <= 0:
        return
    if not inline:
        cmap.lines.add(line)
        cmap.names.setdefault(line, step.name)
    if isinstance(step, StepsStep):
        _add_block(cmap, step.body)
    elif isinstance(step, ForStep):
        _add_block(cmap, step.loop.body)
    elif isinstance(step, SwitchStep):
        for arm in step.arms:
            if arm.body is not None:
                _add_step(cmap, arm.body, inline=True)
    elif isinstance(step, TryStep):
        if len(step.body.steps) == 1 and not step.body.index:  # the engine runs it inline
            _add_step(cmap, step.body.steps[0], inline=True)
        else:
            _add_block(cmap, step.body)
        if step.except_body is not None:
            _add_block(cmap, step.except_body)
    elif isinstance(step, ParallelStep):
        for _, block in step.branches:
            _add_block(cmap, block)
        if step.loop is not None:
            _add_block(cmap, step.loop.body)
    if isinstance(step, SwitchStep):
        conditions = tuple(arm.loc.line for arm in step.arms)
        actions = tuple(arm.action_line for arm in step.arms)
        cmap.switches[step.path] = _Switch(line, conditions, actions)
        for index, (condition, action) in enumerate(zip(conditions, actions, strict=True)):
            cmap.lines.add(condition)
            cmap.names.setdefault(condition, f"{step.name} condition {index + 1}")
            false_to = conditions[index + 1] if index + 1 < len(conditions) else -line
            if normal_arc((condition, action)) == normal_arc((condition, false_to)):  # a one-line JSON switch
                cmap.no_branch.add(condition)
                continue
            cmap.add_arc((condition, action), f"the condition on line {condition} was never true")
            cmap.add_arc((condition, false_to), f"the condition on line {condition} was never false")
    elif isinstance(step, TryStep) and step.except_body is not None and step.except_line > 0:
        cmap.tries[step.path] = _Try(line, step.try_line, step.except_line)
        cmap.lines.add(step.except_line)
        cmap.names.setdefault(step.except_line, f"{step.name} except")
        if step.except_line == line or normal_arc((line, step.try_line)) == (line, step.except_line):
            cmap.no_branch.add(line)
        else:
            cmap.add_arc((line, step.try_line), f"the try body of step {step.name!r} never ended without an error")
            cmap.add_arc((line, step.except_line), f"the except block of step {step.name!r} was never entered")
    elif isinstance(step, ParallelStep):
        for (name, _), branch_line in zip(step.branches, step.branch_lines, strict=False):
            if branch_line > 0:
                cmap.lines.add(branch_line)
                cmap.names.setdefault(branch_line, f"{step.name} branch {name}")
                cmap.branches.setdefault(f"{step.name}/{name}", set()).add(branch_line)


def coverage_map_of(definition: Definition) -> CoverageMap:
    """The executable lines and branch arcs of a definition deployed from a file."""
    cmap = CoverageMap(definition.source.file)
    for routine in definition.routines.values():
        _add_block(cmap, routine.body)
    return cmap


@functools.lru_cache(maxsize=256)
def _cached_map(definition: Definition) -> CoverageMap:
    return coverage_map_of(definition)


@dataclass
class Visit:
    """What one execution ran in one workflow file: lines, and arcs (branch outcomes)."""

    file: str
    lines: set[int] = field(default_factory=set)
    arcs: set[Arc] = field(default_factory=set)


def _branch_key(branch_id: str) -> str:
    """``step/branch`` of a branch id: a nested branch's id starts with its parent's (``outer[0]/inner/fast``)."""
    return "/".join(branch_id.rsplit("/", 2)[-2:])


def visit_of(definition: Definition, history: Iterable[HistoryEvent], decisions: Sequence[tuple[str, int]],
             dropped_lines: Iterable[int] = (), dropped_branches: Iterable[str] = ()) -> Visit:
    """Read what an execution ran from its record (step-entered lines, branches, switch / try outcomes).

    ``dropped_lines`` and ``dropped_branches``: what the events a long execution's record trimmed held.
    """
    cmap = _cached_map(definition)
    visit = Visit(cmap.file)
    lines = visit.lines
    lines.update(dropped_lines)
    branches = set(dropped_branches)
    collect_visited(history, lines, branches)
    for branch in branches:
        lines.update(cmap.branches.get(_branch_key(branch), ()))
    for path, outcome in decisions:
        switch = cmap.switches.get(path)
        if switch is not None:
            conditions = switch.conditions
            evaluated = min(outcome + 1, len(conditions))
            lines.update(conditions[:evaluated])
            for index in range(evaluated):
                if index == outcome:
                    visit.arcs.add((conditions[index], switch.actions[index]))
                elif index + 1 < len(conditions):
                    visit.arcs.add((conditions[index], conditions[index + 1]))
                else:
                    visit.arcs.add((conditions[index], -switch.step_line))
            continue
        attempt = cmap.tries.get(path)
        if attempt is not None:
            if outcome == 1:
                lines.add(attempt.except_line)
                visit.arcs.add((attempt.step_line, attempt.except_line))
            else:
                visit.arcs.add((attempt.step_line, attempt.try_line))
    visit.arcs = {normal for normal in map(normal_arc, visit.arcs) if normal in cmap.arcs}
    return visit


def load_map(path: str) -> CoverageMap | None:
    """The coverage map of a workflow file (None when it does not load as a workflow)."""
    try:
        definition = build_definition(load_source(Path(path)), _registry(), Limits())
    except (WfCallbacksError, OSError, RecursionError):
        return None
    return coverage_map_of(definition)


@functools.cache
def _registry() -> Registry:
    # The standard library every runtime has (a runtime has no user-added functions).
    return load_all()


# --------------------------------------------------------------------------- listeners

Listener = Callable[[Visit], None]
#: Who wants each execution's `Visit` (the runtime records outcomes only while this is non-empty).
LISTENERS: list[Listener] = []


def listen(listener: Listener) -> None:
    """Receive a `Visit` at the end of every execution of a workflow deployed from a file."""
    if listener not in LISTENERS:
        LISTENERS.append(listener)


def unlisten(listener: Listener) -> None:
    """Stop receiving visits."""
    if listener in LISTENERS:
        LISTENERS.remove(listener)


def notify(definition: Definition, history: Iterable[HistoryEvent], decisions: Sequence[tuple[str, int]],
           dropped_lines: Iterable[int] = (), dropped_branches: Iterable[str] = ()) -> None:
    """Called by the runtime as an execution ends: hand its visit to every listener."""
    file = definition.source.file
    if not LISTENERS or not file.lower().endswith(WORKFLOW_SUFFIXES) or not os.path.isfile(file):
        return
    try:
        visit = visit_of(definition, history, decisions, dropped_lines, dropped_branches)
        visit.file = os.path.abspath(file)
        for listener in list(LISTENERS):
            listener(visit)
    except Exception as exc:  # a reader's bug must never fail the execution under test
        warnings.warn(f"pytest-wfcallbacks: workflow coverage could not record an execution of {file}: {exc!r}",
                      RuntimeWarning, stacklevel=2)


__all__ = ["CoverageMap", "Visit", "coverage_map_of", "listen", "load_map", "notify", "unlisten", "visit_of"]

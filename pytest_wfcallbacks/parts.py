"""Running a part of a workflow: start in a subworkflow, stop before a step, read a thread's variables.

* ``entry="name"`` (`entry_body`): the execution's main thread calls that subworkflow
  with the argument map as its params, through the engine's own call (defaults apply;
  a missing or unknown param raises the ``TypeError`` a call step would, before any
  step runs), and the execution ends with what it returns.
* `run_until_step`: the engine asks `Engine.pause_at` before each step it enters; the
  chosen thread stops there (``PAUSE``) and the drive ends. The scheduler gives the
  stopped thread the next quantum whatever the schedule, so a run with stops has the
  same history, byte for byte, as one without. Steps of a subworkflow called inside an
  expression run whole (an expression cannot stop halfway).
* `variables`: a deep copy of the scope chain a thread reads, innermost names winning.
"""

from __future__ import annotations

import difflib
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from .errors import WfCallbacksError
from .execution import ExecutionFinished
from .values import copy_value, json_or_repr

if TYPE_CHECKING:
    from .definition import Step
    from .execution import Execution
    from .interpreter.engine import Engine
    from .interpreter.threads import Scope, WorkflowThread


def check_entry(execution_workflow: Any, entry: str, argument: Any) -> None:
    """A clear error for an ``entry=`` the workflow has no subworkflow for, or an argument that is no map."""
    routines = execution_workflow.definition.routines
    if not isinstance(entry, str) or entry not in routines:
        names = sorted(name for name in routines if name != "main")
        close = difflib.get_close_matches(str(entry), names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise WfCallbacksError(f"entry={entry!r}: workflow {execution_workflow.name!r} has no subworkflow of that "
                               f"name{hint} (its subworkflows: {', '.join(names) or 'none'})")
    if argument is not None and not isinstance(argument, dict):
        raise WfCallbacksError(f"entry={entry!r}: the argument is the map of {entry}'s params "
                               f"(e.g. {{'amount': 30}}), got {type(argument).__name__}")


def entry_body(engine: Engine, th: WorkflowThread, entry: str,
               params: dict[str, Any] | None) -> Generator[Any, Any, Any]:
    """The main thread's body when the execution starts in subworkflow ``entry``."""
    routine = engine.routines[entry]
    th.routine = entry
    return (yield from engine.call_routine(routine, params or {}, th))


def _branch_key(branch: Any) -> str:
    return branch if isinstance(branch, str) else json_or_repr(branch)


def _matches(th: WorkflowThread, branch: str | None) -> bool:
    if branch is None:
        return th.branch_id is None
    return branch in (th.branch_id, th.label)


def run_until_step(execution: Execution, step: str, branch: Any = None) -> Execution:
    """Drive until the chosen thread is about to enter ``step`` (see `Execution.run_until_step`)."""
    __tracebackhide__ = True
    want, hit = _arm(execution, step, branch)
    try:
        execution._drive(lambda: bool(hit) or not execution._is_active(), _what(execution, step, want))
    finally:
        execution._engine.pause_at = None
    return _stopped(execution, step, want, hit)


async def run_until_step_async(execution: Execution, step: str, branch: Any = None) -> Execution:
    """`run_until_step` that lets the event loop run while the execution waits."""
    want, hit = _arm(execution, step, branch)
    try:
        await execution._drive_async(lambda: bool(hit) or not execution._is_active(), _what(execution, step, want))
    finally:
        execution._engine.pause_at = None
    return _stopped(execution, step, want, hit)


def _what(execution: Execution, step: str, want: str | None) -> str:
    thread = "the main thread" if want is None else f"branch {want!r}"
    return f"waiting for {thread} of execution {execution.id} to reach step {step!r}"


def _arm(execution: Execution, step: str, branch: Any) -> tuple[str | None, list[WorkflowThread]]:
    known = {item.name for item in execution.workflow.definition.steps()}
    if not isinstance(step, str) or step not in known:
        close = difflib.get_close_matches(str(step), sorted(known), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise WfCallbacksError(f"run_until_step({step!r}): workflow {execution.workflow.name!r} has no step of that "
                               f"name{hint}")
    want = None if branch is None else _branch_key(branch)
    hit: list[WorkflowThread] = []

    def pause_at(th: WorkflowThread, entering: Step) -> bool:
        if entering.name != step or th.expression_calls or not _matches(th, want) or hit:
            return False
        hit.append(th)
        return True

    execution._engine.pause_at = pause_at
    return want, hit


def _stopped(execution: Execution, step: str, want: str | None, hit: list[WorkflowThread]) -> Execution:
    __tracebackhide__ = True
    if not hit:
        thread = "the main thread" if want is None else f"branch {want!r}"
        error = f" with error {json_or_repr(execution.error)}" if execution.error is not None else ""
        raise ExecutionFinished(f"execution {execution.id} ended ({execution.state.value}{error}) before "
                                f"{thread} reached step {step!r}\n{execution._runtime.render_state()}")
    return execution


def variables(execution: Execution, branch: Any = None) -> dict[str, Any]:
    """A deep copy of the variables the chosen thread sees now (see `Execution.variables`)."""
    want = None if branch is None else _branch_key(branch)
    with execution._runtime._kernel.lock:
        if want is None:
            thread = execution._main
        else:
            found = [th for th in execution._threads() if _matches(th, want)]
            if not found:
                live = sorted(th.label or str(th.branch_id) for th in execution._threads() if th.branch_id)
                raise WfCallbacksError(f"variables(branch={branch!r}): execution {execution.id} has no running "
                                       f"branch of that name or loop value (running: {', '.join(live) or 'none'})")
            thread = found[0]
        chain = []
        scope: Scope | None = thread.scope
        while scope is not None:
            chain.append(scope.vars)
            scope = scope.parent
        seen: dict[str, Any] = {}
        for names in reversed(chain):  # outermost first: inner scopes shadow
            seen.update(names)
        return {name: copy_value(value) for name, value in seen.items()}


__all__ = ["check_entry", "entry_body", "run_until_step", "run_until_step_async", "variables"]

"""Fakes for a workflow's own subworkflows (``workflow_runtime.subworkflows``).

A test of ``main`` often wants a subworkflow out of the way (a payment step that
calls three services, say): `SubworkflowRegistry.fake` answers every call to it —
a call step or an expression call, with the arguments bound and checked exactly as
for the real subworkflow (unknown or missing params still raise ``TypeError``) —
instead of running its steps. The options and the answer are the ones connector
fakes take (fakes.py); an error is raised in the caller, where the call is, so
the caller's ``try`` / ``retry`` / ``except`` see it as if the subworkflow had raised
it. Each answered call is recorded: on the fake (`SubworkflowCall`), in the history
(`EventKind.SUBWORKFLOW_FAKED`), and on the call step's step entry (``faked``).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .clock import ns_to_datetime, seconds_to_ns
from .errors import WfCallbacksError, WorkflowError, wf_error
from .fakes import MISSING, FakeBase, FakeError, FakeOptions, answer, check_options
from .history import EventKind
from .interpreter.threads import BLOCK, ExecutionStopped
from .step_entries import STATE_IN_PROGRESS
from .values import copy_value

if TYPE_CHECKING:
    from .interpreter.host import ExecutionHost
    from .interpreter.threads import WorkflowThread


class SubworkflowError(FakeError):
    """Raise it from a subworkflow fake's handler (or put it in ``results=``) to fail that call.

    ``value`` is the error the caller's ``except`` receives (a map with ``message`` and
    ``tags``, or a string).
    """


@dataclass(frozen=True)
class SubworkflowCall:
    """One call a subworkflow fake answered: ``args`` maps every param (defaults applied) to its value."""

    name: str
    args: dict[str, Any]
    workflow: str  # the deployed workflow's name
    execution: Any  # the calling `Execution`
    step: str
    branch: str | None
    ns: int

    @property
    def time(self) -> datetime:
        """Virtual time of the call (aware UTC datetime)."""
        return ns_to_datetime(self.ns)


class SubworkflowFake(FakeBase):
    """Answers calls to the subworkflow ``name`` (of the workflow named ``workflow``, or of any)."""

    def __init__(self, name: str, workflow: str | None, options: FakeOptions) -> None:
        super().__init__(options)
        self.name = name
        self.workflow = workflow
        self.calls: list[SubworkflowCall] = []

    def __repr__(self) -> str:
        scope = f" of {self.workflow}" if self.workflow else ""
        return f"<SubworkflowFake {self.name}{scope} ({self.call_count} calls)>"


@dataclass
class _Problems:
    fake_errors: list[str] = field(default_factory=list)
    reported_unknown: set[tuple[str, str | None]] = field(default_factory=set)


class SubworkflowRegistry:
    """The subworkflow fakes of one runtime (fresh per test), shaped like `ConnectorRegistry`::

        fake = workflow_runtime.subworkflows.fake("charge", returns={"status": "paid"})
        assert workflow_runtime.run("checkout.yaml", {"total": 30}).value == "paid"
        assert fake.calls[0].args == {"amount": 30, "currency": "EUR"}
    """

    def __init__(self) -> None:
        self._fakes: dict[tuple[str, str | None], SubworkflowFake] = {}
        #: Every call a fake answered, in order.
        self.calls: list[SubworkflowCall] = []
        self._problems = _Problems()

    # ------------------------------------------------------------------ public
    def fake(self, name: str, handler: Callable[[SubworkflowCall], Any] | None = None, *, returns: Any = MISSING,
             raises: Any = MISSING, results: Sequence[Any] | None = None, after: float = 0,
             workflow: str | None = None) -> SubworkflowFake:
        """Answer calls to subworkflow ``name`` instead of running its steps.

        Give at most one of ``handler(call)`` (returns the result or raises
        `SubworkflowError`), ``returns=`` (a constant), ``raises=`` (a Workflows error
        value: string or map, raised where the call is), ``results=[...]`` (one outcome
        per call: a value or a `SubworkflowError`; a call past the end fails with
        ``SystemError`` and is reported by `WorkflowRuntime.check`). With none the call
        returns ``null``. ``after`` is the virtual seconds each call takes; ``workflow``
        limits the fake to the deployed workflow of that name. Faking the same name
        (and workflow) again replaces the earlier fake.
        """
        if not isinstance(name, str) or not name:
            raise WfCallbacksError(f"subworkflows.fake needs a subworkflow name, got {name!r}")
        if name == "main":
            raise WfCallbacksError("subworkflows.fake('main'): main is the execution itself, not a subworkflow; "
                                   "fake the subworkflows it calls")
        if workflow is not None and not isinstance(workflow, str):
            raise WfCallbacksError(f"subworkflows.fake({name!r}): workflow= takes a deployed workflow's name, "
                                   f"got {workflow!r}")
        options = check_options(f"subworkflows.fake({name!r})", handler, returns, raises, results, after,
                                SubworkflowError)
        fake = SubworkflowFake(name, workflow, options)
        self._fakes[(name, workflow)] = fake
        return fake

    def __getitem__(self, name: str) -> SubworkflowFake:
        """The fake of subworkflow ``name`` for any workflow (registered without ``workflow=``)."""
        try:
            return self._fakes[(name, None)]
        except KeyError:
            known = sorted(f"{n}" + (f" (workflow {w})" if w else "") for n, w in self._fakes)
            raise KeyError(f"no subworkflow fake registered as {name!r}; registered: {known}") from None

    @property
    def fakes(self) -> list[SubworkflowFake]:
        """The registered fakes, in registration order."""
        return list(self._fakes.values())

    @property
    def call_count(self) -> int:
        """How many calls the fakes answered."""
        return len(self.calls)

    def use_fakes_of(self, other: SubworkflowRegistry) -> None:
        """Answer calls with ``other``'s fakes (the same objects), as `WorkflowRuntime.explore`'s probes do."""
        self._fakes = other._fakes

    # ------------------------------------------------------------------ check()
    def problems(self, deployed: Mapping[str, Sequence[str]]) -> list[str]:
        """What `WorkflowRuntime.check` reports: fakes no deployed workflow can call, handlers that broke.

        ``deployed`` maps each deployed workflow's name to its subworkflows' names.
        """
        lines: list[str] = []
        unknown: list[str] = []
        for (name, workflow), fake in self._fakes.items():
            if (name, workflow) in self._problems.reported_unknown:
                continue
            if workflow is not None and workflow not in deployed:
                close = difflib.get_close_matches(workflow, sorted(deployed), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                unknown.append(f"  - {fake!r}: no workflow named {workflow!r} is deployed{hint}")
            else:
                names = set(deployed.get(workflow, ())) if workflow is not None else {
                    routine for routines in deployed.values() for routine in routines}
                if name in names:
                    continue
                close = difflib.get_close_matches(name, sorted(names), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                where = f"workflow {workflow!r}" if workflow is not None else "no deployed workflow"
                unknown.append(f"  - {fake!r}: {where} defines a subworkflow {name!r}{hint}"
                               if workflow is None else f"  - {fake!r}: {where} has no subworkflow {name!r}{hint}")
            self._problems.reported_unknown.add((name, workflow))
        if unknown:
            lines.append("subworkflow fakes for subworkflows that no deployed workflow defines (a typo?):")
            lines.extend(unknown)
        if self._problems.fake_errors:
            lines.append("subworkflow fakes that failed a call (fix the fake on workflow_runtime.subworkflows):")
            lines.extend(f"  - {item}" for item in self._problems.fake_errors)
        return lines

    def forget_problems(self) -> None:
        """Drop what was reported (`WorkflowRuntime.check` reports a problem once)."""
        self._problems.fake_errors.clear()

    def absorb_problems(self, other: SubworkflowRegistry) -> None:
        """Keep a probe runtime's fake errors here (`WorkflowRuntime.explore`)."""
        self._problems.fake_errors.extend(other._problems.fake_errors)

    # ------------------------------------------------------------------ interpreter hook
    def dispatch(self, th: WorkflowThread, workflow: str, name: str,
                 params: dict[str, Any]) -> Generator[Any, Any, Any] | None:
        """The fake answering a call to ``name`` in ``workflow`` (a generator to yield from), or None."""
        if not self._fakes:
            return None
        fake = self._fakes.get((name, workflow)) or self._fakes.get((name, None))
        if fake is None:
            return None
        return self._answer_call(th, fake, workflow, name, params)

    def _answer_call(self, th: WorkflowThread, fake: SubworkflowFake, workflow: str, name: str,
                     params: dict[str, Any]) -> Generator[Any, Any, Any]:
        host = th.host
        call = SubworkflowCall(name, {k: copy_value(v) for k, v in params.items()}, workflow, host.facade,
                               th.step_name(), th.branch_id, host.clock.now_ns)
        fake.calls.append(call)
        self.calls.append(call)
        host.record_event(EventKind.SUBWORKFLOW_FAKED, th, subworkflow=name, after=fake.after)
        _mark_entry(host, th, name)
        handler = fake.handler
        outcome = answer(fake, f"subworkflow {name}", f"execution {host.id} step {call.step!r}",
                         lambda: handler(call) if handler is not None else None,
                         self._problems.fake_errors, "SubworkflowError")
        if fake.after > 0:
            if th.expression_calls:
                raise wf_error("SystemError", f"subworkflow {name} is called inside an expression, where a call "
                                              f"cannot wait; its fake takes after={fake.after:g} seconds")
            yield from _take(th, fake.after, name)
        if isinstance(outcome, FakeError):
            raise WorkflowError(copy_value(outcome.value))
        return outcome


def _take(th: WorkflowThread, seconds: float, name: str) -> Generator[Any, Any, None]:
    """Block ``th`` for the ``after`` seconds a faked call takes (a wait of its own, not a ``sleep``:
    the timeline shows it as the faked call)."""
    if th.stopped:  # its execution ended while it ran: unwind, do not start waiting
        raise ExecutionStopped()
    kernel = th.kernel
    deadline = kernel.clock.now_ns + seconds_to_ns(seconds)

    def answered() -> None:
        th.host.record_event(EventKind.TIMER_FIRED, th, reason=f"faked subworkflow {name} answered")
        kernel.wake(th)

    with kernel.lock:
        timer = kernel.clock.call_at(deadline, answered, label=f"fake of subworkflow {name} ({th.describe()})")
        th.block(lambda: f"faked subworkflow {name}: answers at {kernel.format_ns(deadline)}", timer.cancel)
    yield BLOCK
    th.take_resume()


def _mark_entry(host: ExecutionHost, th: WorkflowThread, name: str) -> None:
    """Mark the call step's entry as faked (a call step to ``name``: an expression's call has no entry)."""
    step = th.step
    if th.expression_calls or getattr(step, "subworkflow", None) != name:
        return
    rows = host.record.step_entries
    for row in reversed(rows):  # its entry is among the last: other threads ran at most a few steps since
        if row[1] is step and row[2] == th.branch_id and row[5] == STATE_IN_PROGRESS:
            host.record.faked_entries.add(row[0])
            return


__all__ = ["SubworkflowCall", "SubworkflowError", "SubworkflowFake", "SubworkflowRegistry"]

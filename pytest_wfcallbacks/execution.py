"""Execution: one run of a workflow, as the test drives and reads it.

An `Execution` is the facade over one execution's record (history, step entries,
logs, callbacks) and its main thread: the drive methods hand the kernel a stop
condition (interpreter/scheduler.py) and the readers copy what the engine recorded.
`WorkflowRuntime` (runtime.py) creates executions and settles their final state;
the engine reaches an execution only through its host (hosting.py).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import coverage_map
from .callbacks import Callback, Endpoint
from .clock import NS, ns_to_datetime, seconds_to_ns
from .errors import ExecutionCancelled, WfCallbacksError, WorkflowError, WorkflowFailed, error_tags, wf_error
from .history import EventKind, HistoryEvent
from .hosting import ExecutionHostImpl
from .interpreter.engine import Engine, step_type
from .interpreter.scheduler import drive_async
from .interpreter.threads import MemoryMeter, Scope, ThreadState, WorkflowThread
from .record import ExecutionRecord, LogEntry, ThreadSnapshot
from .step_entries import StepEntry, thread_path
from .values import copy_value, json_decode

if TYPE_CHECKING:
    from .runtime import Workflow, WorkflowRuntime


class ExecutionState(str, enum.Enum):
    """State of an execution (a ``str`` enum: ``state == "ACTIVE"`` holds)."""

    ACTIVE = "ACTIVE"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    def __str__(self) -> str:
        return self.value


class ExecutionFinished(WfCallbacksError):
    """A drive waited for something (a new callback, an await) but the execution ended first."""



class Execution:
    """One execution of a workflow, driven by the test."""

    def __init__(self, runtime: WorkflowRuntime, workflow: Workflow, execution_id: str,
                 argument_json: str | None) -> None:
        self._runtime = runtime
        self.workflow = workflow
        self.id = execution_id
        settings = runtime.settings
        self.name = (f"projects/{settings.project}/locations/{settings.location}/workflows/{workflow.name}"
                     f"/executions/{execution_id}")
        self._argument_json = argument_json
        self.state = ExecutionState.ACTIVE
        self.error: Any = None
        self.value: Any = None
        #: What the run leaves behind (the engine writes it; readers read it).
        # Switch and try outcomes are recorded only while a coverage reader listens (coverage_map.py).
        self._rec = ExecutionRecord(decisions=[] if coverage_map.LISTENERS else None,
                                    limit=runtime.settings.limits.record_entries)
        self._history: list[HistoryEvent] = self._rec.history
        self._endpoints: dict[str, Endpoint] = {}
        self._endpoints_by_url: dict[str, Endpoint] = {}
        self._returned_callbacks = 0
        self._logs: list[LogEntry] = self._rec.logs
        self._internal_errors: list[BaseException] = self._rec.internal_errors
        self._failure_where: str = ""
        self._start_ns = runtime.clock.now_ns
        self._end_ns: int | None = None
        self._await_seq = 0
        self._on_end: list[Callable[[], None]] = []
        self._env = {
            "GOOGLE_CLOUD_PROJECT_ID": settings.project,
            "GOOGLE_CLOUD_PROJECT_NUMBER": settings.project_number,
            "GOOGLE_CLOUD_LOCATION": settings.location,
            "GOOGLE_CLOUD_SERVICE_ACCOUNT_NAME": settings.service_account,
            "GOOGLE_CLOUD_WORKFLOW_ID": workflow.name,
            "GOOGLE_CLOUD_WORKFLOW_REVISION_ID": workflow.revision_id,
            "GOOGLE_CLOUD_WORKFLOW_EXECUTION_ID": execution_id,
            **settings.env,
            **workflow.env,
        }
        self._memory = MemoryMeter(settings.limits.memory_bytes)
        self._host = ExecutionHostImpl(self)
        self._engine = self._host.engine = Engine(workflow.definition, self._host)
        kernel = runtime._kernel
        self._main = WorkflowThread(kernel, self._host, label=None, branch_id=None, scope=Scope())
        self._deadline_timer = runtime.clock.call_at(
            # +1 ns: an execution may last exactly the limit (a one-year sleep finishes).
            self._start_ns + seconds_to_ns(settings.limits.execution_seconds) + 1, self._on_duration_limit,
            label=f"execution {execution_id} duration limit", watchdog=True)

    # ------------------------------------------------------------------ facts
    @property
    def argument(self) -> Any:
        """The execution argument (a fresh copy on each read; None when there was none)."""
        return None if self._argument_json is None else json_decode(self._argument_json)

    @property
    def logs(self) -> list[LogEntry]:
        """``sys.log`` entries, in order."""
        return list(self._logs)

    @property
    def callbacks(self) -> list[Callback]:
        """Callback endpoints in creation order."""
        return [Callback(ep) for ep in self._endpoints.values()]

    @property
    def history(self) -> list[HistoryEvent]:
        """Every event so far (frozen)."""
        with self._runtime._kernel.lock:
            return list(self._history)

    @property
    def tags(self) -> list[str]:
        """The error's tags (empty unless FAILED with a map error)."""
        return error_tags(self.error)

    @property
    def start_time(self) -> datetime:
        """Virtual start time."""
        return ns_to_datetime(self._start_ns)

    @property
    def end_time(self) -> datetime | None:
        """Virtual end time (None while ACTIVE)."""
        return None if self._end_ns is None else ns_to_datetime(self._end_ns)

    @property
    def duration(self) -> float | None:
        """Virtual seconds from start to end (None while ACTIVE)."""
        return None if self._end_ns is None else (self._end_ns - self._start_ns) / NS

    @property
    def steps_executed(self) -> int:
        """Steps run so far (the service's step count)."""
        return self._rec.steps

    @property
    def record(self) -> ExecutionRecord:
        """What the run has left behind so far (the live lists: `history` and `logs` are copies of them)."""
        return self._rec

    def live_threads(self) -> list[ThreadSnapshot]:
        """The threads of this execution that have not ended, as failure reports show them."""
        with self._runtime._kernel.lock:
            return [ThreadSnapshot(t.describe(), t.routine, t.step_name() or None, t.state.value, t.waiting_text())
                    for t in self._threads()]

    @property
    def step_entries(self) -> list[StepEntry]:
        """One `StepEntry` per step entered, in entry order (the service's ``stepEntries``)."""
        with self._runtime._kernel.lock:
            faked = self._rec.faked_entries
            return [StepEntry.from_row(row, step_type(row[1]), row[0] in faked) for row in self._rec.step_entries]

    def path(self, branch: str | None = None) -> list[str]:
        """Names of the steps one thread entered, in order: the main thread (and the subworkflows
        it called) by default, or the parallel ``branch`` given by its id (``par/b1``, ``loop[0]``) or label."""
        return thread_path(self.step_entries, branch, self._branch_labels())

    def branch_order(self, step: str) -> list[Any]:
        """Parallel branches in the order they first entered ``step``: a branch by its name, a
        parallel-`for` iteration by its loop value, with its type (``1``, not ``"1"``)."""
        seen: list[Any] = []
        names: dict[str, Any] = {}
        for item in self._history:
            if item.kind is EventKind.BRANCH_STARTED and item.branch is not None:
                details = item.details
                names[item.branch] = details["value"] if "value" in details else str(details.get("label"))
        entered: set[str] = set()
        for item in self.history:
            if (item.kind is EventKind.STEP_ENTERED and item.step == step and item.branch is not None
                    and item.branch not in entered):
                entered.add(item.branch)
                seen.append(names.get(item.branch, item.branch))
        return seen

    def timeline(self) -> str:
        """A text picture of the execution on its virtual time axis: one row per thread, waits, callbacks."""
        from .report import render_timeline

        return render_timeline(self)

    def save_report(self, path: str | os.PathLike[str]) -> Path:
        """Write one self-contained HTML report of the execution to ``path``; returns the path."""
        from .report import save_report

        return save_report(self, path)

    def _branch_labels(self) -> dict[str, str]:
        labels: dict[str, str] = {}
        for item in self._history:
            if item.kind is EventKind.BRANCH_STARTED and item.branch is not None:
                labels[item.branch] = str(item.details.get("label"))
        return labels

    def _is_active(self) -> bool:
        return self.state is ExecutionState.ACTIVE

    def _when_ended(self, hook: Callable[[], None]) -> None:
        """Call ``hook()`` (under the kernel lock) once the execution has its final state; now if it has."""
        with self._runtime._kernel.lock:
            if self._is_active():
                self._on_end.append(hook)
                return
        hook()

    # ------------------------------------------------------------------ driving
    def _threads(self) -> list[WorkflowThread]:
        return [t for t in self._runtime._kernel.threads if t.host is self._host and t.state is not ThreadState.DONE]

    def _drive(self, done: Callable[[], bool], what: str) -> None:
        __tracebackhide__ = True  # failures point at the test, not at the driver
        self._runtime._kernel.drive(done, self._runtime.render_state, what=what)

    def wait(self) -> Execution:
        """Drive to the end (moving virtual time when nothing else can); returns the execution."""
        __tracebackhide__ = True  # failures point at the test, not at the driver
        self._drive(lambda: not self._is_active(), f"waiting for execution {self.id} to end")
        return self

    def result(self) -> Any:
        """Drive to the end and return the value; raises WorkflowFailed or ExecutionCancelled."""
        __tracebackhide__ = True  # failures point at the test, not at the driver
        self.wait()
        return self._result_or_raise()

    def _result_or_raise(self) -> Any:
        __tracebackhide__ = True  # failures point at the test, not at the driver
        if self.state is ExecutionState.FAILED:
            raise WorkflowFailed(self, self.error, self._runtime.failure_report(self))
        if self.state is ExecutionState.CANCELLED:
            raise ExecutionCancelled(self)
        return self.value

    def wait_for_callback(self) -> Callback:
        """Drive until the execution creates a callback endpoint not returned before; return it."""
        __tracebackhide__ = True  # failures point at the test, not at the driver
        self._drive(lambda: len(self._endpoints) > self._returned_callbacks or not self._is_active(),
                    f"waiting for execution {self.id} to create a callback endpoint")
        return self._next_callback()

    def _next_callback(self) -> Callback:
        __tracebackhide__ = True  # failures point at the test, not at the driver
        if len(self._endpoints) > self._returned_callbacks:
            endpoint = list(self._endpoints.values())[self._returned_callbacks]
            self._returned_callbacks += 1
            return Callback(endpoint)
        if self.state is ExecutionState.FAILED:
            raise WorkflowFailed(self, self.error, self._runtime.failure_report(self))
        raise ExecutionFinished(
            f"execution {self.id} ended ({self.state.value}) without creating another callback endpoint "
            f"({self._returned_callbacks} returned before)\n{self._runtime.render_state()}"
        )

    def wait_until_awaiting(self, callback: Callback | None = None) -> Execution:
        """Drive until a thread waits in ``events.await_callback`` (on ``callback`` when given)."""
        __tracebackhide__ = True  # failures point at the test, not at the driver
        awaiting = self._awaiting(callback)
        self._drive(awaiting, f"waiting for execution {self.id} to await a callback")
        return self._check_awaiting(callback)

    def _awaiting(self, callback: Callback | None) -> Callable[[], bool]:
        """The drive's stop condition: an await waits (on ``callback``), or the execution ended."""
        endpoints = [callback._endpoint] if callback is not None else None

        def awaiting() -> bool:
            candidates = endpoints if endpoints is not None else list(self._endpoints.values())
            return any(ep.waiters for ep in candidates) or not self._is_active()

        return awaiting

    def _check_awaiting(self, callback: Callback | None) -> Execution:
        __tracebackhide__ = True
        candidates = [callback._endpoint] if callback is not None else list(self._endpoints.values())
        if not any(ep.waiters for ep in candidates):
            if self.state is ExecutionState.FAILED:
                raise WorkflowFailed(self, self.error, self._runtime.failure_report(self))
            raise ExecutionFinished(
                f"execution {self.id} ended ({self.state.value}) before awaiting a callback\n"
                f"{self._runtime.render_state()}")
        return self

    def run_until_idle(self) -> Execution:
        """Run what can run without moving the clock."""
        self._runtime._kernel.run_until_idle(what=f"running execution {self.id} until idle")
        return self

    def run_until_step(self, step: str, *, branch: Any = None) -> Execution:
        """Drive until the main thread (or the parallel ``branch``, by branch name or loop value) is about to
        enter ``step``; raises `ExecutionFinished` if the execution ends first. Driving again goes on from there."""
        __tracebackhide__ = True  # failures point at the test, not at the driver
        from .parts import run_until_step

        return run_until_step(self, step, branch)

    def variables(self, branch: Any = None) -> dict[str, Any]:
        """A deep copy of the variables the main thread (or the running ``branch``) sees now."""
        from .parts import variables

        return variables(self, branch)

    def cancel(self) -> None:
        """Cancel the execution: threads stop, endpoints answer 404 from now on."""
        self._runtime._cancel(self)

    # ------------------------------------------------------------------ async twins
    async def _drive_async(self, done: Callable[[], bool], what: str) -> None:
        """The async drive (`scheduler.drive_async`): the event loop keeps running while the execution waits."""
        runtime = self._runtime
        await drive_async(runtime._kernel, done, runtime.render_state, what, runtime.settings.async_settle)

    async def wait_async(self) -> Execution:
        """`wait` that lets the event loop run while the execution waits."""
        await self._drive_async(lambda: not self._is_active(), f"waiting for execution {self.id} to end")
        return self

    async def result_async(self) -> Any:
        """`result` that lets the event loop run while the execution waits."""
        await self.wait_async()
        return self._result_or_raise()

    async def wait_for_callback_async(self) -> Callback:
        """`wait_for_callback` that lets the event loop run."""
        await self._drive_async(lambda: len(self._endpoints) > self._returned_callbacks or not self._is_active(),
                                f"waiting for execution {self.id} to create a callback endpoint")
        return self._next_callback()

    async def wait_until_awaiting_async(self, callback: Callback | None = None) -> Execution:
        """`wait_until_awaiting` that lets the event loop run."""
        await self._drive_async(self._awaiting(callback), f"waiting for execution {self.id} to await a callback")
        return self._check_awaiting(callback)

    async def run_until_step_async(self, step: str, *, branch: Any = None) -> Execution:
        """`run_until_step` that lets the event loop run."""
        from .parts import run_until_step_async

        return await run_until_step_async(self, step, branch)

    # ------------------------------------------------------------------ interpreter hooks
    def _record(self, kind: EventKind, th: WorkflowThread | None, **details: Any) -> None:
        clock = self._runtime.clock
        step = th.step_name() if th is not None else None
        self._rec.add(kind, clock.now_ns, th.branch_id if th is not None else None, step or None, **details)

    def _next_await_seq(self) -> int:
        self._await_seq += 1
        return self._await_seq

    def _log(self, th: WorkflowThread, severity: str, payload: Any) -> None:
        entry = LogEntry(severity, copy_value(payload), self._runtime.clock.now_ns, th.branch_id, th.step_name())
        self._logs.append(entry)
        self._record(EventKind.LOG, th, severity=severity, payload=entry.payload)
        self._runtime._emit_log(self, entry)

    def _on_duration_limit(self) -> None:
        if self._is_active():
            self._fail(wf_error("TimeoutError", "the execution ran longer than the one-year duration limit"))

    def _fail(self, error: WorkflowError) -> None:
        self._runtime._end_execution(self, ExecutionState.FAILED, None, error)

    def __repr__(self) -> str:
        return f"<Execution {self.id} {self.state.value} of {self.workflow.name}>"


__all__ = ["Execution", "ExecutionFinished", "ExecutionState"]

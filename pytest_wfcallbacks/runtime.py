"""WorkflowRuntime, Workflow and Execution: the public objects a test drives.

A runtime owns one virtual clock, one kernel (threads, run queue, lock), a
seeded id source, an outbound-HTTP mock router, and every execution started on
it. Callback requests arrive on the shared loopback server's threads and are
answered by `WorkflowRuntime._handle_callback_request` under the kernel lock;
everything else runs on the test's thread, inside ``execute`` and the drive
methods of `Execution`. The engine and the effect modules below never see these
objects: they get the host interface (interpreter/host.py), which hosting.py
implements for them.
"""

from __future__ import annotations

import enum
import os
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from . import coverage_map, loopback
from .callbacks import Callback, Endpoint
from .clock import NS, VirtualClock, datetime_to_ns, ns_to_datetime, seconds_to_ns
from .connectors import ConnectorRegistry
from .definition import Definition
from .deploy_cache import deploy_definition
from .errors import (
    DeadlockError,
    ExecutionCancelled,
    WfCallbacksError,
    WorkflowError,
    WorkflowFailed,
    WorkflowSyntaxError,
    error_tags,
    internal_error,
    wf_error,
)
from .history import EventKind, HistoryEvent
from .hosting import ExecutionHostImpl, RuntimeHostImpl
from .interpreter.engine import Engine, step_type
from .interpreter.scheduler import Kernel, drive_async
from .interpreter.threads import BranchAborted, MemoryMeter, Scope, ThreadState, WorkflowThread
from .outbound import OutboundHttp
from .record import ExecutionRecord, LogEntry, ThreadSnapshot
from .settings import SETTING_NAMES, Settings, make_settings
from .source import looks_like_path
from .stdlib import load_all
from .step_entries import StepEntry, cancel_unfinished, thread_path
from .values import copy_value, from_python, json_decode, json_encode, json_or_repr, value_size

#: Every runtime not yet closed (assertion helpers look up the execution behind a callback URL).
_LIVE_RUNTIMES: weakref.WeakSet[WorkflowRuntime] = weakref.WeakSet()


def live_runtimes() -> list[WorkflowRuntime]:
    """Runtimes of this process that are not closed yet."""
    return [runtime for runtime in list(_LIVE_RUNTIMES) if not runtime._closed]


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


@dataclass(frozen=True)
class Outcome:
    """One distinct way an execution ended (`WorkflowRuntime.explore`)."""

    state: ExecutionState
    value: Any
    error: Any
    seed: int

    @property
    def tags(self) -> list[str]:
        """Error tags (empty when it succeeded)."""
        return error_tags(self.error)


class Workflow:
    """A deployed workflow."""

    def __init__(self, runtime: WorkflowRuntime, name: str, definition: Definition, env: dict[str, str]) -> None:
        self._runtime = runtime
        self.name = name
        self.definition = definition
        self.env = env

    @property
    def source(self) -> str:
        """The file it was loaded from, or ``<workflow>``."""
        return self.definition.source.file

    def execute(self, argument: Any = None) -> Execution:
        """Start an execution and run it until every thread blocks or ends (the clock does not move)."""
        return self._runtime.execute(self, argument)

    def run(self, argument: Any = None) -> Execution:
        """Start an execution and drive it to the end."""
        return self._runtime.run(self, argument)

    def __repr__(self) -> str:
        return f"<Workflow {self.name} from {self.source}>"


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
            "GOOGLE_CLOUD_WORKFLOW_REVISION_ID": "000001-abc",
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
            return [StepEntry.from_row(row, step_type(row[1])) for row in self._rec.step_entries]

    def path(self, branch: str | None = None) -> list[str]:
        """Names of the steps one thread entered, in order: the main thread (and the subworkflows
        it called) by default, or the parallel ``branch`` given by its id (``par/b1``, ``loop[0]``) or label."""
        return thread_path(self.step_entries, branch, self._branch_labels())

    def branch_order(self, step: str) -> list[str]:
        """Labels of parallel branches in the order they first entered ``step``."""
        seen: list[str] = []
        labels = self._branch_labels()
        for item in self.history:
            if item.kind is EventKind.STEP_ENTERED and item.step == step and item.branch is not None:
                label = labels.get(item.branch, item.branch)
                if label not in seen:
                    seen.append(label)
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


class WorkflowRuntime:
    """Runs workflows on a virtual clock and serves their callbacks on loopback.

    Use it through the ``workflow_runtime`` fixture, or directly::

        with WorkflowRuntime(seed=3) as runtime:
            execution = runtime.execute("workflow.yaml")
    """

    def __init__(self, *, server: Any = None, **settings: Any) -> None:
        self.settings: Settings = make_settings(**settings)
        self.clock = VirtualClock(self.settings.start_time)
        self._kernel = Kernel(self.settings, self.clock)
        self.clock._driver = self._kernel
        self._kernel.on_thread_done = self._thread_done
        self._kernel.describe = self.render_state
        self._registry = load_all()
        self._own_server = server is None
        if server is None:
            from .server import WorkflowServer

            server = WorkflowServer()
        self._server = server
        self._closed = False
        self.executions: list[Execution] = []
        self._executions_by_id: dict[str, Execution] = {}
        self._workflows: dict[str, Workflow] = {}
        self._server_errors: list[str] = []
        self._probe_internal_errors: list[BaseException] = []
        #: The interface the engine's effects use (callbacks, outbound HTTP, connectors); see interpreter/host.py.
        self.host = RuntimeHostImpl(self)
        self._http = OutboundHttp(self.host)
        self.connectors = ConnectorRegistry(self.host)  # fakes for `googleapis.*` calls; see connectors.py
        self._log_listeners: list[Callable[[Execution, LogEntry], None]] = []
        self._deploy_counter = 0
        from .api import attach

        attach(self)  # reachable through the Workflows / Executions REST API of its server
        _LIVE_RUNTIMES.add(self)

    # ------------------------------------------------------------------ public
    @property
    def base_url(self) -> str:
        """The loopback server's base URL (``http://127.0.0.1:<port>``)."""
        return str(self._server.base_url)

    @property
    def http(self) -> Any:
        """The respx router that answers the workflows' ``http.*`` calls."""
        return self._http.router

    @property
    def workflows(self) -> dict[str, Workflow]:
        """Deployed workflows by name."""
        return dict(self._workflows)

    def deploy(self, source: Any, *, name: str | None = None, env: dict[str, str] | None = None) -> Workflow:
        """Validate a definition like a deploy does; raises WorkflowSyntaxError with file, line, column, step."""
        # Cached across runtimes on (file, text, limits): an unchanged file is not parsed again.
        definition = deploy_definition(source, self._registry, self.settings.limits)
        if name is None:
            if looks_like_path(source):
                base = Path(os.fspath(source)).name
                for suffix in (".workflows.yaml", ".workflows.json", ".yaml", ".yml", ".json"):
                    if base.endswith(suffix):
                        base = base[: -len(suffix)]
                        break
                name = base.replace(".", "-").replace("_", "-") or "workflow"
            else:
                self._deploy_counter += 1
                name = "workflow" if self._deploy_counter == 1 else f"workflow-{self._deploy_counter}"
        for key, value in (env or {}).items():
            if not isinstance(key, str) or not isinstance(value, str) or key.startswith(("GOOGLE_", "WORKFLOWS_")):
                raise WorkflowSyntaxError(f"invalid env variable {key!r}: names must not start with GOOGLE_ or "
                                          "WORKFLOWS_ and values must be strings")
        workflow = Workflow(self, name, definition, dict(env or {}))
        self._workflows[name] = workflow
        return workflow

    def _workflow(self, workflow_or_source: Any) -> Workflow:
        if isinstance(workflow_or_source, Workflow):
            if workflow_or_source._runtime is not self:
                raise WfCallbacksError("this workflow was deployed on another runtime")
            return workflow_or_source
        return self.deploy(workflow_or_source)

    def start(self, workflow_or_source: Any, argument: Any = None) -> Execution:
        """Create an ACTIVE execution without running anything: it runs on the next drive.

        This is what the Executions API's create does (it answers before any step runs).
        """
        self._check_open()
        workflow = self._workflow(workflow_or_source)
        value, text = self._checked_argument(argument)
        with self._kernel.lock:
            execution = Execution(self, workflow, self._new_execution_id(), text)
            self.executions.append(execution)
            self._executions_by_id[execution.id] = execution
            # `value` is a fresh copy made by from_python, so the workflow may own it; the
            # execution and its history keep the argument as JSON text.
            execution._record(EventKind.EXECUTION_STARTED, None, argument_json=text)
            size = len(text) if text is not None else 0
            self._kernel.start(execution._main, execution._engine.run_main(execution._main, value, size))
            self._kernel.changed.notify_all()
        return execution

    def execute(self, workflow_or_source: Any, argument: Any = None) -> Execution:
        """Start an execution and run until every thread blocks or ends, without moving the clock."""
        execution = self.start(workflow_or_source, argument)
        self._kernel.run_until_idle(what=f"starting execution {execution.id}")
        return execution

    def _checked_argument(self, argument: Any) -> tuple[Any, str | None]:
        """The argument as a fresh Workflows value and as JSON text (None for no argument)."""
        try:
            value = from_python(argument, where="execution argument")
        except ValueError as exc:
            raise WfCallbacksError(str(exc)) from None
        if value is None:
            return None, None
        text = json_encode(value)
        size = len(text.encode("utf-8"))
        if size > self.settings.limits.argument_bytes:
            raise WfCallbacksError(
                f"execution argument is {size} bytes; the limit is {self.settings.limits.argument_bytes}")
        return value, text

    def run(self, workflow_or_source: Any, argument: Any = None) -> Execution:
        """Start an execution and drive it to the end (`Execution.wait`)."""
        return self.execute(workflow_or_source, argument).wait()

    def at(self, when: datetime | float, action: Callable[[], Any], *, label: str | None = None) -> None:
        """Run ``action()`` when the virtual clock reaches ``when`` (datetime or epoch seconds).

        ``label`` names the action in failure reports (default: the function's name).
        """
        target = datetime_to_ns(when) if isinstance(when, datetime) else seconds_to_ns(float(when))
        if target < self.clock.now_ns:
            raise WfCallbacksError(f"cannot schedule in the past: now is {self.clock.now().isoformat()}")
        with self._kernel.lock:
            self.clock.call_at(target, action, user=True, label=label or _action_label(action))

    def after(self, seconds: float, action: Callable[[], Any], *, label: str | None = None) -> None:
        """Run ``action()`` ``seconds`` of virtual time from now."""
        if seconds < 0:
            raise WfCallbacksError("after() needs a non-negative delay")
        with self._kernel.lock:
            self.clock.call_at(self.clock.now_ns + seconds_to_ns(seconds), action, user=True,
                               label=label or _action_label(action))

    def explore(self, workflow_or_source: Any, argument: Any = None, *, runs: int = 20) -> list[Outcome]:
        """Run under ``runs`` random schedules (seeds 0..runs-1); return the distinct outcomes, one seed each."""
        workflow = self._workflow(workflow_or_source)
        outcomes: list[Outcome] = []
        seen: set[str] = set()
        for seed in range(runs):
            settings = {name: getattr(self.settings, name) for name in SETTING_NAMES}
            settings.update(seed=seed, schedule="random")
            with WorkflowRuntime(server=self._server, **settings) as probe:
                # The probe sees what this runtime has: HTTP mocks, connector fakes, deployed workflows.
                probe._http.router = self._http.router
                probe.connectors.use_fakes_of(self.connectors)
                for name, deployed in {**self._workflows, workflow.name: workflow}.items():
                    probe._workflows[name] = Workflow(probe, name, deployed.definition, deployed.env)
                execution = probe.execute(probe._workflows[workflow.name], argument)
                execution.wait()
                outcome = Outcome(execution.state, execution.value, execution.error, seed)
                self._absorb_problems(probe)
                # Ids differ per seed (docs/decisions.md #29): compare outcomes with them masked.
                key = json_or_repr([outcome.state.value, outcome.value, outcome.error])
                key = key.replace(probe.base_url, "<base>")
                for ident in [execution.id, *execution._endpoints]:
                    key = key.replace(ident, "<id>")
            if key not in seen:
                seen.add(key)
                outcomes.append(outcome)
        return outcomes

    def run_until_idle(self) -> None:
        """Run every execution of this runtime as far as it goes without moving the clock.

        Executions created through the Executions API (by the service under test) run on the
        test's thread: call this (or drive the execution) to let them make progress.
        """
        self._kernel.run_until_idle(what="run_until_idle()")

    def _absorb_problems(self, probe: WorkflowRuntime) -> None:
        """Keep what `check` would report about a probe runtime (explore) on this one."""
        self._server_errors.extend(probe._server_errors)
        self._http.unmocked_calls.extend(probe._http.unmocked_calls)
        self._http.mock_errors.extend(probe._http.mock_errors)
        self.connectors.absorb_problems(probe.connectors)
        for execution in probe.executions:
            self._probe_internal_errors.extend(execution._internal_errors)

    def find_callback(self, url: str) -> Callback:
        """The callback endpoint with this URL, in any execution of this runtime (e.g. inside a mock)."""
        endpoint = self._endpoint_for_url(url.split("?", 1)[0])
        if endpoint is None:
            raise WfCallbacksError(f"no callback endpoint of this runtime has the URL {url!r}")
        return Callback(endpoint)

    def check(self) -> None:
        """Raise one grouped report of background problems (server errors, unmocked outbound calls).

        A problem is reported once: what a call raised is not raised again by the next call
        (nor by the check the fixture runs after the test).
        """
        problems: list[str] = []
        if self._server_errors:
            problems.append("errors on the callback server thread:")
            problems.extend(f"  - {item}" for item in self._server_errors)
        unmocked = self._http.unmocked
        if unmocked:
            problems.append("outbound HTTP calls no mock answered (add routes on workflow_runtime.http):")
            problems.extend(f"  - {item}" for item in unmocked)
        unsent = [(execution, endpoint) for execution in self.executions
                  for endpoint in execution._endpoints.values() if endpoint.on_await]
        if unsent:
            problems.append("requests scheduled with send_on_await that were never sent (no await_callback "
                            "waited on the endpoint again):")
            problems.extend(f"  - {len(endpoint.on_await)} for callback {endpoint.id} of execution {execution.id}"
                            for execution, endpoint in unsent)
        if self._http.mock_errors:
            problems.append("mocks that raised (fix the side effect on workflow_runtime.http):")
            problems.extend(f"  - {item}" for item in self._http.mock_errors)
        problems.extend(self.connectors.problems())
        internal = [e for ex in self.executions for e in ex._internal_errors] + self._probe_internal_errors
        if internal:
            problems.append("internal interpreter errors (please report them):")
            problems.extend(f"  - {item!r}" for item in internal)
        if problems:
            report = "\n".join(["pytest-wfcallbacks found problems after the test:", *problems, "",
                                self.render_state()])
            self._forget_problems()
            raise WfCallbacksError(report)

    def _forget_problems(self) -> None:
        self._server_errors.clear()
        self._http.unmocked_calls.clear()
        self._http.mock_errors.clear()
        self._probe_internal_errors.clear()
        self.connectors.forget_problems()
        for execution in self.executions:
            execution._internal_errors.clear()
            for endpoint in execution._endpoints.values():
                endpoint.on_await.clear()

    def close(self) -> None:
        """Cancel executions still ACTIVE (quietly), stop routing their callbacks, free the server."""
        if self._closed:
            return
        for execution in self.executions:
            if execution._is_active():
                self._cancel(execution)
        self._closed = True
        self._server.unregister_runtime(self)
        self._http.close()
        if self._own_server:
            loopback.forget_server(self.base_url)
            self._server.close()

    def __enter__(self) -> WorkflowRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ reports
    def render_state(self) -> str:
        """The state table used in failure reports."""
        from .assertions import render_runtime_state

        return render_runtime_state(self)

    def failure_report(self, execution: Execution) -> str:
        """Text for WorkflowFailed: the error, where it happened, and the state table."""
        from .assertions import render_failure

        return render_failure(execution)

    # ------------------------------------------------------------------ internals
    def _check_open(self) -> None:
        if self._closed:
            raise WfCallbacksError("this WorkflowRuntime is closed")

    def _uuid(self) -> str:
        import uuid

        return str(uuid.UUID(int=self._kernel.ids.getrandbits(128), version=4))

    def _new_execution_id(self) -> str:
        for _ in range(100):
            candidate = self._uuid()
            if self._server.register_execution(candidate, self):
                return candidate
        raise WfCallbacksError("could not allocate a unique execution id")

    def _endpoint_for_url(self, url: str) -> Endpoint | None:
        for execution in self.executions:
            if url in execution._endpoints_by_url:
                return execution._endpoints_by_url[url]
        return None

    def _thread_done(self, thread: WorkflowThread, value: Any, error: BaseException | None) -> None:
        execution: Execution = thread.host.facade
        if not execution._is_active():
            return
        if error is None:
            try:
                json_encode(value)
                size = 0 if value is None else value_size(value)
            except WorkflowError as exc:
                self._end_execution(execution, ExecutionState.FAILED, None, wf_error(
                    "TypeError", f"the execution result cannot be returned: {exc.value.get('message')}"))
                return
            if size > self.settings.limits.memory_bytes:
                self._end_execution(execution, ExecutionState.FAILED, None, wf_error(
                    "ResourceLimitError", "the execution result exceeds the memory limit"))
                return
            self._end_execution(execution, ExecutionState.SUCCEEDED, value, None)
        elif isinstance(error, WorkflowError):
            self._end_execution(execution, ExecutionState.FAILED, None, error)
        elif isinstance(error, BranchAborted):
            self._end_execution(execution, ExecutionState.CANCELLED, None, None)
        else:
            execution._internal_errors.append(error)
            self._end_execution(execution, ExecutionState.FAILED, None, internal_error(error))

    def _end_execution(self, execution: Execution, state: ExecutionState, value: Any,
                       error: WorkflowError | None) -> None:
        with self._kernel.lock:
            if not execution._is_active():
                return
            execution.state = state
            execution.value = value
            if error is not None:
                execution.error = error.value
                from .assertions import describe_error_location

                execution._failure_where = describe_error_location(execution, error)
            execution._end_ns = self.clock.now_ns
            execution._deadline_timer.cancel()
            # Stop every other thread of the execution; endpoints close (404 from now on).
            self._kernel.stop_execution(execution._host)
            if state is not ExecutionState.SUCCEEDED:  # a success has joined every thread: nothing is left open
                cancel_unfinished(execution._rec.step_entries, self.clock.now_ns)
            for endpoint in execution._endpoints.values():
                for waiter in endpoint.waiters:
                    if waiter.timer is not None:
                        waiter.timer.cancel()
                endpoint.waiters.clear()
            details: dict[str, Any] = {"state": state.value}
            if error is not None:
                details["error"] = copy_value(error.value)
            execution._record(EventKind.EXECUTION_ENDED, None, **details)
            record = execution._rec
            if record.decisions is not None:  # a coverage reader listens: hand it what this execution ran
                coverage_map.notify(execution.workflow.definition, record.history, record.decisions)
            hooks, execution._on_end = execution._on_end, []
            for hook in hooks:
                hook()
            self._kernel.changed.notify_all()

    def _cancel(self, execution: Execution) -> None:
        with self._kernel.lock:
            if not execution._is_active():
                return
            self._end_execution(execution, ExecutionState.CANCELLED, None, None)
            execution.error = {"message": "Execution cancelled", "tags": ["CancelledError"]}

    def _emit_log(self, execution: Execution, entry: LogEntry) -> None:
        for listener in self._log_listeners:
            listener(execution, entry)

    def _http_client(self) -> httpx.Client:
        # One shared keep-alive client for loopback, immune to the test's own respx mocks (loopback.py).
        return loopback.client()

    def _send_http(self, args: dict[str, Any]) -> httpx.Response:
        return self._http_client().request(**args)

    def _handle_callback_request(self, execution_id: str, callback_id: str, request: Any) -> tuple[int, Any]:
        """Answer one callback request (server thread): see `callbacks.handle_callback_request`."""
        from .callbacks import handle_callback_request

        return handle_callback_request(self, execution_id, callback_id, request)


def _action_label(action: Callable[[], Any]) -> str:
    name = getattr(action, "__qualname__", None) or getattr(action, "__name__", None) or repr(action)
    return f"action {name}"


__all__ = [
    "DeadlockError",
    "Execution",
    "ExecutionFinished",
    "ExecutionState",
    "LogEntry",
    "Outcome",
    "Workflow",
    "WorkflowRuntime",
]

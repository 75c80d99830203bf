"""WorkflowRuntime and Workflow: the public objects a test deploys and starts executions on.

A runtime owns one virtual clock, one kernel (threads, run queue, lock), a
seeded id source, an outbound-HTTP mock router, and every execution started on
it. Callback requests arrive on the shared loopback server's threads and are
answered by `WorkflowRuntime._handle_callback_request` under the kernel lock;
everything else runs on the test's thread, inside ``execute`` and the drive
methods of `Execution` (execution.py). The engine and the effect modules below never see these
objects: they get the host interface (interpreter/host.py), which hosting.py
implements for them.
"""

from __future__ import annotations

import hashlib
import json
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
from .clock import VirtualClock, datetime_to_ns, seconds_to_ns
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
from .execution import Execution, ExecutionFinished, ExecutionState
from .history import EventKind, HistoryEvent
from .hosting import RuntimeHostImpl
from .interpreter.scheduler import Kernel
from .interpreter.threads import ExecutionStopped, WorkflowThread
from .outbound import OutboundHttp
from .parts import check_entry, entry_body
from .record import ExecutionRecord, LogEntry, ThreadSnapshot
from .settings import SETTING_NAMES, Settings, make_settings
from .source import looks_like_path
from .stdlib import load_all
from .step_entries import StepEntry, cancel_unfinished
from .subworkflows import SubworkflowRegistry
from .values import copy_value, from_python, json_encode, json_or_repr, value_size

#: Every runtime not yet closed (assertion helpers look up the execution behind a callback URL).
_LIVE_RUNTIMES: weakref.WeakSet[WorkflowRuntime] = weakref.WeakSet()


def live_runtimes() -> list[WorkflowRuntime]:
    """Runtimes of this process that are not closed yet."""
    return [runtime for runtime in list(_LIVE_RUNTIMES) if not runtime._closed]


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

    def __init__(self, runtime: WorkflowRuntime, name: str, definition: Definition, env: dict[str, str],
                 revision: int = 1) -> None:
        self._runtime = runtime
        self.name = name
        self.definition = definition
        self.env = env
        #: Deploys of this name on the runtime, this one included (1 for the first).
        self.revision = revision
        self._revision_id: str | None = None

    @property
    def source_text(self) -> str:
        """The source as deployed (a definition given as data: its JSON), what the API's ``sourceContents`` shows."""
        source = self.definition.source
        return source.text if source.text is not None else json.dumps(source.data, indent=2, default=str)

    @property
    def revision_id(self) -> str:
        """``000002-4f1``: what the Workflows API calls this revision and ``sys.get_env`` gives as
        ``GOOGLE_CLOUD_WORKFLOW_REVISION_ID`` (the service's shape: six digits, a dash, three hex)."""
        if self._revision_id is None:
            digest = hashlib.sha256(self.source_text.encode("utf-8")).hexdigest()[:3]
            self._revision_id = f"{self.revision:06d}-{digest}"
        return self._revision_id

    @property
    def source(self) -> str:
        """The file it was loaded from, or ``<workflow>``."""
        return self.definition.source.file

    def start(self, argument: Any = None, *, entry: str | None = None) -> Execution:
        """Create an ACTIVE execution that runs on the next drive (``entry``: start in that subworkflow)."""
        return self._runtime.start(self, argument, entry=entry)

    def execute(self, argument: Any = None, *, entry: str | None = None) -> Execution:
        """Start an execution and run it until every thread blocks or ends (the clock does not move)."""
        return self._runtime.execute(self, argument, entry=entry)

    def run(self, argument: Any = None, *, entry: str | None = None) -> Execution:
        """Start an execution and drive it to the end."""
        return self._runtime.run(self, argument, entry=entry)

    def __repr__(self) -> str:
        return f"<Workflow {self.name} from {self.source}>"




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
        self.subworkflows = SubworkflowRegistry()  # fakes for the workflows' own subworkflows; see subworkflows.py
        self._log_listeners: list[Callable[[Execution, LogEntry], None]] = []
        self._deploy_counter = 0
        self._revisions: dict[str, int] = {}  # deploys per workflow name: the next revision number
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
        self._revisions[name] = revision = self._revisions.get(name, 0) + 1
        workflow = Workflow(self, name, definition, dict(env or {}), revision)
        self._workflows[name] = workflow
        return workflow

    def _workflow(self, workflow_or_source: Any) -> Workflow:
        if isinstance(workflow_or_source, Workflow):
            if workflow_or_source._runtime is not self:
                raise WfCallbacksError("this workflow was deployed on another runtime")
            return workflow_or_source
        return self.deploy(workflow_or_source)

    def start(self, workflow_or_source: Any, argument: Any = None, *, entry: str | None = None) -> Execution:
        """Create an ACTIVE execution without running anything: it runs on the next drive.

        This is what the Executions API's create does (it answers before any step runs).
        ``entry="name"`` starts in that subworkflow, ``argument`` then being the map of its params.
        """
        self._check_open()
        workflow = self._workflow(workflow_or_source)
        if entry is not None and entry != "main":
            check_entry(workflow, entry, argument)
        else:
            entry = None
        value, text = self._checked_argument(argument)
        with self._kernel.lock:
            execution = Execution(self, workflow, self._new_execution_id(), text)
            self.executions.append(execution)
            self._executions_by_id[execution.id] = execution
            # `value` is a fresh copy made by from_python, so the workflow may own it; the
            # execution and its history keep the argument as JSON text.
            execution._record(EventKind.EXECUTION_STARTED, None, argument_json=text)
            size = len(text) if text is not None else 0
            body = (execution._engine.run_main(execution._main, value, size) if entry is None
                    else entry_body(execution._engine, execution._main, entry, value))
            self._kernel.start(execution._main, body)
            self._kernel.changed.notify_all()
        return execution

    def execute(self, workflow_or_source: Any, argument: Any = None, *, entry: str | None = None) -> Execution:
        """Start an execution and run until every thread blocks or ends, without moving the clock."""
        execution = self.start(workflow_or_source, argument, entry=entry)
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

    def run(self, workflow_or_source: Any, argument: Any = None, *, entry: str | None = None) -> Execution:
        """Start an execution and drive it to the end (`Execution.wait`)."""
        return self.execute(workflow_or_source, argument, entry=entry).wait()

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
                probe.subworkflows.use_fakes_of(self.subworkflows)
                for name, deployed in {**self._workflows, workflow.name: workflow}.items():
                    probe._workflows[name] = Workflow(probe, name, deployed.definition, deployed.env,
                                                     deployed.revision)
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
        self.subworkflows.absorb_problems(probe.subworkflows)
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
        problems.extend(self.subworkflows.problems(
            {name: list(workflow.definition.routines) for name, workflow in self._workflows.items()}))
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
        self.subworkflows.forget_problems()
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
        elif isinstance(error, ExecutionStopped):
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
                coverage_map.notify(execution.workflow.definition, record.history, record.decisions,
                                    record.dropped_lines, record.dropped_branches)
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


#: What this module exports; the execution types live in execution.py since 0.2 and are re-exported
#: here (with the error and record types they used to be imported beside), so older imports keep working.
__all__ = [
    "DeadlockError",
    "Execution",
    "ExecutionCancelled",
    "ExecutionFinished",
    "ExecutionRecord",
    "ExecutionState",
    "HistoryEvent",
    "LogEntry",
    "Outcome",
    "StepEntry",
    "ThreadSnapshot",
    "Workflow",
    "WorkflowFailed",
    "WorkflowRuntime",
]

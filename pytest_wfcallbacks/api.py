"""The Workflows and Executions REST APIs on the loopback server (docs/semantics.md §6.3).

A service under test usually does more than send callbacks: it deploys
workflows, starts executions and polls them with Google's own client
libraries. This module answers those calls on the same loopback server that
serves the callback endpoints, so the service's real client code can be pointed
at ``workflow_runtime.base_url``.

Routing. Paths carry ``projects/{p}/locations/{l}/workflows/{w}``. A request
naming an execution goes to the runtime that owns that execution id; any other
request goes to the most recently seen live runtime on this server whose
project and location match and that has the workflow (for ``workflows.create``
the most recent live runtime). Workflows deployed with `WorkflowRuntime.deploy`
are visible here and workflows created here are in ``runtime.workflows``.

Threads. The API runs on the server's request threads and never runs
interpreter code: ``executions.create`` creates the execution and makes its
main thread runnable, and the *test* (or the command line's driver loop) runs
it on its next drive, exactly as the service answers ``create`` with an ACTIVE
execution before any step ran. Every read and write happens under the runtime
lock.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from .api_common import ApiError, _bad, _not_found, _page, format_duration, format_timestamp, parse_timestamp
from .api_filter import FilterError, compile_filter
from .api_steps import step_entries_request
from .callbacks import error_envelope
from .errors import WfCallbacksError, WorkflowError, WorkflowSyntaxError
from .history import EventKind
from .runtime import Execution, ExecutionState, Workflow, WorkflowRuntime
from .values import json_decode, json_encode

if TYPE_CHECKING:
    from .server import WorkflowServer

_PREFIX = re.compile(r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)(?P<rest>/.*)?$")
_WORKFLOW_ID = re.compile(r"^[A-Za-z]([A-Za-z0-9_-]{0,62}[A-Za-z0-9])?$")
_LABEL_KEY = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_LABEL_VALUE = re.compile(r"^[a-z0-9_-]{0,63}$")
_CALL_LOG_LEVELS = ("CALL_LOG_LEVEL_UNSPECIFIED", "LOG_ALL_CALLS", "LOG_ERRORS_ONLY", "LOG_NONE")
_WORKFLOW_FIELDS = ("sourceContents", "description", "labels", "userEnvVars", "callLogLevel", "serviceAccount")
_TYPE_PREFIX = "type.googleapis.com/google.cloud.workflows.v1."


# --------------------------------------------------------------------------- formatting


def _reason(exc: Exception) -> str:
    """The message of a ValueError or of a Workflows error value."""
    if isinstance(exc, WorkflowError) and isinstance(exc.value, dict):
        return str(exc.value.get("message", exc.value))
    return str(exc)


def _json_text(value: Any) -> str:
    try:
        return json_encode(value)
    except WorkflowError:
        return json.dumps(value, default=repr)


# --------------------------------------------------------------------------- per-runtime API state


@dataclass
class _WorkflowMeta:
    """What the Workflows API knows about a workflow beyond its definition."""

    ref: weakref.ref[Workflow]
    create_ns: int
    update_ns: int
    revision_ns: int
    description: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    call_log_level: str = ""
    service_account: str = ""


@dataclass
class _ExecutionMeta:
    """Fields set by ``executions.create`` that the runtime does not keep."""

    labels: dict[str, str] = field(default_factory=dict)
    call_log_level: str = "CALL_LOG_LEVEL_UNSPECIFIED"


@dataclass
class _ApiState:
    workflows: dict[str, _WorkflowMeta] = field(default_factory=dict)
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)


_STATES_BY_RUNTIME: weakref.WeakKeyDictionary[WorkflowRuntime, _ApiState] = weakref.WeakKeyDictionary()
_EXECUTION_META: weakref.WeakKeyDictionary[Execution, _ExecutionMeta] = weakref.WeakKeyDictionary()
_SEEN: weakref.WeakKeyDictionary[WorkflowRuntime, int] = weakref.WeakKeyDictionary()
_SEQ = itertools.count()
_REGISTRY_LOCK = threading.RLock()


def _state(runtime: WorkflowRuntime) -> _ApiState:
    with _REGISTRY_LOCK:
        state = _STATES_BY_RUNTIME.get(runtime)
        if state is None:
            state = _STATES_BY_RUNTIME[runtime] = _ApiState()
        return state


def attach(runtime: WorkflowRuntime) -> None:
    """Make a runtime reachable through the API of its server now (it is found lazily otherwise)."""
    with _REGISTRY_LOCK:
        if runtime not in _SEEN:
            _SEEN[runtime] = next(_SEQ)


def live_runtimes(server: WorkflowServer) -> list[WorkflowRuntime]:
    """Open runtimes using ``server``, most recently seen first.

    Every runtime attaches itself when it is created (`attach`).
    """
    with _REGISTRY_LOCK:
        found = [(seq, r) for r, seq in _SEEN.items() if r._server is server and not r._closed]
    found.sort(key=lambda item: -item[0])
    return [r for _, r in found]


def _matches(runtime: WorkflowRuntime, project: str, location: str) -> bool:
    settings = runtime.settings
    return project in (settings.project, settings.project_number) and location == settings.location


def _runtime_for_workflow(server: WorkflowServer, project: str, location: str, workflow: str) -> WorkflowRuntime:
    for runtime in live_runtimes(server):
        if _matches(runtime, project, location) and workflow in runtime._workflows:
            return runtime
    raise _not_found(_where(server, project, location) +
                     f"workflow {workflow!r} not found: deploy it with runtime.deploy(source, name={workflow!r}) "
                     "or the Workflows API's create")


def _runtime_for_parent(server: WorkflowServer, project: str, location: str) -> WorkflowRuntime:
    for runtime in live_runtimes(server):
        if _matches(runtime, project, location):
            return runtime
    raise _not_found(_where(server, project, location) + "no open WorkflowRuntime serves this project and location")


def _where(server: WorkflowServer, project: str, location: str) -> str:
    served = sorted({f"projects/{r.settings.project}/locations/{r.settings.location}" for r in live_runtimes(server)})
    hint = f" (this server serves {', '.join(served)})" if served else " (no open WorkflowRuntime uses this server)"
    return f"projects/{project}/locations/{location}{hint}: "


# --------------------------------------------------------------------------- workflows


def _workflow_meta(runtime: WorkflowRuntime, name: str) -> _WorkflowMeta | None:
    workflow = runtime._workflows.get(name)
    if workflow is None:
        return None
    state = _state(runtime)
    now = runtime.clock.now_ns
    meta = state.workflows.get(name)
    if meta is None:
        meta = state.workflows[name] = _WorkflowMeta(weakref.ref(workflow), now, now, now)
    elif meta.ref() is not workflow:  # redeployed with runtime.deploy: a new revision
        meta.ref = weakref.ref(workflow)
        meta.update_ns = meta.revision_ns = now
    return meta


def workflow_json(runtime: WorkflowRuntime, workflow: Workflow) -> dict[str, Any]:
    """The ``Workflow`` resource of the Workflows API for a deployed workflow."""
    settings = runtime.settings
    meta = _workflow_meta(runtime, workflow.name)
    assert meta is not None
    body: dict[str, Any] = {
        "name": f"projects/{settings.project}/locations/{settings.location}/workflows/{workflow.name}",
        "state": "ACTIVE",
        "revisionId": workflow.revision_id,
        "createTime": format_timestamp(meta.create_ns),
        "updateTime": format_timestamp(meta.update_ns),
        "revisionCreateTime": format_timestamp(meta.revision_ns),
        "serviceAccount": meta.service_account or f"projects/{settings.project}/serviceAccounts/"
                                                  f"{settings.service_account}",
        "sourceContents": workflow.source_text,
    }
    if meta.description:
        body["description"] = meta.description
    if meta.labels:
        body["labels"] = dict(meta.labels)
    if workflow.env:
        body["userEnvVars"] = dict(workflow.env)
    if meta.call_log_level:
        body["callLogLevel"] = meta.call_log_level
    return body


def _check_labels(labels: Any, what: str) -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, dict):
        raise _bad(f"{what}.labels must be a map of strings, got {type(labels).__name__}")
    if len(labels) > 64:
        raise _bad(f"{what}.labels has {len(labels)} entries; at most 64 are allowed")
    for key, value in labels.items():
        if not _LABEL_KEY.match(str(key)):
            raise _bad(f"{what}.labels key {key!r} is invalid: use lowercase letters, digits, '_' and '-', "
                       "starting with a letter, at most 63 characters")
        if not isinstance(value, str) or not _LABEL_VALUE.match(value):
            raise _bad(f"{what}.labels[{key!r}] = {value!r} is invalid: use lowercase letters, digits, '_' and '-', "
                       "at most 63 characters")
    return {str(k): str(v) for k, v in labels.items()}


def _check_call_log_level(value: Any, what: str) -> str:
    if value in (None, ""):
        return ""
    if value not in _CALL_LOG_LEVELS:
        raise _bad(f"{what}.callLogLevel {value!r} is invalid: use one of {', '.join(_CALL_LOG_LEVELS)}")
    return str(value)


def _deploy_text(runtime: WorkflowRuntime, name: str, body: dict[str, Any]) -> Workflow:
    source = body.get("sourceContents")
    if not isinstance(source, str) or not source.strip():
        raise _bad("workflow.sourceContents is required: the workflow's YAML or JSON text")
    env = body.get("userEnvVars")
    if env is not None and not isinstance(env, dict):
        raise _bad("workflow.userEnvVars must be a map of strings")
    if "\n" not in source:
        source += "\n"  # never let a one-line text be taken for a local file path
    try:
        return runtime.deploy(source, name=name, env=env)
    except WorkflowSyntaxError as exc:
        listed = "; ".join(f"{problem.location.describe()}: {problem.message}" for problem in exc.problems)
        raise _bad(f"workflow {name!r} failed to deploy: {listed}") from None
    except (RecursionError, yaml.YAMLError) as exc:
        # A text the parser cannot even read (nested beyond its recursion limit, control characters)
        # is the client's mistake all the same.
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc).splitlines()[0]
        raise _bad(f"workflow {name!r} failed to deploy: sourceContents cannot be read: {reason}") from None


def _operation(runtime: WorkflowRuntime, verb: str, target: str, response: dict[str, Any]) -> dict[str, Any]:
    settings = runtime.settings
    now = format_timestamp(runtime.clock.now_ns)
    op_name = (f"projects/{settings.project}/locations/{settings.location}/operations/"
               f"operation-{runtime._uuid().replace('-', '')[:24]}")
    operation = {
        "name": op_name,
        "metadata": {"@type": _TYPE_PREFIX + "OperationMetadata", "createTime": now, "endTime": now,
                     "target": target, "verb": verb, "apiVersion": "v1"},
        "done": True,
        "response": response,
    }
    _state(runtime).operations[op_name] = operation
    return operation


def _workflows_collection(server: WorkflowServer, request: Request, project: str, location: str) -> tuple[int, Any]:
    if request.method == "GET":
        runtimes = [r for r in live_runtimes(server) if _matches(r, project, location)]
        if not runtimes:
            raise _not_found(_where(server, project, location) + "no open WorkflowRuntime serves it")
        runtime = runtimes[0]
        if request.args.get("filter"):
            raise _bad("workflows.list: filter is not supported by pytest-wfcallbacks; list all and filter in the "
                       "test")
        with runtime._kernel.lock:
            items = [workflow_json(runtime, wf) for _, wf in sorted(runtime._workflows.items())]
        page, token = _page(items, request, default_size=500, max_size=1000)
        body: dict[str, Any] = {"workflows": page}
        if token:
            body["nextPageToken"] = token
        return 200, body
    if request.method == "POST":
        runtime = _runtime_for_parent(server, project, location)
        workflow_id = request.args.get("workflowId", "")
        if not workflow_id:
            raise _bad("workflows.create needs the workflowId query parameter")
        if not _WORKFLOW_ID.match(workflow_id):
            raise _bad(f"workflowId {workflow_id!r} is invalid: letters, digits, '_' and '-', starting with a letter "
                       "and ending with a letter or digit, at most 64 characters")
        body = _json_body(request)
        with runtime._kernel.lock:
            if workflow_id in runtime._workflows:
                raise ApiError(409, "ALREADY_EXISTS", f"workflow projects/{project}/locations/{location}/workflows/"
                                                      f"{workflow_id} already exists: patch it or delete it first")
            labels = _check_labels(body.get("labels"), "workflow")
            level = _check_call_log_level(body.get("callLogLevel"), "workflow")
            workflow = _deploy_text(runtime, workflow_id, body)
            meta = _workflow_meta(runtime, workflow_id)
            assert meta is not None
            meta.labels = labels
            meta.call_log_level = level
            meta.description = str(body.get("description") or "")
            meta.service_account = str(body.get("serviceAccount") or "")
            response = {"@type": _TYPE_PREFIX + "Workflow", **workflow_json(runtime, workflow)}
            return 200, _operation(runtime, "create", response["name"], response)
    raise _method_not_allowed(request, "GET (list) or POST (create)")


def _workflow_resource(server: WorkflowServer, request: Request, project: str, location: str,
                       name: str) -> tuple[int, Any]:
    runtime = _runtime_for_workflow(server, project, location, name)
    with runtime._kernel.lock:
        workflow = runtime._workflows.get(name)
        if workflow is None:
            raise _not_found(f"workflow {name!r} not found")
        if request.method == "GET":
            return 200, workflow_json(runtime, workflow)
        if request.method == "DELETE":
            del runtime._workflows[name]
            _state(runtime).workflows.pop(name, None)
            full = f"projects/{project}/locations/{location}/workflows/{name}"
            return 200, _operation(runtime, "delete", full, {"@type": "type.googleapis.com/google.protobuf.Empty"})
        if request.method == "PATCH":
            body = _json_body(request)
            mask = [f.strip() for f in request.args.get("updateMask", "").split(",") if f.strip()]
            unknown = [f for f in mask if f not in _WORKFLOW_FIELDS]
            if unknown:
                raise _bad(f"updateMask names fields that cannot be updated: {', '.join(unknown)} "
                           f"(updatable: {', '.join(_WORKFLOW_FIELDS)})")
            fields = mask or [f for f in _WORKFLOW_FIELDS if f in body]
            labels = _check_labels(body.get("labels"), "workflow") if "labels" in fields else None
            level = _check_call_log_level(body.get("callLogLevel"), "workflow") if "callLogLevel" in fields else None
            if "sourceContents" in fields or "userEnvVars" in fields:
                merged = {"sourceContents": body.get("sourceContents") if "sourceContents" in fields
                          else workflow.source_text,
                          "userEnvVars": body.get("userEnvVars") if "userEnvVars" in fields else workflow.env}
                workflow = _deploy_text(runtime, name, merged)
            meta = _workflow_meta(runtime, name)
            assert meta is not None
            meta.update_ns = runtime.clock.now_ns
            if labels is not None:
                meta.labels = labels
            if level is not None:
                meta.call_log_level = level
            if "description" in fields:
                meta.description = str(body.get("description") or "")
            if "serviceAccount" in fields:
                meta.service_account = str(body.get("serviceAccount") or "")
            response = {"@type": _TYPE_PREFIX + "Workflow", **workflow_json(runtime, workflow)}
            return 200, _operation(runtime, "update", response["name"], response)
    raise _method_not_allowed(request, "GET, PATCH or DELETE")


def _operation_resource(server: WorkflowServer, request: Request, project: str, location: str,
                        op: str) -> tuple[int, Any]:
    if request.method != "GET":
        raise _method_not_allowed(request, "GET")
    full = f"projects/{project}/locations/{location}/operations/{op}"
    for runtime in live_runtimes(server):
        operation = _state(runtime).operations.get(full)
        if operation is not None:
            return 200, operation
    raise _not_found(f"operation {full} not found")


# --------------------------------------------------------------------------- executions


def start_execution(runtime: WorkflowRuntime, workflow: Workflow, argument: Any) -> Execution:
    """Create an ACTIVE execution whose main thread runs on the runtime's next drive (never here).

    The API runs on the server's threads, where interpreter code must never run.
    """
    try:
        return runtime.start(workflow, argument)
    except WfCallbacksError as exc:
        raise _bad(f"execution.argument: {exc}") from None


def _current_steps(execution: Execution) -> list[dict[str, str]]:
    for item in reversed(execution._history):
        if item.kind is EventKind.STEP_ENTERED and item.step:
            return [{"routine": str(item.details.get("routine", "main")), "step": item.step}]
    return []


def _step_position(execution: Execution, routine: str, step: str) -> dict[str, str]:
    for candidate in execution.workflow.definition.steps():
        if candidate.name == step and candidate.routine == routine:
            return {"line": str(candidate.loc.line), "column": str(candidate.loc.column), "length": str(len(step))}
    return {}


def _error_json(execution: Execution) -> dict[str, Any]:
    error = execution.error
    steps = _current_steps(execution)
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        tags = error.get("tags") if isinstance(error.get("tags"), list) else []
        tag = tags[0] if tags else "RuntimeError"
        message = error["message"]
        head = message if message.startswith(f"{tag}:") else f"{tag}: {json.dumps(message)}"
    else:
        head = f"RuntimeError: {_json_text(error)}"
    body: dict[str, Any] = {"payload": _json_text(error), "context": head}
    if steps and execution.state is ExecutionState.FAILED:
        where = steps[0]
        position = _step_position(execution, where["routine"], where["step"])
        line = f", line: {position['line']}" if position else ""
        body["context"] = f'{head}\nin step "{where["step"]}", routine "{where["routine"]}"{line}'
        element: dict[str, Any] = {"step": where["step"], "routine": where["routine"]}
        if position:
            element["position"] = position
        body["stackTrace"] = {"elements": [element]}
    return body


def execution_json(execution: Execution, view: str = "FULL") -> dict[str, Any]:
    """The ``Execution`` resource (docs/semantics.md §6.3) in the BASIC or FULL view."""
    runtime = execution._runtime
    with runtime._kernel.lock:
        meta = _EXECUTION_META.get(execution) or _ExecutionMeta()
        body: dict[str, Any] = {
            "name": execution.name,
            "startTime": format_timestamp(execution._start_ns),
            "state": execution.state.value,
            "workflowRevisionId": execution.workflow.revision_id,  # the revision it started with
        }
        if execution._end_ns is not None:
            body["endTime"] = format_timestamp(execution._end_ns)
            body["duration"] = format_duration(execution._end_ns - execution._start_ns)
        if view == "BASIC":
            return body
        body["createTime"] = body["startTime"]
        if execution.argument is not None:
            body["argument"] = _json_text(execution.argument)
        if execution.state is ExecutionState.SUCCEEDED:
            body["result"] = _json_text(execution.value)
        if execution.state in (ExecutionState.FAILED, ExecutionState.CANCELLED) and execution.error is not None:
            body["error"] = _error_json(execution)
        body["status"] = {"currentSteps": _current_steps(execution)}
        body["callLogLevel"] = meta.call_log_level
        body["executionHistoryLevel"] = "EXECUTION_HISTORY_LEVEL_UNSPECIFIED"
        labels = dict(_workflow_labels(execution))
        labels.update(meta.labels)
        if labels:
            body["labels"] = labels
        return body


def _workflow_labels(execution: Execution) -> dict[str, str]:
    meta = _state(execution._runtime).workflows.get(execution.workflow.name)
    return dict(meta.labels) if meta is not None and meta.ref() is execution.workflow else {}


def callback_json(execution: Execution) -> list[dict[str, Any]]:
    """``callbacks.list`` items: active callbacks only, ordered by callback id."""
    with execution._runtime._kernel.lock:
        if not execution._is_active():
            return []
        return [{"name": ep.name, "method": ep.method, "waiters": str(len(ep.waiters)),
                 "availablePayloads": [_json_text(p) for p in ep.stored]}
                for _, ep in sorted(execution._endpoints.items())]


def _execution_or_404(server: WorkflowServer, project: str, location: str, workflow: str,
                      execution_id: str) -> Execution:
    runtime = server.runtime_for(execution_id)
    full = f"projects/{project}/locations/{location}/workflows/{workflow}/executions/{execution_id}"
    if runtime is None or runtime._closed or not _matches(runtime, project, location):
        raise _not_found(f"execution {full} not found")
    execution = next((e for e in runtime.executions if e.id == execution_id), None)
    if execution is None or workflow not in ("-", execution.workflow.name):
        raise _not_found(f"execution {full} not found")
    return execution


def _execution_filter(text: str) -> Callable[[Execution], bool]:
    try:
        predicate = compile_filter(text)
    except FilterError as exc:
        raise _bad(f"filter {text[:200]!r} is not supported: {exc}") from None
    return lambda execution: predicate(_filter_record(execution))


def _filter_record(execution: Execution) -> dict[str, Any]:
    """What an `api_filter` predicate reads of an execution."""
    end = execution._end_ns
    return {
        "executionId": execution.id, "name": execution.name, "state": execution.state.value,
        "workflowRevisionId": execution_json(execution, "BASIC")["workflowRevisionId"],
        "createTime": execution._start_ns, "startTime": execution._start_ns, "endTime": end,
        "duration": (end if end is not None else execution._runtime.clock.now_ns) - execution._start_ns,
        "labels": _labels_of(execution),
    }


def _labels_of(execution: Execution) -> dict[str, str]:
    labels = _workflow_labels(execution)
    meta = _EXECUTION_META.get(execution)
    if meta is not None:
        labels.update(meta.labels)
    return labels


def _order(executions: list[Execution], order_by: str) -> list[Execution]:
    indexed = list(enumerate(executions))
    clauses = [c.split() for c in (order_by or "createTime desc").split(",") if c.strip()]
    for clause in reversed(clauses):
        key = clause[0]
        desc = len(clause) > 1 and clause[1].lower() == "desc"
        if key not in ("createTime", "startTime", "endTime", "duration") or len(clause) > 2 or (
                len(clause) == 2 and clause[1].lower() not in ("asc", "desc")):
            raise _bad(f"orderBy {' '.join(clause)!r} is not supported: use createTime, startTime, endTime or "
                       "duration, optionally followed by asc or desc")

        def sort_key(item: tuple[int, Execution], key: str = key) -> tuple[int, int]:
            index, e = item
            if key == "endTime":
                return (e._end_ns if e._end_ns is not None else 2**63, index)
            if key == "duration":
                return ((e._end_ns if e._end_ns is not None else e._runtime.clock.now_ns) - e._start_ns, index)
            return (e._start_ns, index)

        indexed.sort(key=sort_key, reverse=desc)
    return [e for _, e in indexed]


def _executions_collection(server: WorkflowServer, request: Request, project: str, location: str,
                           workflow_name: str) -> tuple[int, Any]:
    if request.method == "POST":
        runtime = _runtime_for_workflow(server, project, location, workflow_name)
        body = _json_body(request)
        argument_text = body.get("argument")
        argument: Any = None
        if argument_text not in (None, ""):
            if not isinstance(argument_text, str):
                raise _bad("execution.argument must be a JSON string (json.dumps the argument), got "
                           f"{type(argument_text).__name__}")
            try:
                argument = json_decode(argument_text)
            except (ValueError, WorkflowError) as exc:
                raise _bad(f"execution.argument is not valid JSON: {_reason(exc)}") from None
        labels = _check_labels(body.get("labels"), "execution")
        level = _check_call_log_level(body.get("callLogLevel"), "execution") or "CALL_LOG_LEVEL_UNSPECIFIED"
        with runtime._kernel.lock:
            workflow = runtime._workflows.get(workflow_name)
            if workflow is None:
                raise _not_found(f"workflow {workflow_name!r} not found")
            execution = start_execution(runtime, workflow, argument)
            _EXECUTION_META[execution] = _ExecutionMeta(labels, level)
            return 200, execution_json(execution)
    if request.method == "GET":
        view = _view(request, "BASIC")
        if workflow_name == "-":
            runtimes = [r for r in live_runtimes(server) if _matches(r, project, location)]
            if not runtimes:
                raise _not_found(_where(server, project, location) + "no open WorkflowRuntime serves it")
            runtime = runtimes[0]
        else:
            runtime = _runtime_for_workflow(server, project, location, workflow_name)
        keep = _execution_filter(request.args.get("filter", ""))
        with runtime._kernel.lock:
            chosen = [e for e in runtime.executions if workflow_name in ("-", e.workflow.name)]
            chosen = [e for e in _order(chosen, request.args.get("orderBy", "")) if keep(e)]
            items = [execution_json(e, view) for e in chosen]
        page, token = _page(items, request, default_size=100, max_size=1000 if view == "BASIC" else 100)
        result: dict[str, Any] = {"executions": page}
        if token:
            result["nextPageToken"] = token
        return 200, result
    raise _method_not_allowed(request, "GET (list) or POST (create)")


def _execution_resource(server: WorkflowServer, request: Request, project: str, location: str, workflow: str,
                        execution_id: str) -> tuple[int, Any]:
    verb = ""
    if ":" in execution_id:
        execution_id, verb = execution_id.split(":", 1)
    execution = _execution_or_404(server, project, location, workflow, execution_id)
    if verb == "cancel":
        if request.method != "POST":
            raise _method_not_allowed(request, "POST")
        runtime = execution._runtime
        with runtime._kernel.lock:
            if not execution._is_active():
                raise ApiError(400, "FAILED_PRECONDITION",
                               f"execution {execution.name} is {execution.state.value}; only an ACTIVE execution "
                               "can be cancelled")
            execution.cancel()
        return 200, execution_json(execution)
    if verb:
        raise _not_found(f"no method :{verb} on executions (pytest-wfcallbacks serves :cancel)")
    if request.method != "GET":
        raise _method_not_allowed(request, "GET")
    return 200, execution_json(execution, _view(request, "FULL"))


def _callbacks_collection(server: WorkflowServer, request: Request, project: str, location: str, workflow: str,
                          execution_id: str) -> tuple[int, Any]:
    if request.method != "GET":
        raise _method_not_allowed(request, "GET")
    execution = _execution_or_404(server, project, location, workflow, execution_id)
    page, token = _page(callback_json(execution), request, default_size=100, max_size=100)
    body: dict[str, Any] = {"callbacks": page}
    if token:
        body["nextPageToken"] = token
    return 200, body


# --------------------------------------------------------------------------- request plumbing


def _view(request: Request, default: str) -> str:
    view = request.args.get("view", "") or default
    if view == "EXECUTION_VIEW_UNSPECIFIED":
        return default
    if view not in ("BASIC", "FULL"):
        raise _bad(f"view {view!r} is invalid: use BASIC or FULL")
    return view


def _json_body(request: Request) -> dict[str, Any]:
    try:
        raw = request.get_data(cache=True)
    except HTTPException as exc:  # werkzeug: the body ended before its Content-Length
        raise _bad(f"the request body could not be read: {exc.description}") from None
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise _bad(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise _bad("request body is nested too deeply to be a Workflows API request") from None
    if not isinstance(body, dict):
        raise _bad("request body must be a JSON object")
    return body


def _method_not_allowed(request: Request, allowed: str) -> ApiError:
    # Google's front end answers a known path with an unknown HTTP method with 404.
    return ApiError(404, "NOT_FOUND", f"{request.method} {request.path} is not an API method; use {allowed}")


def _route(server: WorkflowServer, request: Request, project: str, location: str, rest: str) -> tuple[int, Any]:
    parts = rest.strip("/").split("/") if rest.strip("/") else []
    if parts[:1] == ["operations"] and len(parts) == 2:
        return _operation_resource(server, request, project, location, parts[1])
    if parts[:1] != ["workflows"]:
        raise _not_found(f"no API method at {request.path}: pytest-wfcallbacks serves the Workflows and Executions "
                         "APIs under /v1/projects/P/locations/L/workflows")
    if len(parts) == 1:
        return _workflows_collection(server, request, project, location)
    workflow = parts[1]
    if len(parts) == 2:
        return _workflow_resource(server, request, project, location, workflow)
    if parts[2] != "executions":
        raise _not_found(f"no API method at {request.path}")
    if len(parts) == 3:
        return _executions_collection(server, request, project, location, workflow)
    if len(parts) == 4:
        return _execution_resource(server, request, project, location, workflow, parts[3])
    if len(parts) == 5 and parts[4] == "callbacks":
        return _callbacks_collection(server, request, project, location, workflow, parts[3])
    if len(parts) in (5, 6) and parts[4] == "stepEntries":
        execution = _execution_or_404(server, project, location, workflow, parts[3])
        return step_entries_request(execution, request, parts[5] if len(parts) == 6 else None)
    raise _not_found(f"no API method at {request.path}")


def handle_api_request(server: WorkflowServer, request: Request) -> Response | None:
    """The server handler: answer Workflows / Executions API paths, pass (None) on anything else."""
    match = _PREFIX.match(request.path)
    if match is None:
        return None
    try:
        status, body = _route(server, request, match.group("project"), match.group("location"),
                              match.group("rest") or "")
    except ApiError as exc:
        status, body = exc.code, exc.envelope()
    except WfCallbacksError as exc:
        status, body = 400, error_envelope(400, "FAILED_PRECONDITION", str(exc))
    return Response(json.dumps(body), status=status, content_type="application/json")


def install(server: WorkflowServer) -> None:
    """Register the API handler on a server (done by `WorkflowServer` itself)."""
    if handle_api_request not in server.handlers:
        server.handlers.append(handle_api_request)


__all__ = [
    "ApiError",
    "attach",
    "callback_json",
    "execution_json",
    "format_duration",
    "format_timestamp",
    "handle_api_request",
    "install",
    "live_runtimes",
    "parse_timestamp",
    "start_execution",
    "workflow_json",
]

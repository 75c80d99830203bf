"""Connector calls (``call: googleapis.<service>.<version>.<resource>.<method>``): fakes and child executions.

The service runs connectors against real Google APIs; a test double cannot, so
every connector call is answered by something the test set up
(`WorkflowRuntime.connectors`, a `ConnectorRegistry`):

* a fake registered with `ConnectorRegistry.fake` for the call's full dotted name
  (or a trailing ``*`` wildcard): a handler, a constant, an error, or a list of
  per-call outcomes, each optionally taking ``after`` virtual seconds;
* otherwise, for the child-execution connectors
  ``googleapis.workflowexecutions.v1.projects.locations.workflows.executions.run``
  (and ``v1beta``) and ``experimental.executions.run`` / ``.map``: a real child
  execution of a workflow deployed on the same runtime
  (``runtime.deploy(source, name=workflow_id)``), run on the same clock while the
  calling thread waits;
* otherwise the call fails with ``SystemError`` naming the connector and how to
  fake it, and `WorkflowRuntime.check` reports it after the test, like unmocked
  HTTP.

Why ``SystemError`` for an unfaked call: a missing fake is a gap in the test,
not an answer of the API. ``SystemError`` is the tag the service uses for its own
connector failures (docs/semantics.md §5.1), no default retry predicate retries it, and
no ``except`` written for ``HttpError`` codes mistakes it for an API answer.

What the service does and the fakes mirror (docs/semantics.md §4.14-§4.15):

* ``connector_params`` (``timeout`` 1..31,536,000 s, default 1800;
  ``polling_policy``; ``skip_polling``; ``scopes``) is checked and handed to
  the fake on `ConnectorCall`, never mixed into its ``args``; a call that takes
  longer than ``timeout`` raises ``TimeoutError`` after ``timeout`` virtual seconds;
* a long-running operation is polled by the connector: a fake returns its final
  response (or raises `ConnectorError.operation` for ``OperationError``), and
  reads `ConnectorCall.skip_polling` when the workflow asked for the operation
  itself;
* API errors are ``HttpError`` maps (`ConnectorError.http`);
* a child execution that fails or is cancelled raises ``ExecutionError``, the tag
  the ``experimental.executions`` reference documents for "the execution finishes
  unsuccessfully"; we take that stricter reading for the connector too (the
  child's own tags are not re-raised; its error is in ``execution.error.payload``,
  as the Executions API shows it).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .clock import ns_to_datetime, seconds_to_ns
from .definition import CONNECTOR_PREFIXES
from .errors import WfCallbacksError, WorkflowError, type_error, value_error, wf_error
from .fakes import MISSING, FakeBase, FakeError, FakeOptions, answer, check_options
from .history import EventKind
from .interpreter.threads import BLOCK
from .values import copy_value, json_encode, type_name

if TYPE_CHECKING:
    from .interpreter.host import ExecutionHost, RuntimeHost
    from .interpreter.threads import WorkflowThread

#: Default ``connector_params.timeout`` in seconds (docs/semantics.md §4.15).
DEFAULT_TIMEOUT = 1800
#: Largest ``connector_params.timeout`` in seconds (one year).
MAX_TIMEOUT = 31_536_000
#: The connectors that start a child execution and wait for it.
CHILD_RUN_CONNECTORS = frozenset({
    "googleapis.workflowexecutions.v1.projects.locations.workflows.executions.run",
    "googleapis.workflowexecutions.v1beta.projects.locations.workflows.executions.run",
    "experimental.executions.run",
})
#: Starts one child execution per argument and waits for all of them.
CHILD_MAP_CONNECTOR = "experimental.executions.map"

_CONNECTOR_PARAMS = frozenset({"timeout", "polling_policy", "skip_polling", "scopes"})
_POLLING_KEYS = frozenset({"initial_delay", "multiplier", "max_delay"})
_STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED", 499: "CANCELLED",
    500: "INTERNAL", 501: "NOT_IMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}


class ConnectorError(FakeError):
    """Raise it from a fake's handler (or pass it as ``raises=``) to fail the call with a Workflows error.

    ``value`` is the error the workflow's ``except`` receives: a map (with
    ``message`` and ``tags``, as the service raises) or a string. Build the common
    ones with `ConnectorError.http` and `ConnectorError.operation`.
    """

    @classmethod
    def http(cls, code: int, message: str | None = None, *, body: Any = MISSING,
             headers: dict[str, str] | None = None) -> ConnectorError:
        """The ``HttpError`` a connector raises when the API answers ``code`` (e.g. 404 for a missing resource).

        ``body`` defaults to Google's error envelope
        ``{"error": {"code", "message", "status"}}``.
        """
        if isinstance(code, bool) or not isinstance(code, int) or not 400 <= code <= 599:
            raise WfCallbacksError(f"ConnectorError.http needs an HTTP error status (400-599), got {code!r}")
        text = message if message is not None else f"HTTP server responded with error code {code}"
        if body is MISSING:
            body = {"error": {"code": code, "message": text, "status": _STATUS_NAMES.get(code, "UNKNOWN")}}
        return cls({"body": body, "code": code, "headers": dict(headers or {}), "message": text,
                    "tags": ["HttpError"]})

    @classmethod
    def operation(cls, message: str, *, operation: Any = None) -> ConnectorError:
        """The ``OperationError`` a connector raises when the long-running operation it polls ends in error."""
        value: dict[str, Any] = {"message": message, "tags": ["OperationError"]}
        if operation is not None:
            value["operation"] = operation
        return cls(value)


@dataclass(frozen=True)
class ConnectorCall:
    """One connector call as the workflow made it.

    ``args`` are the evaluated ``args`` without ``connector_params`` (a copy the
    handler may keep); ``connector_params`` the checked parameters (empty when the
    workflow set none); ``ns`` the virtual instant of the call; ``child`` the child
    execution a child-run connector started (None otherwise).
    """

    name: str
    args: dict[str, Any]
    connector_params: dict[str, Any]
    execution: Any  # the calling `Execution`
    step: str
    branch: str | None
    ns: int
    child: Any = None  # the child `Execution` (experimental.executions.run)
    children: tuple[Any, ...] = ()

    @property
    def time(self) -> datetime:
        """Virtual time of the call (aware UTC datetime)."""
        return ns_to_datetime(self.ns)

    @property
    def timeout(self) -> int:
        """``connector_params.timeout`` (1800 unless the workflow set one)."""
        value = self.connector_params.get("timeout", DEFAULT_TIMEOUT)
        return int(value)

    @property
    def skip_polling(self) -> bool:
        """``connector_params.skip_polling``: the workflow wants the operation, not its final response."""
        return bool(self.connector_params.get("skip_polling", False))

    @property
    def execution_id(self) -> str:
        """Id of the calling execution."""
        return str(self.execution.id)


Handler = Callable[[dict[str, Any], ConnectorCall], Any]


class ConnectorFake(FakeBase):
    """A fake answering the connector calls whose name matches ``pattern`` (see `ConnectorRegistry.fake`)."""

    def __init__(self, pattern: str, options: FakeOptions) -> None:
        super().__init__(options)
        self.pattern = pattern
        self.calls: list[ConnectorCall] = []

    def matches(self, name: str) -> bool:
        """Whether a call to ``name`` is this fake's."""
        if self.pattern.endswith("*"):
            return name.startswith(self.pattern[:-1])
        return name == self.pattern

    def __repr__(self) -> str:
        return f"<ConnectorFake {self.pattern} ({self.call_count} calls)>"


@dataclass
class _Problems:
    unfaked: list[ConnectorCall] = field(default_factory=list)
    fake_errors: list[str] = field(default_factory=list)


class ConnectorRegistry:
    """The connector fakes of one runtime, and every connector call its workflows made.

    Reach it as ``workflow_runtime.connectors``::

        fake = workflow_runtime.connectors.fake(
            "googleapis.firestore.v1.projects.databases.documents.get",
            returns={"fields": {"LastName": {"stringValue": "Smith"}}})
        assert workflow_runtime.run("read.yaml").value == ...
        assert fake.calls[0].args["name"].endswith("/smith.j")
    """

    def __init__(self, runtime: RuntimeHost) -> None:
        self._runtime = runtime
        self._fakes: dict[str, ConnectorFake] = {}
        #: Every connector call, faked or not, in order.
        self.calls: list[ConnectorCall] = []
        self._problems = _Problems()

    # ------------------------------------------------------------------ public
    def fake(self, name: str, handler: Handler | None = None, *, returns: Any = MISSING,
             raises: Any = MISSING, results: Sequence[Any] | None = None, after: float = 0) -> ConnectorFake:
        """Answer calls to the connector ``name`` (full dotted name; a trailing ``*`` matches a prefix).

        Give at most one of:

        * ``handler(args, call)``: called with the evaluated ``args`` (Workflows
          values, without ``connector_params``) and the `ConnectorCall`; returns the
          call's result, or raises `ConnectorError` to fail it;
        * ``returns=``: a constant result (a fresh copy each call);
        * ``raises=``: an error value (map or string) or a `ConnectorError`;
        * ``results=[...]``: one outcome per call, in order (a value to return or a
          `ConnectorError` to raise): a polling loop's successive answers. A call
          past the end fails with ``SystemError`` and is reported after the test.

        With none of them the call returns ``null``. ``after`` is how many virtual
        seconds each call takes (the request plus the connector's polling); more
        than the call's ``connector_params.timeout`` raises ``TimeoutError`` after
        that timeout.

        An exact name wins over wildcards, and a longer wildcard over a shorter one;
        faking the same name again replaces the earlier fake. A fake for a
        child-execution connector replaces the child execution.
        """
        self._check_pattern(name)
        options = check_options(f"connectors.fake({name!r})", handler, returns, raises, results, after,
                                ConnectorError)
        fake = ConnectorFake(name, options)
        self._fakes[name] = fake
        return fake

    def __getitem__(self, name: str) -> ConnectorFake:
        """The fake registered under exactly ``name`` (the pattern given to `fake`)."""
        try:
            return self._fakes[name]
        except KeyError:
            raise KeyError(f"no connector fake registered as {name!r}; registered: {sorted(self._fakes)}") from None

    @property
    def fakes(self) -> list[ConnectorFake]:
        """The registered fakes, in registration order."""
        return list(self._fakes.values())

    @property
    def call_count(self) -> int:
        """How many connector calls the workflows made."""
        return len(self.calls)

    @property
    def unfaked(self) -> list[ConnectorCall]:
        """Calls nothing answered (each failed with ``SystemError``)."""
        return list(self._problems.unfaked)

    def use_fakes_of(self, other: ConnectorRegistry) -> None:
        """Answer calls with ``other``'s fakes (the same objects: their ``calls`` grow here too).

        For a runtime that re-runs another's workflows (``WorkflowRuntime.explore``'s probes).
        """
        self._fakes = other._fakes

    def calls_to(self, name: str) -> list[ConnectorCall]:
        """Calls to the connector ``name`` (exact name; a trailing ``*`` matches a prefix)."""
        prefix = name[:-1] if name.endswith("*") else None
        return [c for c in self.calls if (c.name.startswith(prefix) if prefix is not None else c.name == name)]

    def forget_problems(self) -> None:
        """Drop what was reported (`WorkflowRuntime.check` reports a problem once)."""
        self._problems.unfaked.clear()
        self._problems.fake_errors.clear()

    def absorb_problems(self, other: ConnectorRegistry) -> None:
        """Keep ``other``'s unfaked calls and fake errors here (a probe runtime's, for `check`)."""
        self._problems.unfaked.extend(other._problems.unfaked)
        self._problems.fake_errors.extend(other._problems.fake_errors)

    def problems(self) -> list[str]:
        """Lines for `WorkflowRuntime.check`: unfaked calls grouped by name, fakes that failed."""
        lines: list[str] = []
        if self._problems.unfaked:
            lines.append("connector calls no fake answered (add fakes on workflow_runtime.connectors):")
            groups: dict[str, list[ConnectorCall]] = {}
            for call in self._problems.unfaked:
                groups.setdefault(call.name, []).append(call)
            kernel = self._runtime.kernel
            for name, calls in groups.items():
                first = calls[0]
                count = f"{len(calls)} call{'' if len(calls) == 1 else 's'}"
                lines.append(f"  - {name}: {count}, first from execution {first.execution_id} step {first.step!r} "
                             f"at {kernel.format_ns(first.ns)}; fake it with "
                             f"workflow_runtime.connectors.fake({name!r}, returns=...)")
        if self._problems.fake_errors:
            lines.append("connector fakes that failed (fix the fake on workflow_runtime.connectors):")
            lines.extend(f"  - {item}" for item in self._problems.fake_errors)
        return lines

    # ------------------------------------------------------------------ interpreter hooks
    def dispatch(self, th: WorkflowThread, name: str, raw_args: Any) -> Generator[Any, Any, Any]:
        """Run one connector call for the interpreter (``WorkflowRuntime._call_connector``)."""
        args, params = self._split_args(name, raw_args)
        fake = self._match(name)
        if fake is None and (name in CHILD_RUN_CONNECTORS or name == CHILD_MAP_CONNECTOR):
            result = yield from self._run_children(th, name, args, params)
            return result
        call = self._record(th, name, args, params)
        if fake is None:
            self._problems.unfaked.append(call)
            raise wf_error(
                "SystemError",
                f"{name}: no connector fake answers this call (execution {call.execution_id}, step "
                f"{call.step!r}); fake it before running the workflow, e.g. "
                f"workflow_runtime.connectors.fake({name!r}, returns={{...}})",
            )
        fake.calls.append(call)
        outcome = self._answer(fake, call)
        if fake.after > call.timeout:
            yield from th.sleep(call.timeout)
            raise wf_error("TimeoutError", f"{name} did not finish within its timeout of {call.timeout} seconds "
                                           f"(the fake takes {fake.after:g} seconds)")
        if fake.after > 0:
            yield from th.sleep(fake.after)
        if isinstance(outcome, FakeError):
            raise WorkflowError(copy_value(outcome.value))
        return outcome

    def dispatch_now(self, th: WorkflowThread, name: str, raw_args: Any) -> Any:
        """A connector call made inside an expression (the thread cannot wait): fakes only, no ``after``."""
        args, params = self._split_args(name, raw_args)
        fake = self._match(name)
        call = self._record(th, name, args, params)
        if fake is None:
            self._problems.unfaked.append(call)
            raise wf_error("SystemError", f"{name}: no connector fake answers this call made in an expression; "
                                          f"fake it with workflow_runtime.connectors.fake({name!r}, returns=...)")
        fake.calls.append(call)
        if fake.after > 0:
            raise wf_error("SystemError", f"{name} is called inside an expression, where a call cannot wait; "
                                          f"its fake takes after={fake.after:g} seconds")
        outcome = self._answer(fake, call)
        if isinstance(outcome, FakeError):
            raise WorkflowError(copy_value(outcome.value))
        return outcome

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _check_pattern(name: str) -> None:
        if not isinstance(name, str) or not name:
            raise WfCallbacksError(f"a connector fake needs the connector's full dotted name, got {name!r}")
        if "*" in name[:-1]:
            raise WfCallbacksError(f"connector name {name!r}: '*' is allowed only at the end (a prefix wildcard)")
        if name != "*" and not name.startswith(CONNECTOR_PREFIXES) and not any(
                prefix.startswith(name[:-1]) for prefix in CONNECTOR_PREFIXES if name.endswith("*")):
            raise WfCallbacksError(
                f"{name!r} is not a connector name: connectors start with {', '.join(CONNECTOR_PREFIXES)} "
                "(e.g. 'googleapis.pubsub.v1.projects.topics.publish'); fake http.* calls on workflow_runtime.http")

    def _match(self, name: str) -> ConnectorFake | None:
        exact = self._fakes.get(name)
        if exact is not None:
            return exact
        best: ConnectorFake | None = None
        for fake in self._fakes.values():
            if fake.pattern.endswith("*") and fake.matches(name) and (
                    best is None or len(fake.pattern) > len(best.pattern)):
                best = fake
        return best

    def _split_args(self, name: str, raw: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        if raw is None:
            return {}, {}
        if type(raw) is list:
            positional = _POSITIONAL.get(name)
            if positional is None or len(raw) > len(positional):
                raise type_error(f"args of {name} must be a map of named arguments")
            raw = dict(zip(positional, raw, strict=False))
        if type(raw) is not dict:
            raise type_error(f"args of {name} must be a map, got {type_name(raw)}")
        args = {k: copy_value(v) for k, v in raw.items() if k != "connector_params"}
        params = raw.get("connector_params")
        return args, _check_params(name, params)

    def _record(self, th: WorkflowThread, name: str, args: dict[str, Any], params: dict[str, Any],
                children: tuple[ExecutionHost, ...] = ()) -> ConnectorCall:
        facades = tuple(child.facade for child in children)
        call = ConnectorCall(name, args, params, th.host.facade, th.step_name(), th.branch_id,
                             self._runtime.clock.now_ns, facades[0] if len(facades) == 1 else None, facades)
        self.calls.append(call)
        th.host.record_event(EventKind.CONNECTOR_CALL, th, connector=name,
                             children=[child.id for child in children])
        return call

    def _answer(self, fake: ConnectorFake, call: ConnectorCall) -> Any:
        """The fake's outcome for this call: a Workflows value, or a ConnectorError to raise."""
        handler = fake.handler
        return answer(fake, call.name, f"execution {call.execution_id} step {call.step!r}",
                      lambda: handler(copy_value(call.args), call) if handler is not None else None,
                      self._problems.fake_errors, "ConnectorError")

    # ------------------------------------------------------------------ child executions
    def _run_children(self, th: WorkflowThread, name: str, args: dict[str, Any],
                      params: dict[str, Any]) -> Generator[Any, Any, Any]:
        runtime = self._runtime
        settings = runtime.settings
        workflow_id = args.get("workflow_id")
        if type(workflow_id) is not str:
            raise type_error(f"{name}: workflow_id must be a string, got {type_name(workflow_id)}")
        plural = name == CHILD_MAP_CONNECTOR
        known = {"workflow_id", "arguments", "timeout"} if plural else {"workflow_id", "argument"}
        unknown = sorted(set(args) - known - {"location", "project_id"})
        if unknown:
            raise type_error(f"{name}: unexpected argument(s) {', '.join(unknown)}")
        map_timeout = _map_timeout(name, args) if plural else None
        project = args.get("project_id")
        location = args.get("location")
        deployed_names = runtime.workflow_names()
        elsewhere = (project is not None and project not in (settings.project, settings.project_number)) or (
            location is not None and location != settings.location)
        if workflow_id not in deployed_names or elsewhere:
            where = f"projects/{project or settings.project}/locations/{location or settings.location}"
            deployed = ", ".join(sorted(deployed_names)) or "none"
            raise _http_error(404,
                f"{name}: workflow {where}/workflows/{workflow_id} not found (deployed on this runtime in "
                f"projects/{settings.project}/locations/{settings.location}: {deployed}); deploy it with "
                f"workflow_runtime.deploy(source, name={workflow_id!r}) or fake {name!r}")
        if plural:
            arguments = args.get("arguments")
            if type(arguments) is not list:
                raise type_error(f"{name}: arguments must be a list (one argument per execution), "
                                 f"got {type_name(arguments)}")
        else:
            arguments = [args.get("argument")]
        for argument in arguments:  # all checked before any child starts
            if type(argument) not in (int, float, bool, str, list, dict) and argument is not None:
                raise type_error(f"{name}: argument must be an integer, float, bool, string, list or map, "
                                 f"got {type_name(argument)}")
            json_encode(argument)  # TypeError for a nested value the API cannot take (bytes)
        children: list[ExecutionHost] = []
        for argument in arguments:
            try:
                children.append(runtime.start_child(workflow_id, argument))
            except WfCallbacksError as exc:
                raise _http_error(400, f"{name}: {exc}") from None
        call = self._record(th, name, args, params, tuple(children))
        if map_timeout is not None:
            yield from _wait_for(th, children, map_timeout, name, "the `timeout` argument")
        else:
            yield from _wait_for(th, children, call.timeout, name)
        results = []
        for child in children:
            state = str(child.facade.state)
            if state == "SUCCEEDED":
                results.append(copy_value(child.facade.value))
                continue
            raise WorkflowError(_execution_error(child.facade, workflow_id))
        return results if name == CHILD_MAP_CONNECTOR else results[0]


def _http_error(code: int, message: str) -> WorkflowError:
    """The ``HttpError`` a child-execution connector raises when the Executions API refuses (404, 400)."""
    return WorkflowError(ConnectorError.http(code, message).value)


# Parameter order of the connectors that also take positional args (experimental.executions.*).
_POSITIONAL: dict[str, tuple[str, ...]] = {
    "experimental.executions.run": ("workflow_id", "argument"),
    "experimental.executions.map": ("workflow_id", "arguments", "timeout", "location", "project_id"),
}


def _map_timeout(name: str, args: dict[str, Any]) -> float | None:
    """``experimental.executions.map``'s own ``timeout`` (float seconds, default 1800.0), checked.

    The function reference: "The request timeout, in seconds (default: 1800.0). If the request
    takes longer than the timeout, a TimeoutError is raised." None when the call does not give it
    (then ``connector_params.timeout``, default 1800, applies as for every connector).
    """
    if "timeout" not in args or args["timeout"] is None:
        return None
    timeout = args["timeout"]
    if not _number(timeout):
        raise type_error(f"{name}: timeout must be a number of seconds, got {type_name(timeout)}")
    if not 0 < timeout <= MAX_TIMEOUT:
        raise value_error(f"{name}: timeout must be more than 0 and at most {MAX_TIMEOUT} seconds, got {timeout}")
    return float(timeout)


def _number(value: Any) -> bool:
    return type(value) in (int, float)


def _check_params(name: str, params: Any) -> dict[str, Any]:
    """``connector_params`` checked like the service's schema (docs/semantics.md §4.15); a copy."""
    if params is None:
        return {}
    if type(params) is not dict:
        raise type_error(f"{name}: connector_params must be a map, got {type_name(params)}")
    unknown = sorted(set(params) - _CONNECTOR_PARAMS)
    if unknown:
        raise value_error(f"{name}: unknown connector_params {', '.join(unknown)}; known: "
                          f"{', '.join(sorted(_CONNECTOR_PARAMS))}")
    if "timeout" in params:
        timeout = params["timeout"]
        if type(timeout) is not int:
            raise type_error(f"{name}: connector_params.timeout must be an integer number of seconds, "
                             f"got {type_name(timeout)}")
        if not 0 < timeout <= MAX_TIMEOUT:
            raise value_error(f"{name}: connector_params.timeout must be between 1 and {MAX_TIMEOUT} seconds, "
                              f"got {timeout}")
    if "polling_policy" in params:
        policy = params["polling_policy"]
        if type(policy) is not dict:
            raise type_error(f"{name}: connector_params.polling_policy must be a map, got {type_name(policy)}")
        unknown = sorted(set(policy) - _POLLING_KEYS)
        if unknown:
            raise value_error(f"{name}: unknown polling_policy keys {', '.join(unknown)}")
        for key, item in policy.items():
            if not _number(item) or item < 0:
                raise type_error(f"{name}: polling_policy.{key} must be a non-negative number")
    if "skip_polling" in params and type(params["skip_polling"]) is not bool:
        raise type_error(f"{name}: connector_params.skip_polling must be a boolean")
    if "scopes" in params:
        scopes = params["scopes"]
        if type(scopes) is not str and not (type(scopes) is list and all(type(s) is str for s in scopes)):
            raise type_error(f"{name}: connector_params.scopes must be a string or a list of strings")
    result: dict[str, Any] = copy_value(params)
    return result


def _execution_error(child: Any, workflow_id: str) -> dict[str, Any]:
    """``ExecutionError`` for a child that failed or was cancelled; the child's error as the API shows it."""
    state = str(child.state)
    error = child.error
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        detail = error["message"]
    elif error is not None:
        detail = json_encode(error)
    else:
        detail = "cancelled"
    execution: dict[str, Any] = {"name": child.name, "state": state}
    if error is not None:
        execution["error"] = {"payload": json_encode(error), "context": detail}
    return {
        "message": f"ExecutionError: execution {child.id} of workflow {workflow_id} ended {state}: {detail}",
        "tags": ["ExecutionError"],
        "execution": execution,
    }


def _wait_for(th: WorkflowThread, children: list[ExecutionHost], timeout: float, name: str,
              source: str = "connector_params.timeout") -> Generator[Any, Any, None]:
    """Block ``th`` until every child has ended, or raise ``TimeoutError`` after ``timeout`` virtual seconds.

    Each child calls back when the runtime has settled its final state (whatever ended
    it: its last step, an error, a cancel before its first step), and the last one wakes ``th``.
    """
    if not children:
        return
    kernel = th.kernel
    clock = kernel.clock
    pending = {child.id for child in children}
    waiting = [True]

    def ended(child_id: str) -> Callable[[], None]:
        def on_end() -> None:
            with kernel.lock:
                pending.discard(child_id)
                if not pending and waiting[0]:
                    waiting[0] = False
                    timer.cancel()
                    kernel.wake(th)
        return on_end

    def on_timeout() -> None:
        if not waiting[0]:
            return
        waiting[0] = False
        kernel.wake(th, None, wf_error(
            "TimeoutError", f"{name}: the child execution(s) {', '.join(sorted(pending))} did not end within "
                            f"the timeout of {timeout:g} seconds ({source})"))

    def cleanup() -> None:
        waiting[0] = False
        timer.cancel()

    with kernel.lock:
        deadline = clock.now_ns + seconds_to_ns(timeout)
        timer = clock.call_at(deadline, on_timeout, label=f"{name} timeout ({th.describe()})")
        ids = ", ".join(child.id for child in children)
        # Blocked before the hooks are set: a child that has already ended wakes us at once.
        th.block(f"{name}: waiting for child execution(s) {ids} (times out at {kernel.format_ns(deadline)})",
                 cleanup)
        for child in children:
            child.when_ended(ended(child.id))
    try:
        yield BLOCK
        th.take_resume()
    finally:
        waiting[0] = False


__all__ = [
    "CHILD_MAP_CONNECTOR",
    "CHILD_RUN_CONNECTORS",
    "DEFAULT_TIMEOUT",
    "MAX_TIMEOUT",
    "ConnectorCall",
    "ConnectorError",
    "ConnectorFake",
    "ConnectorRegistry",
]

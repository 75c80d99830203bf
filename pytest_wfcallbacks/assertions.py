"""Assertion helpers and the state tables every failure report shows.

A failing helper raises `AssertionError` whose message starts with the verdict
and continues with the state of the execution(s): each callback endpoint with
its method, slot state, waiters and stored payloads, every request it answered
with status and virtual time, and each thread still running with what it waits
for. The same tables appear in `DeadlockError`, `WorkflowFailed` and the
teardown report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .callbacks import Callback, SlotState
from .clock import NS, format_duration
from .history import EventKind

if TYPE_CHECKING:
    from .errors import WorkflowError
    from .runtime import Execution, WorkflowRuntime


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], len(cell))
    line = "  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()
    out = [line, "  ".join("-" * w for w in widths)]
    out.extend("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip() for row in rows)
    return out


def _vt(runtime: WorkflowRuntime, ns: int) -> str:
    return f"t+{format_duration((ns - runtime.clock.start_ns) / NS)}"


#: Requests listed one per line in a state table before the rest are summarised by status.
MAX_LISTED_REQUESTS = 50


def _preview(value: Any, width: int = 40) -> str:
    from .values import json_encode

    try:
        text = json_encode(value) if not isinstance(value, bytes) else f"bytes[{len(value)}]"
    except Exception:
        text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _stored_cell(stored: Sequence[dict[str, Any]]) -> str:
    if not stored:
        return "0"
    bodies = ", ".join(_preview(item.get("http_request", {}).get("body")) for item in stored)
    return f"{len(stored)}: {bodies}"


def render_callbacks(execution: Execution) -> list[str]:
    """The callback table of one execution and every request its endpoints answered (virtual times)."""
    runtime = execution._runtime
    endpoints = list(execution._endpoints.values())
    if not endpoints:
        return ["  no callback endpoints"]
    rows = [[f"#{index}", ep.id, ep.method, ep.slot_state().value, str(len(ep.waiters)), _stored_cell(ep.stored),
             str(ep.delivered), str(len(ep.responses))] for index, ep in enumerate(endpoints, 1)]
    lines = ["  callbacks:"]
    lines.extend("    " + row for row in _table(
        ["", "callback id", "method", "slot", "waiters", "stored payloads", "delivered", "requests"], rows))
    numbers = {ep.id: f"#{index}" for index, ep in enumerate(endpoints, 1)}
    # The history holds every answer in the order it was given, including 404s for unknown callback ids.
    answered = [item for item in list(execution._history) if item.kind is EventKind.CALLBACK_REQUEST]
    if not answered:
        lines.append("  requests answered: none")
        return lines
    lines.append("  requests answered (status @ virtual time):")
    listed = answered[:MAX_LISTED_REQUESTS]
    request_rows = [[numbers.get(str(item.details.get("callback_id")), f"unknown {item.details.get('callback_id')}"),
                     str(item.details.get("method")), str(item.details.get("status")),
                     str(item.details.get("outcome")), f"{item.time.isoformat()} ({_vt(runtime, item.ns)})"]
                    for item in listed]
    lines.extend("    " + row for row in _table(["", "method", "status", "outcome", "virtual time"], request_rows))
    if len(answered) > len(listed):
        counts: dict[Any, int] = {}
        for item in answered[len(listed):]:
            status = item.details.get("status")
            counts[status] = counts.get(status, 0) + 1
        summary = ", ".join(f"{count}x {status}" for status, count in sorted(counts.items()))
        lines.append(f"    … and {len(answered) - len(listed)} more: {summary}")
    return lines


def render_execution_state(execution: Execution) -> str:
    """Callbacks, requests and waiting threads of one execution."""
    lines = [f"execution {execution.id} ({execution.workflow.name}): {execution.state.value}, "
             f"{execution.steps_executed} steps"]
    if execution.error is not None:
        lines.append(f"  error: {_shorten(summarize_error(execution.error).splitlines()[0], 160)}")
    lines.extend(render_callbacks(execution))
    threads = execution.live_threads()
    if threads:
        rows = [[t.thread, t.routine, t.step or "-", t.state, t.waiting_for or "-"] for t in threads]
        lines.extend("  " + row for row in _table(["thread", "routine", "step", "state", "waiting for"], rows))
    from .report import timeline_section  # the picture, when there are branches or callbacks

    lines.extend(timeline_section(execution))
    return "\n".join(lines)


def render_runtime_state(runtime: WorkflowRuntime) -> str:
    """Every execution of a runtime, the clock, the seed and pending timers."""
    clock = runtime.clock
    lines = [f"virtual now: {clock.now().isoformat()} (t+{format_duration(clock.elapsed)}); "
             f"seed={runtime.settings.seed} "
             f"(rerun with --wf-seed={runtime.settings.seed}); schedule={runtime.settings.schedule}"]
    for execution in runtime.executions:
        lines.append(render_execution_state(execution))
    pending = list(clock.pending())[:10]
    if pending:
        lines.append("pending timers: " + "; ".join(
            f"{t.label or 'timer'} @{_vt(runtime, t.deadline)}" for t in pending))
    return "\n".join(lines)


def describe_error_location(execution: Execution, error: WorkflowError) -> str:
    """``step "s", routine "main", file.yaml:12:5, branch b, at t+3s`` for an error that ended an execution."""
    step = getattr(error, "step", None)
    if step is None:
        return ""
    runtime = execution._runtime
    loc = step.loc
    routine = getattr(error, "routine", step.routine)
    where = f"step {step.name!r}, routine {routine!r}, {loc.file}:{loc.line}:{loc.column}"
    branch = getattr(error, "branch", None)
    if branch:
        where += f", branch {branch}"
    ns = getattr(error, "ns", None)
    if isinstance(ns, int):
        where += f", at {_vt(runtime, ns)}"
    return where


class StateAssertionError(AssertionError):
    """The failure of an assertion helper (``assert_slot_state``, ``assert_branch_order``, ...).

    An `AssertionError`, so pytest reports it as a failed assertion; import it from
    ``pytest_wfcallbacks`` to catch or match one (``pytest.raises(StateAssertionError)``).
    Its message already holds the state table (the execution's callbacks, slots and
    every request they answered, with virtual times), so the plugin adds none.
    """

    wf_state_shown = True


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summarize_error(error: Any) -> str:
    """A Workflows error value for people: message and tags first, other fields after.

    ``UnhandledBranchError`` lists each branch's own error on a line of its own instead
    of the JSON payloads it carries.
    """
    if not isinstance(error, dict):
        return repr(error)
    message = error.get("message")
    tags = error.get("tags")
    head = str(message) if isinstance(message, str) else "(no message)"
    if isinstance(tags, list) and tags:
        head += f"  [tags: {', '.join(str(t) for t in tags)}]"
    rest = {k: v for k, v in error.items() if k not in ("message", "tags", "branches")}
    if rest:
        head += "  " + _shorten(repr(rest), 300)
    lines = [head]
    branches = error.get("branches")
    if isinstance(branches, list):
        for branch in branches[:20]:
            if isinstance(branch, dict):
                detail = branch.get("error")
                context = detail.get("context") if isinstance(detail, dict) else detail
                lines.append(f"    branch {branch.get('id')}: {_shorten(str(context), 200)}")
        if len(branches) > 20:
            lines.append(f"    ... and {len(branches) - 20} more branches")
    return "\n".join(lines)


def render_failure(execution: Execution) -> str:
    """The message of `WorkflowFailed`."""
    lines = [f"execution {execution.id} of {execution.workflow.name} FAILED: {summarize_error(execution.error)}"]
    if execution._failure_where:
        lines.append(f"  in {execution._failure_where}")
    lines.append("")
    lines.append(execution._runtime.render_state())
    return "\n".join(lines)


def _state_name(value: Any) -> str:
    return str(getattr(value, "value", value)).upper()


def assert_slot_state(
    callback: Callback,
    expected: SlotState | str,
    *,
    waiters: int | None = None,
    available_payloads: int | None = None,
) -> None:
    """Assert a callback's slot state (and optionally its waiters and stored payloads)."""
    __tracebackhide__ = True
    problems: list[str] = []
    actual = callback.slot_state
    want = _state_name(expected)
    if want not in SlotState.__members__:
        raise ValueError(f"unknown slot state {expected!r}; use one of {', '.join(SlotState.__members__)}")
    if actual.value != want:
        problems.append(f"slot state is {actual.value}, expected {want}")
    if waiters is not None and callback.waiters != waiters:
        problems.append(f"waiters is {callback.waiters}, expected {waiters}")
    if available_payloads is not None and callback.available_payloads != available_payloads:
        problems.append(f"available payloads is {callback.available_payloads}, expected {available_payloads}")
    if problems:
        raise StateAssertionError(f"callback {callback.id}: " + "; ".join(problems) + "\n"
                             + render_execution_state(callback.execution))


def _status_of(response: Any) -> int:
    if isinstance(response, int) and not isinstance(response, bool):
        return response
    for attribute in ("status_code", "status"):
        value = getattr(response, attribute, None)
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value[:3].isdigit():
            return int(value[:3])
    raise TypeError(f"cannot read a status code from {response!r}: "
                    "pass an httpx, requests or werkzeug response or an int")


def assert_callback_response(response: Any, expected_status: int, *, callback: Callback | None = None) -> None:
    """Assert a callback request's status (200 accepted, 429 slot filled, 404 gone...)."""
    __tracebackhide__ = True
    status = _status_of(response)
    if status == expected_status:
        return
    meaning = {200: "accepted (delivered or stored)", 429: "rejected: slot already filled",
               404: "not found: execution gone, unknown id or wrong method", 401: "unauthenticated",
               403: "permission denied", 413: "body too large"}
    body = ""
    text = getattr(response, "text", None)
    if isinstance(text, str) and text:
        body = f"\nresponse body: {text}"
    message = (f"callback answered {status} ({meaning.get(status, 'unexpected')}), expected {expected_status} "
               f"({meaning.get(expected_status, '?')}){body}")
    request = getattr(response, "request", None)
    url = str(getattr(request, "url", "")) if request is not None else ""
    execution = callback.execution if callback is not None else None
    if execution is None and url:
        execution = _execution_for_url(url)
    if execution is None:
        raise AssertionError(message)  # no table here: the plugin's report section adds the runtime's
    message += "\n" + render_execution_state(execution)
    raise StateAssertionError(message)


def _execution_for_url(url: str) -> Execution | None:
    from .runtime import live_runtimes

    for runtime in live_runtimes():
        endpoint = runtime._endpoint_for_url(url.split("?", 1)[0])
        if endpoint is not None:
            found: Execution = endpoint.execution
            return found
    return None


def assert_branch_order(execution: Execution, step: str, expected: Sequence[Any]) -> None:
    """Assert the order in which parallel branches reached ``step`` (names, or loop values with their type)."""
    __tracebackhide__ = True
    actual = execution.branch_order(step)
    want = list(expected)
    if _same_values(actual, want):
        return
    runtime = execution._runtime
    arrivals = [f"  {item.branch} @{_vt(runtime, item.ns)}" for item in execution.history
                if item.step == step and item.branch is not None]
    raise StateAssertionError(
        f"branches reached step {step!r} in the order {actual}, expected {want}\n"
        + ("arrivals:\n" + "\n".join(arrivals) + "\n" if arrivals else f"no branch reached step {step!r}\n")
        + render_execution_state(execution)
    )


def _same_values(actual: Any, expected: Any) -> bool:
    """Equality that keeps Workflows types apart: 1 is not "1", 1.0 or true."""
    if type(actual) is not type(expected):
        return False
    if isinstance(actual, list):
        return len(actual) == len(expected) and all(_same_values(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(actual, dict):
        return list(actual) == list(expected) and all(_same_values(actual[k], expected[k]) for k in actual)
    return bool(actual == expected)

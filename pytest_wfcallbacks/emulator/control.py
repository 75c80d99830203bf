"""Clock control over HTTP: drive ``serve``'s virtual clock from a test in any language.

Paths (JSON bodies, Google's error envelope on mistakes)::

    GET  /emulator/v1/clock                     -> {"now", "autoAdvance", "timers": [{deadline, execution, what}]}
    POST /emulator/v1/clock:advance             {"seconds": N} | {"to": RFC 3339} | {"next": true} -> the clock
    POST /emulator/v1/clock:setAutoAdvance      {"enabled": bool} -> the clock
    POST /emulator/v1/executions:runUntilIdle   {} -> the clock

The interpreter never runs on the server's threads (a callback request only fills
a slot; see `pytest_wfcallbacks.server`), and moving the clock runs the threads each instant wakes. So a control
request only *queues* its work; the serve loop runs it on its own thread at its next
turn (it is woken at once) and the request answers when that work is done, with
every execution as far as it can go without moving time again. The answer is
therefore a consistent point to read executions from: after ``clock:advance`` has
answered, an ``await_callback`` whose timeout passed has already failed.
"""

from __future__ import annotations

import json
import math
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..callbacks import error_envelope
from ..clock import NS, Timer, seconds_to_ns
from ..errors import WfCallbacksError

if TYPE_CHECKING:
    from ..runtime import Execution, WorkflowRuntime

#: Seconds a control request waits for the serve loop before answering 503.
LOOP_TIMEOUT = 30.0
#: The furthest one advance may move the clock: the service's one-year execution limit, ten times over.
_MAX_ADVANCE_NS = 10 * 366 * 86_400 * NS


class ControlError(WfCallbacksError):
    """A control request the emulator refuses: answered with Google's error envelope."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.message = message

    def envelope(self) -> dict[str, Any]:
        """``{"error": {"code", "message", "status"}}``."""
        return error_envelope(self.code, self.status, self.message)


def bad(message: str) -> ControlError:
    """400 INVALID_ARGUMENT."""
    return ControlError(400, "INVALID_ARGUMENT", message)


def precondition(message: str) -> ControlError:
    """400 FAILED_PRECONDITION (the request is well formed; the emulator's state does not allow it)."""
    return ControlError(400, "FAILED_PRECONDITION", message)


@dataclass
class _Job:
    work: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class LoopQueue:
    """Work handed from the server's threads to the serve loop's thread, answered when done."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        #: Set when work arrives: the serve loop waits on it instead of sleeping a whole tick.
        self.wake = threading.Event()
        self.closed = False

    def call(self, work: Callable[[], Any], *, timeout: float = LOOP_TIMEOUT) -> Any:
        """Run ``work()`` on the loop's thread and return its value (raises what it raised)."""
        if self.closed:
            raise ControlError(503, "UNAVAILABLE", "the emulator is stopping")
        job = _Job(work)
        self._jobs.put(job)
        self.wake.set()
        if not job.done.wait(timeout):
            raise ControlError(503, "UNAVAILABLE", f"the serve loop did not take the request within {timeout:g} s "
                                                   "(is it stopping?); try again")
        if job.error is not None:
            raise job.error
        return job.result

    def run_pending(self) -> None:
        """Run every queued job (on the loop's thread)."""
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            try:
                job.result = job.work()
            except BaseException as exc:  # handed to the waiting request thread, which answers it
                job.error = exc
            finally:
                job.done.set()

    def close(self) -> None:
        """Refuse new work and fail what is still queued."""
        self.closed = True
        while True:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                return
            job.error = ControlError(503, "UNAVAILABLE", "the emulator is stopping")
            job.done.set()


# --------------------------------------------------------------------------- reading the clock


def timer_owner(timer: Timer) -> Execution | None:
    """The execution a timer belongs to, read from what its action closes over.

    Timers carry only a label; the owner is found in the action itself (a bound
    method of an `Execution`, a closure over a thread or an execution, a
    ``functools.partial`` of a `Callback`'s send), so the clock needs no new field.
    """
    from ..runtime import Execution

    seen: set[int] = set()
    pending: list[Any] = [timer.action]
    while pending:
        item = pending.pop()
        if id(item) in seen or len(seen) > 64:
            continue
        seen.add(id(item))
        if isinstance(item, Execution):
            return item
        execution = getattr(item, "execution", None)
        if isinstance(execution, Execution):
            return execution
        owner = getattr(item, "__self__", None)
        if owner is not None:
            pending.append(owner)
        for attribute in ("func", "_endpoint"):
            inner = getattr(item, attribute, None)
            if inner is not None:
                pending.append(inner)
        for cell in getattr(item, "__closure__", None) or ():
            try:
                pending.append(cell.cell_contents)
            except ValueError:  # an empty cell
                continue
    return None


def visible_timers(runtime: WorkflowRuntime) -> list[Timer]:
    """Pending timers in firing order, without the executions' one-year duration limits (always there)."""
    return [t for t in runtime.clock.pending() if not t.watchdog]


def clock_json(runtime: WorkflowRuntime, auto_advance: bool) -> dict[str, Any]:
    """The clock resource: ``{"now", "autoAdvance", "timers": [{"deadline", "execution", "what"}]}``."""
    from ..api import format_timestamp

    with runtime._kernel.lock:
        timers = []
        for timer in visible_timers(runtime):
            owner = timer_owner(timer)
            timers.append({"deadline": format_timestamp(timer.deadline),
                           "execution": owner.name if owner is not None else "",
                           "what": timer.label or "scheduled action"})
        return {"now": format_timestamp(runtime.clock.now_ns), "autoAdvance": auto_advance, "timers": timers}


# --------------------------------------------------------------------------- request bodies


def parse_body(raw: bytes) -> dict[str, Any]:
    """A JSON object body ({} when empty); INVALID_ARGUMENT otherwise."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise bad(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise bad("request body must be a JSON object")
    return body


def advance_target(body: dict[str, Any], now_ns: int, next_deadline: Callable[[], int | None]) -> int:
    """The instant a ``clock:advance`` body asks for: ``seconds``, ``to`` or ``next`` (exactly one)."""
    from ..api import format_timestamp, parse_timestamp

    given = [key for key in ("seconds", "to", "next") if key in body]
    unknown = sorted(set(body) - {"seconds", "to", "next"})
    if unknown:
        raise bad(f"clock:advance does not know {', '.join(map(repr, unknown))}: send one of "
                  '{"seconds": N}, {"to": "2026-01-01T00:00:00Z"} or {"next": true}')
    if len(given) != 1:
        raise bad('clock:advance needs exactly one of {"seconds": N}, {"to": "RFC 3339 instant"} or {"next": true}'
                  + (f", got {' and '.join(given)}" if given else ""))
    key = given[0]
    if key == "seconds":
        seconds = body["seconds"]
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds):
            raise bad(f"clock:advance seconds must be a number, got {json.dumps(seconds)}")
        if seconds < 0:
            raise bad(f"clock:advance seconds must not be negative (got {seconds:g}): the clock never goes back")
        delta = seconds_to_ns(seconds)
        if delta > _MAX_ADVANCE_NS:
            raise bad(f"clock:advance seconds {seconds:g} is more than ten years; advance in smaller steps")
        return now_ns + delta
    if key == "to":
        text = body["to"]
        if not isinstance(text, str):
            raise bad(f'clock:advance to must be an RFC 3339 string such as "2026-01-01T00:00:00Z", '
                      f"got {json.dumps(text)}")
        try:
            target = parse_timestamp(text)
        except ValueError as exc:
            raise bad(f"clock:advance to: {exc}; write it like \"2026-01-01T00:00:00Z\"") from None
        if target < now_ns:
            raise bad(f"clock:advance to {text} is before now ({format_timestamp(now_ns)}): the clock never goes back")
        if target - now_ns > _MAX_ADVANCE_NS:
            raise bad(f"clock:advance to {text} is more than ten years ahead; advance in smaller steps")
        return target
    if body["next"] is not True:
        raise bad(f'clock:advance next must be true, got {json.dumps(body["next"])}')
    deadline = next_deadline()
    if deadline is None:
        raise precondition("clock:advance next: no timer is pending (no sleep, await timeout or retry is waiting "
                           "for a time); GET /emulator/v1/clock lists the timers")
    return max(deadline, now_ns)


def enabled_flag(body: dict[str, Any]) -> bool:
    """The ``enabled`` of a ``clock:setAutoAdvance`` body."""
    unknown = sorted(set(body) - {"enabled"})
    if unknown or not isinstance(body.get("enabled"), bool):
        raise bad('clock:setAutoAdvance needs {"enabled": true} or {"enabled": false}'
                  + (f" (unknown field {', '.join(map(repr, unknown))})" if unknown else ""))
    return bool(body["enabled"])


__all__ = ["LOOP_TIMEOUT", "ControlError", "LoopQueue", "advance_target", "bad", "clock_json", "enabled_flag",
           "parse_body", "precondition", "timer_owner", "visible_timers"]

"""What the reports read: an execution's record turned into rows, marks and spans.

Everything here reads the public record of an `Execution` (its history, callbacks,
logs, result or error); nothing reaches into the interpreter. The picture it
builds is independent of the output: `timeline.py` draws it as text, `html.py`
as SVG.

Rows are the threads (the main thread first, then each branch in the order it
started) and one row per callback endpoint. Each history event becomes a *mark*
on a row (what happened at that moment) and may open a *span* (what the thread
waits for until its next event: a callback, a sleep, an HTTP or connector call).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..clock import NS, format_duration
from ..history import EventKind, HistoryEvent

if TYPE_CHECKING:
    from ..runtime import Execution

#: Mark symbols (one terminal column each) and how much they matter when several share a cell.
SYMBOLS: Mapping[str, tuple[str, int]] = {
    "step": ("●", 1),
    "started": ("▶", 2),
    "log": ("●", 1),
    "ended-ok": ("✓", 3),
    "ended-other": ("■", 3),
    "call": ("→", 4),
    "retry": ("R", 5),
    "await": ("◇", 6),
    "created": ("+", 7),
    "delivered": ("◆", 8),
    "timer": ("T", 9),
    "error": ("✗", 10),
    # callback rows: one letter per answered request
    "req-delivered": ("D", 5),
    "req-stored": ("S", 5),
    "req-rejected": ("X", 6),
    "req-not-found": ("N", 6),
    "req-other": ("!", 6),
}

#: Fill characters of the spans, by what the thread waits for.
FILLS: Mapping[str, str] = {"callback": "~", "sleep": "·", "http": "=", "connector": "=", "busy": "-"}

#: Legend entries, each starting with the symbol it explains (a legend lists the symbols drawn).
LEGEND = ("▶ started", "● step", "+ callback created", "◇ await", "◆ delivered", "T timer fired", "R retry",
          "→ call", "✗ error", "✓ ended", "■ stopped", "~ awaiting a callback", "· sleep", "= HTTP/connector call",
          "- in a step", "D 200 delivered", "S 200 stored", "X 429 rejected", "N 404", "! other status")


@dataclass(frozen=True)
class Row:
    """One row of the picture: a thread (``kind="thread"``) or a callback endpoint (``"callback"``)."""

    key: str
    name: str
    kind: str


@dataclass(frozen=True)
class Mark:
    """Something that happened on a row at the moment of history event ``seq``."""

    row: int
    seq: int
    ns: int
    what: str
    detail: str

    @property
    def symbol(self) -> str:
        """Its one-column symbol."""
        return SYMBOLS[self.what][0]

    @property
    def priority(self) -> int:
        """Which mark wins a shared cell."""
        return SYMBOLS[self.what][1]


@dataclass(frozen=True)
class Span:
    """A thread waiting from event ``start`` to event ``end`` (None: still waiting)."""

    row: int
    start: int
    end: int | None
    kind: str
    label: str
    detail: str


@dataclass(frozen=True)
class Request:
    """One request a callback endpoint answered."""

    callback: str
    method: str
    status: int
    outcome: str
    ns: int
    body: Any
    message: str


@dataclass(frozen=True)
class StepRow:
    """One step a thread entered (the step table of the HTML report)."""

    seq: int
    ns: int
    thread: str
    routine: str
    step: str
    step_type: str = ""
    state: str = ""
    faked: bool = False  # a call answered by a subworkflow fake instead of the subworkflow's steps


@dataclass
class Picture:
    """An execution's record, ready to draw."""

    title: str
    state: str
    start_ns: int
    end_ns: int | None
    events: list[HistoryEvent]
    rows: list[Row] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    #: row index of each event (thread row; callback requests on their callback's row)
    event_rows: list[list[int]] = field(default_factory=list)
    callback_numbers: dict[str, str] = field(default_factory=dict)

    def drawing_order(self) -> list[int]:
        """Row indexes as drawn: threads in start order, then callbacks in creation order."""
        return sorted(range(len(self.rows)), key=lambda index: (self.rows[index].kind != "thread", index))

    @property
    def thread_rows(self) -> list[Row]:
        """The rows that are threads."""
        return [row for row in self.rows if row.kind == "thread"]

    def offset(self, ns: int) -> str:
        """``t+5s``: a virtual instant relative to the execution's start."""
        return "t+" + format_seconds((ns - self.start_ns) / NS)


def format_seconds(seconds: float) -> str:
    """``0s``, ``1.5s``, ``2m 30s``, ``3h``, ``2d 4h`` (`clock.format_duration`, shared by every report)."""
    return format_duration(seconds)


def branch_name(branch_id: str, label: str | None) -> str:
    """``wait_in_parallel[3]`` for the iteration over value 3, ``par/left`` for a named branch."""
    if branch_id.endswith("]") and "[" in branch_id and label is not None:
        return f"{branch_id[:branch_id.rindex('[')]}[{label}]"
    return branch_id


def _preview(value: Any, width: int = 60) -> str:
    from ..values import json_or_repr

    text = json_or_repr(value) if not isinstance(value, bytes) else f"bytes[{len(value)}]"
    return text if len(text) <= width else text[: width - 1] + "…"


def step_rows(execution: Execution, picture: Picture | None = None) -> list[StepRow]:
    """The steps each thread entered, in entry order: the execution's step entries."""
    picture = picture or read_execution(execution)
    names = {row.key: row.name for row in picture.rows}
    return [StepRow(entry.entry_id, entry.create_ns, names.get(entry.branch or "", "main"), entry.routine, entry.step,
                    entry.step_type, entry.state.removeprefix("STATE_"), entry.faked)
            for entry in execution.step_entries]


def read_execution(execution: Execution) -> Picture:
    """Read an execution's record into a `Picture`."""
    events = execution.history
    start_ns = events[0].ns if events else 0
    end_ns = next((item.ns for item in events if item.kind is EventKind.EXECUTION_ENDED), None)
    picture = Picture(title=f"{execution.workflow.name} execution {execution.id[:8]}", state=str(execution.state),
                      start_ns=start_ns, end_ns=end_ns, events=events)
    _Reader(picture, execution).read()
    return picture


class _Reader:
    def __init__(self, picture: Picture, execution: Execution) -> None:
        self.picture = picture
        self.index: dict[str, int] = {}
        self.labels: dict[str, str] = {}
        for item in picture.events:
            if item.kind is EventKind.BRANCH_STARTED and item.branch is not None:
                self.labels.setdefault(item.branch, str(item.details.get("label")))
        for number, callback in enumerate(execution.callbacks, 1):
            picture.callback_numbers[callback.id] = f"cb#{number}"
        # A wait opened on a thread row: (row, start seq, kind, label, detail)
        self.open: dict[int, tuple[int, str, str, str]] = {}
        self.last_step: dict[int, str] = {}

    def row(self, key: str, name: str, kind: str) -> int:
        found = self.index.get(key)
        if found is None:
            found = self.index[key] = len(self.picture.rows)
            self.picture.rows.append(Row(key, name, kind))
        return found

    def thread_row(self, branch: str | None) -> int:
        if branch is None:
            return self.row("", "main", "thread")
        return self.row(branch, branch_name(branch, self.labels.get(branch)), "thread")

    def callback_row(self, callback_id: str) -> int:
        number = self.picture.callback_numbers.get(callback_id)
        if number is None:  # a request for an id this execution never created (answered 404)
            number = self.picture.callback_numbers[callback_id] = f"cb?{len(self.picture.callback_numbers) + 1}"
        return self.row("cb:" + callback_id, number, "callback")

    def mark(self, row: int, seq: int, item: HistoryEvent, what: str, detail: str) -> None:
        self.picture.marks.append(Mark(row, seq, item.ns, what, f"{self.picture.offset(item.ns)}  {detail}"))

    def close(self, row: int, seq: int) -> None:
        opened = self.open.pop(row, None)
        if opened is not None:
            start, kind, label, detail = opened
            self.picture.spans.append(Span(row, start, seq, kind, label, detail))

    def read(self) -> None:
        picture = self.picture
        self.thread_row(None)
        for seq, item in enumerate(picture.events):
            rows = self.read_event(seq, item)
            picture.event_rows.append(rows)
        for row, (start, kind, label, detail) in sorted(self.open.items()):
            picture.spans.append(Span(row, start, None, kind, label, detail))
        self.open.clear()

    def read_event(self, seq: int, item: HistoryEvent) -> list[int]:
        kind = item.kind
        details = item.details
        step = item.step or ""
        cb = self.picture.callback_numbers
        if kind is EventKind.CALLBACK_REQUEST:
            callback_id = str(details.get("callback_id"))
            row = self.callback_row(callback_id)
            status = int(details.get("status", 0))
            outcome = str(details.get("outcome", ""))
            request = Request(cb.get(callback_id, callback_id), str(details.get("method", "")), status, outcome,
                              item.ns, details.get("body"), str(details.get("message", "")))
            self.picture.requests.append(request)
            what = {"delivered": "req-delivered", "stored": "req-stored", "rejected": "req-rejected",
                    "not-found": "req-not-found"}.get(outcome, "req-other")
            text = f"{request.callback} {request.method} request answered {status} {outcome}"
            if request.body is not None:
                text += f", body {_preview(request.body)}"
            if request.message:
                text += f" ({request.message})"
            self.mark(row, seq, item, what, text)
            return [row]
        row = self.thread_row(item.branch)
        where = f"{self.picture.rows[row].name}" + (f", step {step}" if step else "")
        rows = [row]
        if kind is not EventKind.CALLBACK_DELIVERED or not details.get("stored"):
            self.close(row, seq)
        if kind is EventKind.EXECUTION_STARTED:
            self.mark(row, seq, item, "started", "execution started")
        elif kind is EventKind.STEP_ENTERED:
            self.last_step[row] = step
            self.mark(row, seq, item, "step", f"{where}: step entered (routine {details.get('routine', 'main')})")
            self.open[row] = (seq, "busy", step, f"{where}: in step {step}")
        elif kind is EventKind.CALLBACK_CREATED:
            callback_id = str(details.get("callback_id"))
            crow = self.callback_row(callback_id)
            rows.append(crow)
            text = f"{where}: {cb.get(callback_id)} created ({details.get('method')} {details.get('url')})"
            self.mark(row, seq, item, "created", text)
            self.mark(crow, seq, item, "created", text)
        elif kind is EventKind.CALLBACK_AWAITED:
            number = cb.get(str(details.get("callback_id")), "callback")
            text = f"{where}: await_callback on {number} (timeout {details.get('timeout')}s)"
            self.mark(row, seq, item, "await", text)
            self.open[row] = (seq, "callback", f"await {number}", text)
        elif kind is EventKind.CALLBACK_DELIVERED:
            number = cb.get(str(details.get("callback_id")), "callback")
            how = "a stored request" if details.get("stored") else "a request"
            self.open.pop(row, None)
            self.mark(row, seq, item, "delivered", f"{where}: {how} to {number} delivered to the await")
        elif kind is EventKind.TIMER_FIRED:
            self.mark(row, seq, item, "timer", f"{where}: timer fired ({details.get('reason', 'timer')})")
        elif kind is EventKind.SLEEP:
            seconds = float(details.get("seconds", 0))
            text = f"{where}: sleep {format_seconds(seconds)}"
            self.mark(row, seq, item, "step", text)
            self.open[row] = (seq, "sleep", f"sleep {format_seconds(seconds)}", text)
        elif kind is EventKind.RETRY:
            text = f"{where}: retry {details.get('attempt')} after {details.get('delay')}s"
            self.mark(row, seq, item, "retry", text)
        elif kind is EventKind.HTTP_REQUEST:
            method = str(details.get("method", ""))
            url = str(details.get("url", ""))
            host = url.split("//", 1)[-1].split("/", 1)[0]
            text = f"{where}: http {method} {url}"
            self.mark(row, seq, item, "call", text)
            self.open[row] = (seq, "http", f"{method} {host}", text)
        elif kind is EventKind.CONNECTOR_CALL:
            name = str(details.get("connector", ""))
            text = f"{where}: connector {name}"
            self.mark(row, seq, item, "call", text)
            self.open[row] = (seq, "connector", name.rsplit(".", 1)[-1], text)
        elif kind is EventKind.SUBWORKFLOW_FAKED:
            name = str(details.get("subworkflow", ""))
            text = f"{where}: faked call of subworkflow {name}"
            self.mark(row, seq, item, "call", text)
            self.open[row] = (seq, "connector", f"fake {name}", text)
        elif kind is EventKind.ERROR_RAISED:
            self.mark(row, seq, item, "error", f"{where}: error raised {_preview(details.get('error'), 120)}")
        elif kind is EventKind.LOG:
            text = f"{where}: log {details.get('severity')} {_preview(details.get('payload'))}"
            self.mark(row, seq, item, "log", text)
            self._reopen(row, seq)
        elif kind is EventKind.BRANCH_STARTED:
            self.mark(row, seq, item, "started", f"{where}: branch started")
        elif kind is EventKind.BRANCH_ENDED:
            ended = str(details.get("status", "ok"))
            self.mark(row, seq, item, "ended-ok" if ended == "ok" else "error" if ended == "error"
                      else "ended-other", f"{where}: branch ended ({ended})")
        elif kind is EventKind.EXECUTION_ENDED:
            state = str(details.get("state", ""))
            what = {"SUCCEEDED": "ended-ok", "FAILED": "error"}.get(state, "ended-other")
            self.mark(row, seq, item, what, f"execution ended {state}")
        else:  # a kind added later: still shown, as a plain mark
            self.mark(row, seq, item, "step", f"{where}: {kind}")
        if kind in (EventKind.CALLBACK_CREATED, EventKind.CALLBACK_DELIVERED, EventKind.TIMER_FIRED,
                    EventKind.ERROR_RAISED, EventKind.RETRY):
            self._reopen(row, seq)
        return rows

    def _reopen(self, row: int, seq: int) -> None:
        """After an instant event the thread is back in its step until its next event."""
        if row not in self.open and row in self.last_step:
            step = self.last_step[row]
            self.open[row] = (seq, "busy", step, f"{self.picture.rows[row].name}: in step {step}")


def group_requests(requests: Sequence[Request], offset: Any) -> list[str]:
    """``200 delivered x10 @t+0s`` runs of identical answers, per callback, in order."""
    lines: list[str] = []
    by_callback: dict[str, list[Request]] = {}
    for request in requests:
        by_callback.setdefault(request.callback, []).append(request)
    for callback, items in by_callback.items():
        runs: list[tuple[int, str, int, int]] = []
        for request in items:
            if runs and runs[-1][:3] == (request.status, request.outcome, request.ns):
                status, outcome, ns, count = runs[-1]
                runs[-1] = (status, outcome, ns, count + 1)
            else:
                runs.append((request.status, request.outcome, request.ns, 1))
        parts = [f"{status} {outcome}" + (f" x{count}" if count > 1 else "") + f" @{offset(ns)}"
                 for status, outcome, ns, count in runs]
        lines.append(f"{callback} requests: " + ", ".join(parts))
    return lines

"""What a run leaves behind: plain data written by the engine, read by everything above it.

The engine and its effects append to an `ExecutionRecord` (history events, log
entries, the step count, errors the interpreter hit). Readers (assertions, the REST
API, the CLI, reports) read the record and the snapshots here; none of them needs
the interpreter's own types. Step entries (the service's ``stepEntries``) get their
list beside ``history`` (rows laid out in ``step_entries.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .clock import ns_to_datetime
from .history import EventKind, HistoryEvent, event
from .step_entries import Row


@dataclass(frozen=True)
class LogEntry:
    """One ``sys.log`` entry."""

    severity: str
    payload: Any
    ns: int
    branch: str | None = None
    step: str | None = None

    @property
    def time(self) -> datetime:
        """Virtual time of the entry."""
        return ns_to_datetime(self.ns)


@dataclass(frozen=True)
class ThreadSnapshot:
    """One live thread of an execution, as failure reports show it (`Execution.live_threads`)."""

    thread: str
    routine: str
    step: str | None
    state: str
    waiting_for: str


@dataclass(eq=False)
class ExecutionRecord:
    """Everything one execution has recorded so far; appended to under the runtime lock."""

    #: Every event, in order (`HistoryEvent`, frozen).
    history: list[HistoryEvent] = field(default_factory=list)
    #: ``sys.log`` entries, in order.
    logs: list[LogEntry] = field(default_factory=list)
    #: Steps run so far (the service's step count; the ``steps`` limit counts these).
    steps: int = 0
    #: Python errors the interpreter hit (bugs: reported by `WorkflowRuntime.check`).
    internal_errors: list[BaseException] = field(default_factory=list)
    #: One row per step entered, in entry order (the service's stepEntries; layout in `step_entries`).
    step_entries: list[Row] = field(default_factory=list)
    #: (step path, outcome) of each switch (the arm index; len(arms): none true) and try step with
    #: except (0: the body ended, 1: except caught an error); only while a coverage reader listens.
    decisions: list[tuple[str, int]] | None = None

    def add(self, kind: EventKind, ns: int, branch: str | None, step: str | None, **details: Any) -> None:
        """Append one history event."""
        self.history.append(event(kind, ns, branch, step, **details))


__all__ = ["ExecutionRecord", "LogEntry", "ThreadSnapshot"]

"""What a run leaves behind: plain data written by the engine, read by everything above it.

The engine and its effects append to an `ExecutionRecord` (history events, log
entries, the step count, errors the interpreter hit). Readers (assertions, the REST
API, the CLI, reports) read the record and the snapshots here; none of them needs
the interpreter's own types. Step entries (the service's ``stepEntries``) get their
list beside ``history`` (rows laid out in ``step_entries.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType
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


#: Entries a record keeps per list by default (the ``record_entries`` limit): about 35 MB of history.
RECORD_LIMIT = 100_000


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
    #: Entries kept per list before `trim` drops the oldest of the middle (``record_entries`` limit).
    limit: int = RECORD_LIMIT
    #: Events dropped from ``history`` so far (0 while nothing was).
    dropped: int = 0
    #: Step entries dropped so far (0 while nothing was).
    dropped_entries: int = 0
    #: Entry ids of the subworkflow-call steps a test's fake answered (subworkflows.py).
    faked_entries: set[int] = field(default_factory=set)
    #: What the trimmed events held that coverage reads, kept only while a coverage reader listens
    #: (``decisions`` is not None): the source lines of the steps entered and the branches started.
    #: Both are bounded by the definition, so a long execution's coverage loses nothing.
    dropped_lines: set[int] = field(default_factory=set)
    dropped_branches: set[str] = field(default_factory=set)

    @property
    def trim_at(self) -> int:
        """Length past which `trim` has work (a tenth over the limit: trimming in batches costs nothing per step)."""
        return self.limit + self.limit // 10

    def trim(self) -> None:
        """Keep a long execution's memory bounded: the first tenth of the limit and the most recent entries.

        The dropped middle is replaced by one `EventKind.RECORD_TRUNCATED` event whose ``dropped``
        detail says how many events it stands for, so no reader mistakes a trimmed history for a
        whole one. The lists stay the same objects (the engine appends to them). Every bounded
        list of the record is cut the same way: the step entries keep their first tenth and the most
        recent rows, and the gap shows in their ``entry_id`` (the engine keeps the row of a step still
        in progress, so ending a dropped step writes to a row nobody reads).
        """
        decisions = self.decisions
        self.dropped += _trim_list(self.history, self.limit, self.dropped,
                                   None if decisions is None else self._remember)
        if decisions is not None:
            decisions[:] = dict.fromkeys(decisions)  # a coverage reader needs each outcome once
        entries = self.step_entries
        if len(entries) > self.limit:
            head = max(1, self.limit // 10)
            excess = len(entries) - self.limit
            del entries[head:head + excess]
            self.dropped_entries += excess

    def _remember(self, events: list[HistoryEvent]) -> None:
        collect_visited(events, self.dropped_lines, self.dropped_branches)

    def add(self, kind: EventKind, ns: int, branch: str | None, step: str | None, **details: Any) -> None:
        """Append one history event."""
        self.history.append(event(kind, ns, branch, step, **details))


def collect_visited(events: Iterable[HistoryEvent], lines: set[int], branches: set[str]) -> None:
    """Add the source line of each step entered and the id of each branch started (what coverage reads)."""
    for item in events:
        if item.kind is EventKind.STEP_ENTERED:
            line = item.details.get("line", 0)
            if line > 0:
                lines.add(line)
        elif item.kind is EventKind.BRANCH_STARTED and item.branch is not None:
            branches.add(item.branch)


def _trim_list(items: list[HistoryEvent], limit: int, dropped_before: int,
               on_drop: Callable[[list[HistoryEvent]], None] | None = None) -> int:
    """Drop the oldest entries after the head of ``items`` down to ``limit``; return how many went.

    ``on_drop`` sees the events about to go (the marker of an earlier trim is not among them).
    """
    if len(items) <= limit:
        return 0
    head = max(1, limit // 10)
    marker_at = head
    has_marker = dropped_before > 0 and items[marker_at].kind is EventKind.RECORD_TRUNCATED
    start = marker_at + 1 if has_marker else marker_at
    excess = len(items) - limit + (0 if has_marker else 1)
    first_dropped = items[start]
    if on_drop is not None:
        on_drop(items[start:start + excess])
    del items[start:start + excess]
    total = dropped_before + excess
    if has_marker:
        items[marker_at] = replace(items[marker_at], details=MappingProxyType({"dropped": total}))
    else:
        items.insert(marker_at, event(EventKind.RECORD_TRUNCATED, first_dropped.ns, None, None, dropped=total))
    return excess


__all__ = ["RECORD_LIMIT", "ExecutionRecord", "LogEntry", "ThreadSnapshot", "collect_visited"]

"""Step entries: one record per step an execution entered, shaped like the service's ``stepEntries``.

The Executions API keeps a ``StepEntry`` for every step a run enters (its REST
reference, ``projects.locations.workflows.executions.stepEntries``): an entry id
counting from 1, the routine and step names, the step's type, its state (in
progress until the step ends, then succeeded, failed or cancelled), create and
update times, and the exception that failed it. The engine appends one row
to `ExecutionRecord.step_entries` as a step is entered and updates it as the step
ends; readers (path assertions, the REST API, reports) read `Execution.step_entries`.

The record is kept compact and cheap for long executions: one small list per entry
(see `ENTRY_ID` ... `EXCEPTION`), times as integer nanoseconds of the virtual clock,
the step's own frozen definition node shared rather than copied, interned strings
for the state. Readers get frozen, slotted `StepEntry` objects built from the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import ns_to_datetime
from .errors import Location

# The service's StepEntry.StepType names this engine records (one entry per named step).
STEP_ASSIGN = "STEP_ASSIGN"
STEP_STD_LIB_CALL = "STEP_STD_LIB_CALL"
STEP_CONNECTOR_CALL = "STEP_CONNECTOR_CALL"
STEP_SUBWORKFLOW_CALL = "STEP_SUBWORKFLOW_CALL"
STEP_SWITCH = "STEP_SWITCH"
STEP_FOR = "STEP_FOR"
STEP_PARALLEL_FOR = "STEP_PARALLEL_FOR"
STEP_PARALLEL_BRANCH = "STEP_PARALLEL_BRANCH"
STEP_TRY_RETRY_EXCEPT = "STEP_TRY_RETRY_EXCEPT"
STEP_RETURN = "STEP_RETURN"
STEP_RAISE = "STEP_RAISE"
STEP_GOTO = "STEP_GOTO"
#: A nested ``steps:`` block: the service's StepType has no name for it.
STEP_TYPE_UNSPECIFIED = "STEP_TYPE_UNSPECIFIED"

#: Every StepType value of the service's reference (what the REST filter accepts).
STEP_TYPES = (
    "STEP_TYPE_UNSPECIFIED", "STEP_ASSIGN", "STEP_STD_LIB_CALL", "STEP_CONNECTOR_CALL", "STEP_SUBWORKFLOW_CALL",
    "STEP_CALL", "STEP_SWITCH", "STEP_CONDITION", "STEP_FOR", "STEP_FOR_ITERATION", "STEP_PARALLEL_FOR",
    "STEP_PARALLEL_BRANCH", "STEP_PARALLEL_BRANCH_ENTRY", "STEP_TRY_RETRY_EXCEPT", "STEP_TRY", "STEP_RETRY",
    "STEP_EXCEPT", "STEP_RETURN", "STEP_RAISE", "STEP_GOTO",
)

# The service's StepEntry.State names.
STATE_IN_PROGRESS = "STATE_IN_PROGRESS"
STATE_SUCCEEDED = "STATE_SUCCEEDED"
STATE_FAILED = "STATE_FAILED"
STATE_CANCELLED = "STATE_CANCELLED"
STATES = ("STATE_UNSPECIFIED", STATE_IN_PROGRESS, STATE_SUCCEEDED, STATE_FAILED, STATE_CANCELLED)


#: The layout of one row of `ExecutionRecord.step_entries`, as the engine writes it: a plain list
#: ``[entry_id, step, branch, create_ns, update_ns, state, exception]`` (``step`` is the frozen step of
#: the definition, with its name, routine and location). A list costs a fraction of an object per step
#: entered, which keeps recording inside the interpreter's speed budget; `StepEntry` is built from it
#: when a reader asks.
ENTRY_ID, STEP, BRANCH, CREATED, UPDATED, STATE, EXCEPTION = range(7)
Row = list[Any]


@dataclass(frozen=True, slots=True)
class StepEntry:
    """One step an execution entered (the service's ``StepEntry``), as it stood when it was read.

    ``state`` is ``STATE_IN_PROGRESS`` while the step runs (a call waiting for a callback,
    a subworkflow running its steps) and becomes ``STATE_SUCCEEDED``, ``STATE_FAILED``
    (``exception`` then holds the error value) or ``STATE_CANCELLED`` (the execution ended
    while the step ran) as the step ends; ``update_time`` is when that happened.
    """

    #: Monotonic from 1, in entry order.
    entry_id: int
    #: The routine (``main`` or a subworkflow) the step belongs to.
    routine: str
    #: The step's name.
    step: str
    #: The service's StepType name (``STEP_ASSIGN``, ``STEP_SUBWORKFLOW_CALL``, ...).
    step_type: str
    #: ``STATE_IN_PROGRESS``, ``STATE_SUCCEEDED``, ``STATE_FAILED`` or ``STATE_CANCELLED``.
    state: str
    #: The parallel branch (thread) that entered the step (``None`` for the main thread).
    branch: str | None
    #: Virtual nanoseconds when the step was entered / when the entry last changed.
    create_ns: int
    update_ns: int
    #: The error value that failed the step (None unless ``STATE_FAILED``).
    exception: Any
    #: Where the step is in its source (file, line, column).
    location: Location
    #: True for a subworkflow call a test's fake answered instead of the subworkflow's steps.
    faked: bool = False

    @classmethod
    def from_row(cls, row: Row, step_type: str, faked: bool = False) -> StepEntry:
        """The entry of one record row (``step_type`` is the StepType name of its step)."""
        step = row[STEP]
        return cls(row[ENTRY_ID], step.routine, step.name, step_type, row[STATE], row[BRANCH], row[CREATED],
                   row[UPDATED], row[EXCEPTION], step.loc, faked)

    @property
    def create_time(self) -> datetime:
        """When the step was entered (virtual, aware UTC)."""
        return ns_to_datetime(self.create_ns)

    @property
    def update_time(self) -> datetime:
        """When the entry last changed (virtual, aware UTC): the step's end once it has ended."""
        return ns_to_datetime(self.update_ns)


def cancel_unfinished(rows: list[Row], ns: int) -> None:
    """An execution ended: entries of steps that never ended (their thread was stopped) are cancelled."""
    for row in rows:
        if row[STATE] == STATE_IN_PROGRESS:
            row[STATE] = STATE_CANCELLED
            row[UPDATED] = ns


def thread_path(entries: list[StepEntry], branch: str | None, labels: dict[str, str]) -> list[str]:
    """Step names one thread entered, in order; ``branch`` is a branch id or its label (None: main)."""
    if branch is None:
        return [entry.step for entry in entries if entry.branch is None]
    return [entry.step for entry in entries
            if entry.branch is not None and (entry.branch == branch or labels.get(entry.branch) == branch)]


__all__ = ["STATES", "STEP_TYPES", "Row", "StepEntry", "cancel_unfinished", "thread_path"]

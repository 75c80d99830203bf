"""Step entries: one record per step an execution entered, shaped like the service's ``stepEntries``.

The Executions API keeps a ``StepEntry`` for every step a run enters (its REST
reference, ``projects.locations.workflows.executions.stepEntries``): an entry id
counting from 1, the routine and step names, the step's type, its state (in
progress until the step ends, then succeeded, failed or cancelled), create and
update times, and the exception that failed it. The engine appends one `StepEntry`
to `ExecutionRecord.step_entries` as a step is entered and updates it as the step
ends; readers (path assertions, the REST API, reports) only read them.

The entries are kept compact for long executions: slotted objects, times as integer
nanoseconds of the virtual clock (`create_time` / `update_time` convert on read), the
step's own frozen `Location` shared rather than copied, and interned strings for the
type and state.
"""

from __future__ import annotations

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


class StepEntry:
    """One step an execution entered (the service's ``StepEntry``); read-only for everyone but the engine.

    ``state`` is ``STATE_IN_PROGRESS`` while the step runs (a call waiting for a callback,
    a subworkflow running its steps) and becomes ``STATE_SUCCEEDED``, ``STATE_FAILED``
    (``exception`` then holds the error value) or ``STATE_CANCELLED`` (the execution or
    the branch was stopped) as the step ends; ``update_time`` is when that happened.
    """

    __slots__ = ("branch", "create_ns", "entry_id", "exception", "location", "routine", "state", "step",
                 "step_type", "update_ns")

    def __init__(self, entry_id: int, routine: str, step: str, step_type: str, branch: str | None, ns: int,
                 location: Location) -> None:
        #: Monotonic from 1, in entry order.
        self.entry_id = entry_id
        #: The routine (``main`` or a subworkflow) the step belongs to.
        self.routine = routine
        #: The step's name.
        self.step = step
        #: The service's StepType name (``STEP_ASSIGN``, ``STEP_SUBWORKFLOW_CALL``, ...).
        self.step_type = step_type
        #: The parallel branch (thread) that entered the step (``None`` for the main thread).
        self.branch = branch
        #: Virtual nanoseconds when the step was entered / last changed state.
        self.create_ns = ns
        self.update_ns = ns
        #: ``STATE_IN_PROGRESS``, ``STATE_SUCCEEDED``, ``STATE_FAILED`` or ``STATE_CANCELLED``.
        self.state = STATE_IN_PROGRESS
        #: The error value that failed the step (None unless ``STATE_FAILED``).
        self.exception: Any = None
        #: Where the step is in its source (file, line, column).
        self.location = location

    @property
    def create_time(self) -> datetime:
        """When the step was entered (virtual, aware UTC)."""
        return ns_to_datetime(self.create_ns)

    @property
    def update_time(self) -> datetime:
        """When the entry last changed (virtual, aware UTC): the step's end once it has ended."""
        return ns_to_datetime(self.update_ns)

    def __repr__(self) -> str:
        thread = f" branch={self.branch}" if self.branch else ""
        return f"<StepEntry {self.entry_id} {self.routine}/{self.step} {self.step_type} {self.state}{thread}>"


def cancel_unfinished(entries: list[StepEntry], ns: int) -> None:
    """An execution ended: entries of steps that never ended (their thread was stopped) are cancelled."""
    for entry in entries:
        if entry.state == STATE_IN_PROGRESS:
            entry.state = STATE_CANCELLED
            entry.update_ns = ns


def thread_path(entries: list[StepEntry], branch: str | None, labels: dict[str, str]) -> list[str]:
    """Step names one thread entered, in order; ``branch`` is a branch id or its label (None: main)."""
    if branch is None:
        return [entry.step for entry in entries if entry.branch is None]
    return [entry.step for entry in entries
            if entry.branch is not None and (entry.branch == branch or labels.get(entry.branch) == branch)]


__all__ = ["STATES", "STEP_TYPES", "StepEntry", "cancel_unfinished", "thread_path"]

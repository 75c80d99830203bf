"""pytest-wfcallbacks: test Google Cloud Workflows definitions and their callbacks in pytest.

Runs the YAML/JSON you deploy in process, on a virtual clock, serving each callback endpoint over real
HTTP on loopback and answering callback requests like the service (200 / 429 / 404).
"""

from __future__ import annotations

from .assertions import (
    StateAssertionError,
    assert_branch_order,
    assert_callback_response,
    assert_slot_state,
)
from .assertions_path import (
    assert_not_visited,
    assert_path,
)
from .callbacks import (
    Callback,
    CallbackResponse,
    SlotState,
)
from .clock import VirtualClock
from .connectors import (
    ConnectorCall,
    ConnectorError,
    ConnectorFake,
    ConnectorRegistry,
)
from .errors import (
    ClockBackwardsError,
    DeadlockError,
    ExecutionCancelled,
    Location,
    RealTimeBudgetExceeded,
    WfCallbacksError,
    WorkflowFailed,
    WorkflowSyntaxError,
)
from .history import (
    EventKind,
    HistoryEvent,
)
from .outbound import (
    FAKE_TOKEN,
    delayed,
    respond_after,
)
from .runtime import (
    Execution,
    ExecutionFinished,
    ExecutionState,
    LogEntry,
    Outcome,
    Workflow,
    WorkflowRuntime,
)
from .server import WorkflowServer
from .settings import (
    Limits,
    Settings,
)
from .step_entries import StepEntry
from .subworkflows import (
    SubworkflowCall,
    SubworkflowError,
    SubworkflowFake,
    SubworkflowRegistry,
)

__version__ = "0.2.0"  # the one place the version is written (pyproject.toml reads it)

__all__ = [
    "FAKE_TOKEN",
    "Callback",
    "CallbackResponse",
    "ClockBackwardsError",
    "ConnectorCall",
    "ConnectorError",
    "ConnectorFake",
    "ConnectorRegistry",
    "DeadlockError",
    "RealTimeBudgetExceeded",
    "EventKind",
    "Execution",
    "ExecutionCancelled",
    "ExecutionFinished",
    "ExecutionState",
    "HistoryEvent",
    "Limits",
    "Location",
    "LogEntry",
    "Outcome",
    "Settings",
    "SlotState",
    "StateAssertionError",
    "StepEntry",
    "SubworkflowCall",
    "SubworkflowError",
    "SubworkflowFake",
    "SubworkflowRegistry",
    "VirtualClock",
    "WfCallbacksError",
    "Workflow",
    "WorkflowFailed",
    "WorkflowRuntime",
    "WorkflowServer",
    "WorkflowSyntaxError",
    "assert_branch_order",
    "assert_callback_response",
    "assert_not_visited",
    "assert_path",
    "assert_slot_state",
    "delayed",
    "respond_after",
]

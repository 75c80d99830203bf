"""pytest-wfcallbacks: test Google Cloud Workflows definitions and their callbacks in pytest.

Runs the YAML/JSON you deploy in process, on a virtual clock, serving each callback endpoint over real
HTTP on loopback and answering callback requests like the service (200 / 429 / 404).
"""

from __future__ import annotations

from .assertions import assert_branch_order
from .assertions import assert_callback_response
from .assertions import assert_slot_state
from .callbacks import Callback
from .callbacks import CallbackResponse
from .callbacks import SlotState
from .clock import VirtualClock
from .errors import DeadlockError
from .errors import ExecutionCancelled
from .errors import Location
from .errors import WfCallbacksError
from .errors import WorkflowFailed
from .errors import WorkflowSyntaxError
from .history import EventKind
from .history import HistoryEvent
from .runtime import Execution
from .runtime import ExecutionFinished
from .runtime import ExecutionState
from .runtime import LogEntry
from .runtime import Outcome
from .runtime import Workflow
from .runtime import WorkflowRuntime
from .server import WorkflowServer
from .settings import Limits
from .settings import Settings

__version__ = "0.1.0"

__all__ = [
    "Callback",
    "CallbackResponse",
    "DeadlockError",
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
    "VirtualClock",
    "WfCallbacksError",
    "Workflow",
    "WorkflowFailed",
    "WorkflowRuntime",
    "WorkflowServer",
    "WorkflowSyntaxError",
    "assert_branch_order",
    "assert_callback_response",
    "assert_slot_state",
]

"""Typed, frozen history events of an execution."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from .clock import ns_to_datetime

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class EventKind(str, enum.Enum):
    """What happened."""

    EXECUTION_STARTED = "execution started"
    STEP_ENTERED = "step entered"
    CALLBACK_CREATED = "callback created"
    CALLBACK_AWAITED = "callback awaited"
    CALLBACK_REQUEST = "callback request answered"
    CALLBACK_DELIVERED = "callback delivered"
    TIMER_FIRED = "timer fired"
    SLEEP = "sleep"
    BRANCH_STARTED = "branch started"
    BRANCH_ENDED = "branch ended"
    ERROR_RAISED = "error raised"
    RETRY = "retry"
    LOG = "log"
    HTTP_REQUEST = "http request"
    CONNECTOR_CALL = "connector call"
    #: A call to a subworkflow answered by a test's fake (``subworkflow``, ``after``) instead of its steps.
    SUBWORKFLOW_FAKED = "faked subworkflow call"
    EXECUTION_ENDED = "execution ended"
    #: Marks where a long execution's record dropped events (`ExecutionRecord.trim`): ``dropped`` says how many.
    RECORD_TRUNCATED = "record truncated"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One event: ``kind``, virtual ``time``, ``branch`` (None on the main thread), ``step``, ``details``."""

    kind: EventKind
    ns: int
    branch: str | None = None
    step: str | None = None
    details: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def time(self) -> datetime:
        """Virtual time of the event, an aware UTC datetime."""
        return ns_to_datetime(self.ns)

    def __getattr__(self, name: str) -> Any:
        # Kind-specific details read like attributes: event.status, event.callback_id...
        details = object.__getattribute__(self, "details")
        if name in details:
            return details[name]
        raise AttributeError(name)

    def describe(self) -> str:
        """One line for failure reports."""
        parts = [self.time.isoformat(), str(self.kind)]
        if self.branch:
            parts.append(f"branch={self.branch}")
        if self.step:
            parts.append(f"step={self.step}")
        parts.extend(f"{k}={v!r}" for k, v in self.details.items())
        return " ".join(parts)


def event(kind: EventKind, ns: int, branch: str | None = None, step: str | None = None, **details: Any) -> HistoryEvent:
    """Build an event (details frozen)."""
    return HistoryEvent(kind, ns, branch, step, MappingProxyType(details) if details else _EMPTY)

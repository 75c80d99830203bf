"""The error hierarchy.

Two families live here:

* Python exceptions the *test* sees (`WfCallbacksError` and its children):
  deploy-time syntax errors, failed or cancelled executions, deadlocks.
* `WorkflowError`, the in-interpreter carrier of a Workflows error *value*
  (a map with ``message`` and ``tags``, or whatever a ``raise`` step raised).
  It never escapes to the test: the execution turns it into FAILED.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class WfCallbacksError(Exception):
    """Root of every error this plugin raises to a test."""


@dataclass(frozen=True)
class Location:
    """Where something is in a workflow source: file, 1-based line and column, step path."""

    file: str = "<workflow>"
    line: int = 0
    column: int = 0
    step: str = ""

    def describe(self) -> str:
        """``file:line:column`` plus the step path when known."""
        text = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        if self.step:
            text += f" (step {self.step})"
        return text


class WorkflowSyntaxError(WfCallbacksError):
    """The definition would be rejected by a deploy: bad keys, jumps, expressions, limits."""

    def __init__(self, message: str, location: Location | None = None, *, snippet: str = "",
                 problems: Sequence[WorkflowSyntaxError] = ()) -> None:
        self.message = message
        self.location = location or Location()
        self.snippet = snippet
        #: Every problem deploy found in the source, in the order it met them (this error's own
        #: message, location and snippet are the first's): one fix-and-retry round, not one per problem.
        self.problems: tuple[WorkflowSyntaxError, ...] = tuple(problems) or (self,)
        super().__init__(self.render())

    @classmethod
    def collect(cls, problems: Sequence[WorkflowSyntaxError], note: str = "") -> WorkflowSyntaxError:
        """One error for several problems of a source: the first's message, all of them in `problems`."""
        first = problems[0]
        if len(problems) == 1 and not note:
            return first
        error = cls(first.message, first.location, snippet=first.snippet, problems=problems)
        if note:
            error.args = (error.args[0] + "\n" + note,)
        return error

    @property
    def file(self) -> str:
        """The file (or ``<workflow>`` for text and data sources)."""
        return self.location.file

    @property
    def line(self) -> int:
        """1-based line, 0 when unknown."""
        return self.location.line

    @property
    def column(self) -> int:
        """1-based column, 0 when unknown."""
        return self.location.column

    @property
    def step(self) -> str:
        """Step path such as ``main/loop/steps/add`` ('' when not inside a step)."""
        return self.location.step

    def render(self) -> str:
        """One line ``file:line:column: message [step]`` plus an optional caret snippet."""
        text = f"{self.location.describe()}: {self.message}"
        if self.snippet:
            text += "\n" + self.snippet
        if len(self.problems) > 1:
            text += f"\n{len(self.problems) - 1} more problem(s) in this source:"
            for problem in self.problems[1:]:
                text += f"\n  {problem.location.describe()}: {problem.message}"
        return text


class WorkflowFailed(WfCallbacksError):
    """An execution ended FAILED; ``error`` is the Workflows error value."""

    def __init__(self, execution: Any, error: Any, report: str = "") -> None:
        self.execution = execution
        self.error = error
        self.report = report
        super().__init__(report or f"execution failed: {error!r}")

    @property
    def tags(self) -> list[str]:
        """The error's ``tags`` (empty for raised strings or maps without tags)."""
        return error_tags(self.error)


class ExecutionCancelled(WfCallbacksError):
    """The execution was cancelled before it finished."""

    def __init__(self, execution: Any) -> None:
        self.execution = execution
        super().__init__(f"execution {getattr(execution, 'id', '?')} was cancelled")


class ClockBackwardsError(WfCallbacksError, ValueError):
    """`VirtualClock.advance` with a negative amount, or `advance_to` an instant already past.

    Also a `ValueError`, the convention of trio's ``MockClock`` and time-machine, so code
    written against those clocks catches it unchanged.
    """


class DeadlockError(WfCallbacksError):
    """A drive could not make progress: nothing can run and no timer can fire (or time ran out)."""

    def __init__(self, message: str, table: str = "") -> None:
        self.table = table
        super().__init__(message + ("\n" + table if table else ""))


class RealTimeBudgetExceeded(DeadlockError):
    """A drive ran longer than ``real_time_budget`` wall seconds (a workflow computing without end, say).

    ``step`` is the step the execution was in ('' when the drive was waiting, not computing),
    ``steps`` how many steps it had run, ``virtual_seconds`` the virtual time since the clock started.
    """

    def __init__(self, message: str, table: str = "", *, step: str = "", steps: int = 0,
                 virtual_seconds: float = 0.0) -> None:
        self.step = step
        self.steps = steps
        self.virtual_seconds = virtual_seconds
        super().__init__(message, table)


class WorkflowError(Exception):
    """A Workflows error value travelling through the interpreter (catchable by ``try``)."""

    def __init__(self, value: Any) -> None:
        self.value = value
        super().__init__(value)

    @property
    def tags(self) -> Sequence[str]:
        """Tags of a map error; empty for other values."""
        return error_tags(self.value)


def error_tags(error: Any) -> list[str]:
    """The string ``tags`` of a Workflows error value (none for raised strings or maps without tags)."""
    if isinstance(error, dict):
        tags = error.get("tags")
        if isinstance(tags, list):
            return [tag for tag in tags if isinstance(tag, str)]
    return []


def internal_error(exc: BaseException) -> WorkflowError:
    """A Workflows SystemError for a bug in pytest-wfcallbacks (the teardown check reports the Python error)."""
    return wf_error("SystemError", f"internal error in pytest-wfcallbacks: {exc!r}")


def error_value(tag: str, message: str, **extra: Any) -> dict[str, Any]:
    """The map the service uses for built-in errors: ``{"message": "Tag: ...", "tags": [Tag]}``."""
    value: dict[str, Any] = {"message": f"{tag}: {message}", "tags": [tag]}
    value.update(extra)
    return value


def wf_error(tag: str, message: str, **extra: Any) -> WorkflowError:
    """A `WorkflowError` carrying a built-in error of the given tag."""
    return WorkflowError(error_value(tag, message, **extra))


def type_error(message: str) -> WorkflowError:
    """Shorthand for a ``TypeError`` Workflows error."""
    return wf_error("TypeError", message)


def value_error(message: str) -> WorkflowError:
    """Shorthand for a ``ValueError`` Workflows error."""
    return wf_error("ValueError", message)

"""What every fake shares: the options it takes, the calls it keeps, and how it answers one call.

Connector fakes (connectors.py) and subworkflow fakes (subworkflows.py) are set up the
same way — a handler, a constant (``returns=``), an error (``raises=``) or one outcome
per call (``results=[...]``), each call optionally taking ``after`` virtual seconds —
and answer the same way: a fresh copy of a Workflows value, or a `FakeError` the caller
raises. A handler that breaks, a value that is not a Workflows value, or a ``results=``
list used up fails the call with ``SystemError`` (a gap in the test, not an answer the
workflow should handle: no default retry predicate retries it) and is kept for
`WorkflowRuntime.check`.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import WfCallbacksError, wf_error
from .values import copy_value, from_python

#: "Not given" for ``returns=`` / ``raises=`` (None is a value a fake may return).
MISSING: Any = object()


class FakeError(Exception):
    """An error a fake raises in the workflow: ``value`` is what its ``except`` receives (a map or a string)."""

    def __init__(self, value: Any) -> None:
        try:
            self.value = from_python(value, where=f"{type(self).__name__} value")
        except ValueError as exc:
            raise WfCallbacksError(str(exc)) from None
        super().__init__(value)


@dataclass(frozen=True)
class FakeOptions:
    """A fake's checked options (`check_options`)."""

    handler: Callable[..., Any] | None
    returns: Any
    raises: FakeError | None
    results: list[Any] | None
    after: float


def check_options(what: str, handler: Callable[..., Any] | None, returns: Any, raises: Any,
                  results: Sequence[Any] | None, after: float, error_type: type[FakeError]) -> FakeOptions:
    """Check what a ``fake(...)`` call was given; ``what`` names the call in errors (``connectors.fake('x')``)."""
    given = [k for k, v in (("handler", handler), ("returns", returns), ("raises", raises),
                            ("results", results)) if v is not None and v is not MISSING]
    if len(given) > 1:
        raise WfCallbacksError(f"{what}: give one of handler, returns=, raises=, results=; got {', '.join(given)}")
    if handler is not None and not callable(handler):
        raise WfCallbacksError(f"{what}: the handler must be callable, got {handler!r}")
    if isinstance(after, bool) or not isinstance(after, (int, float)) or not 0 <= after < float("inf"):
        raise WfCallbacksError(f"{what}: after= must be a non-negative number of seconds, got {after!r}")
    constant = None if returns is MISSING else checked_value(returns, f"returns= of {what}")
    error = None if raises is MISSING else raises if isinstance(raises, FakeError) else error_type(raises)
    outcomes = None
    if results is not None:
        if isinstance(results, (str, bytes, dict)):
            raise WfCallbacksError(f"{what}: results= takes a list of per-call outcomes; "
                                   "to return this value on every call use returns=")
        outcomes = [item if isinstance(item, FakeError) else checked_value(item, f"results= of {what}")
                    for item in results]
    return FakeOptions(handler, constant, error, outcomes, float(after))


def checked_value(value: Any, where: str) -> Any:
    """``value`` as a fresh Workflows value; a `WfCallbacksError` naming ``where`` when it is not one."""
    try:
        return from_python(value, where=where)
    except ValueError as exc:
        raise WfCallbacksError(str(exc)) from None


class FakeBase:
    """The part of a fake every kind shares: its options and the calls it answered."""

    def __init__(self, options: FakeOptions) -> None:
        self.handler = options.handler
        self.returns = options.returns
        self.raises = options.raises
        self.results = options.results
        self.after = options.after
        #: Calls this fake answered, in order.
        self.calls: list[Any] = []

    @property
    def call_count(self) -> int:
        """How many calls this fake answered."""
        return len(self.calls)

    @property
    def called(self) -> bool:
        """Whether it answered at least one call."""
        return bool(self.calls)


def answer(fake: FakeBase, label: str, where: str, call_handler: Callable[[], Any], problems: list[str],
           error_name: str) -> Any:
    """The fake's outcome for its latest call: a fresh Workflows value, or a `FakeError` to raise.

    ``label`` names the fake in `check` reports, ``where`` the call (execution and step);
    ``call_handler()`` calls the handler with what this kind of fake hands it; ``error_name`` is the
    error class a handler raises to fail the call (for the message when it raises something else).
    """
    if fake.results is not None:
        index = fake.call_count - 1
        if index >= len(fake.results):
            problems.append(f"{label}: called {fake.call_count} times but results= has only {len(fake.results)} "
                            f"outcomes ({where})")
            raise wf_error("SystemError", f"{label}: the fake's results= list ({len(fake.results)} outcomes) is "
                                          f"used up at call {fake.call_count}; add outcomes")
        item = fake.results[index]
        return item if isinstance(item, FakeError) else copy_value(item)
    if fake.raises is not None:
        return fake.raises
    if fake.handler is None:
        return copy_value(fake.returns)
    try:
        returned = call_handler()
    except FakeError as exc:
        return exc
    except Exception as exc:  # a bug in the test's handler: fail the call, keep it for the report
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        problems.append(f"{label}: the handler raised {exc!r} at {frame.filename}:{frame.lineno} ({where})")
        raise wf_error("SystemError", f"{label}: the fake's handler raised {exc!r}; handlers return the result "
                                      f"or raise {error_name}") from None
    if isinstance(returned, FakeError):
        return returned
    try:
        return from_python(returned, where=f"the value returned by the fake for {label}")
    except ValueError as exc:
        problems.append(f"{label}: {exc}")
        raise wf_error("SystemError", f"{label}: {exc}") from None


__all__ = ["MISSING", "FakeBase", "FakeError", "FakeOptions", "answer", "check_options", "checked_value"]

"""Interpreter threads, scopes and the signals they exchange with the scheduler.

A `WorkflowThread` is one line of execution: the main routine of an execution
or one parallel branch. Its body is a Python generator that yields only when it
must stop: `BLOCK` when it waits (sleep, callback, branches, backoff) and
`PREEMPT` at step boundaries under the random schedule. Whatever wakes it
(a timer, a callback request, the last branch finishing) stores the value or
error to resume with and puts it back on the run queue.

The thread is also the *frame* that compiled expressions read variables from,
and the *call context* standard-library functions receive.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from ..errors import WorkflowError, type_error, value_error, wf_error
from ..stdlib.registry import Function
from ..values import key_error, value_size

if TYPE_CHECKING:
    from .host import ExecutionHost
    from .scheduler import Join, Kernel


class _Marker:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


#: Yielded by a thread that registered itself with whatever will wake it.
BLOCK = _Marker("BLOCK")
#: Yielded at step boundaries under the random schedule: "you may switch now".
PREEMPT = _Marker("PREEMPT")
#: Yielded every `CHECKPOINT_STEPS` steps under any schedule: "the drive may look at its wall-clock
#: budget now". The thread resumes at once (no switch), so results never depend on real time.
CHECKPOINT = _Marker("CHECKPOINT")
#: How often (in steps, a power of two) a thread yields `CHECKPOINT`: rare enough to cost nothing,
#: often enough that a loop of expensive steps still sees its budget within a fraction of a second.
CHECKPOINT_STEPS = 64
#: Yielded before a step is entered when the test asked to stop there (`Execution.run_until_step`): the
#: scheduler ends the drive and resumes this very thread first on the next one, so stopping changes
#: neither the order threads run in nor the random schedule's choices.
PAUSE = _Marker("PAUSE")


#: `WorkflowThread.branch_value` of a thread that is no parallel-`for` iteration.
NO_BRANCH_VALUE: Any = _Marker("NO_VALUE")


class ExecutionStopped(BaseException):
    """Unwinds a thread whose execution ended (cancelled, or failed in another thread) while it ran.

    Never caught by ``try`` steps. A failing parallel branch never stops its siblings
    (``continueAll`` is the service's only policy), so this is the only forced unwind.
    """


class ThreadState(str, enum.Enum):
    """Where a thread is."""

    RUNNABLE = "runnable"
    BLOCKED = "blocked"
    QUEUED = "queued"
    DONE = "done"


class Scope:
    """Variables of one scope; reads walk to the parents, writes update the owner.

    ``shared`` is set on a parallel branch's scope: the parent names it may write.
    ``sizes`` holds the metered size of the variables that count against the memory
    limit (lists, maps and long strings; see `MemoryMeter`).
    """

    __slots__ = ("parent", "shared", "sizes", "vars")

    def __init__(self, variables: dict[str, Any] | None = None, parent: Scope | None = None,
                 shared: frozenset[str] | None = None) -> None:
        self.vars: dict[str, Any] = variables if variables is not None else {}
        self.parent = parent
        self.shared = shared
        self.sizes: dict[str, int] = {}

    def lookup(self, name: str) -> Any:
        scope: Scope | None = self
        while scope is not None:
            variables = scope.vars
            if name in variables:
                return variables[name]
            scope = scope.parent
        raise key_error(name)

    def owner(self, name: str) -> Scope:
        """The scope a write of ``name`` goes to (an existing visible variable's, else this one)."""
        if name in self.vars:
            return self
        scope: Scope | None = self
        while scope is not None:
            if name in scope.vars:
                return scope
            if scope.shared is not None and name not in scope.shared:
                break
            scope = scope.parent
        return self

    def holder(self, name: str) -> Scope | None:
        """The scope whose variables hold ``name`` (reads see through branch boundaries), or None."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.vars:
                return scope
            scope = scope.parent
        return None

    def assign(self, name: str, value: Any) -> Scope:
        """Write a variable; returns the scope that holds it."""
        variables = self.vars
        if name in variables:
            variables[name] = value
            return self
        owner = self.owner(name)
        owner.vars[name] = value
        return owner


#: Strings shorter than this are not metered (their share of 512 KB is noise).
_METERED_STRING = 64


class MemoryMeter:
    """Approximate bytes held by one execution's variables (docs/decisions.md #23: 512 KB by default).

    The service counts all variables of an execution against one budget. Metering every
    write would cost every step, so only lists, maps and strings of 64 characters or more
    are metered, incrementally: a write charges the new size and refunds the old one, a
    scope that ends (loop iteration, except block, branch, subworkflow call) refunds all
    of its variables.
    """

    __slots__ = ("limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, scope: Scope, name: str, value: Any) -> None:
        """Account for ``scope``'s variable ``name`` now holding ``value``."""
        kind = type(value)
        if kind is list or kind is dict:
            size = value_size(value)
        elif kind is str and len(value) >= _METERED_STRING:
            size = len(value)
        else:
            size = 0
        self.charge_size(scope, name, size)

    def charge_size(self, scope: Scope, name: str, size: int) -> None:
        """Account for a variable whose size is already known."""
        old = scope.sizes.pop(name, 0)
        if size:
            scope.sizes[name] = size
        self.used += size - old
        if size > old and self.used > self.limit:
            raise wf_error(
                "ResourceLimitError",
                f"variables use about {self.used} bytes after storing {name}, more than the "
                f"{self.limit}-byte memory limit (limit `memory_bytes`); set large values to null when done",
            )

    def charge_all(self, scope: Scope) -> None:
        """Account for every variable a new scope starts with."""
        for name, value in scope.vars.items():
            kind = type(value)
            if kind is list or kind is dict or kind is str:
                self.charge(scope, name, value)

    def release(self, scope: Scope) -> None:
        """A scope ended: its variables no longer count."""
        if scope.sizes:
            self.used -= sum(scope.sizes.values())
            scope.sizes.clear()


class WorkflowThread:
    """One thread of an execution (main routine or a branch)."""

    def __init__(
        self,
        kernel: Kernel,
        host: ExecutionHost,
        *,
        label: str | None,
        branch_id: str | None,
        scope: Scope,
        parent: WorkflowThread | None = None,
        nesting: int = 0,
    ) -> None:
        self.kernel = kernel
        self.host = host
        self.label = label
        self.branch_id = branch_id
        self.branch_key = branch_id or "main"
        self.scope = scope
        self.parent = parent
        self.nesting = nesting
        self.gen: Generator[Any, Any, Any] | None = None
        self.state = ThreadState.QUEUED
        self.depth = 0
        self.routine = "main"
        self.step: Any = None
        self.resume_value: Any = None
        self.resume_error: BaseException | None = None
        self.stopped = False
        self.branch_position = 0  # declaration (iteration) position in its parallel step
        self.branch_value: Any = NO_BRANCH_VALUE  # the loop value of a parallel-`for` iteration
        self.join: Join | None = None  # the parallel step this branch belongs to
        self.waiting_on: Join | None = None  # the parallel step this thread waits for
        #: What a blocked thread waits for, for reports: text, or a function making it (built only
        #: when a report needs it, so blocking costs no string formatting).
        self.waiting: str | Callable[[], str] = ""
        self.cleanup: Callable[[], None] | None = None
        self.implicit_string_concat = kernel.settings.implicit_string_concat
        #: Subworkflows running inside an expression on this thread (they cannot wait nor stop).
        self.expression_calls = 0
        self.string_limit = kernel.settings.limits.string_bytes
        self.preempt = kernel.settings.schedule == "random"

    # ------------------------------------------------------------------ frame
    def lookup(self, name: str) -> Any:
        """Read a variable (KeyError Workflows error when unset)."""
        return self.scope.lookup(name)

    def call(self, function: Function, args: list[Any]) -> Any:
        """Call a non-blocking standard-library function."""
        if function.result_chars is not None:
            chars = function.result_chars(*args)
            if chars > self.string_limit:
                # Refused before it is built: bytes are at least characters, so the result is too big.
                raise wf_error("ResourceLimitError", f"{function.name} would build a string of {chars} characters, "
                               f"more than the {self.string_limit}-byte string limit (limit `string_bytes`)")
        if function.context:
            return function.impl(self, *args)
        return function.impl(*args)

    def call_subworkflow(self, name: str, args: list[Any]) -> Any:
        """Run a non-blocking subworkflow to completion inside an expression."""
        engine = self.host.engine
        gen = engine.call_routine_positional(name, args, self)
        self.expression_calls += 1
        try:
            signal = gen.send(None)
            while True:
                if signal is PREEMPT or signal is CHECKPOINT or signal is PAUSE:
                    signal = gen.send(None)
                    continue
                # Deploy-time checks keep blocking subworkflows out of expressions; should one block
                # anyway, undo its wait (timer, waiter, branches) before dropping it.
                with self.kernel.lock:
                    if self.cleanup is not None:
                        self.cleanup()
                        self.cleanup = None
                    if self.waiting_on is not None:
                        self.kernel.discard_join(self.waiting_on)
                        self.waiting_on = None
                    self.state = ThreadState.RUNNABLE
                    self.waiting = ""
                gen.close()
                raise wf_error("SystemError", f"subworkflow {name} blocked inside an expression")
        except StopIteration as stop:
            return stop.value
        finally:
            self.expression_calls -= 1

    # ------------------------------------------------------------------ call context
    @property
    def random(self) -> random.Random:
        """The runtime's seeded random source."""
        return self.kernel.ids

    def now(self) -> float:
        """Virtual epoch seconds."""
        return self.kernel.clock.time()

    def get_env(self, name: str) -> str | None:
        """Built-in and user environment variables."""
        value: str | None = self.host.env.get(name)
        return value

    def sleep(self, seconds: float) -> Generator[Any, Any, None]:
        """Block until the virtual clock reaches now + seconds."""
        kernel = self.kernel
        from ..clock import seconds_to_ns
        from ..history import EventKind

        if self.stopped:  # its execution ended while it ran: unwind, do not start waiting
            raise ExecutionStopped()
        deadline = kernel.clock.now_ns + seconds_to_ns(seconds)

        def wake_up() -> None:
            self.host.record_event(EventKind.TIMER_FIRED, self, reason="sleep", seconds=seconds)
            kernel.wake(self)

        with kernel.lock:
            self.host.record_event(EventKind.SLEEP, self, seconds=seconds)
            timer = kernel.clock.call_at(deadline, wake_up, label=f"sleep ({self.describe()})")
            self.block(lambda: f"sleep until {kernel.format_ns(deadline)}", timer.cancel)
        yield BLOCK
        self.take_resume()

    def create_callback(self, method: str) -> dict[str, Any]:
        """Create a callback endpoint of this execution."""
        created: dict[str, Any] = self.host.create_callback(self, method)
        return created

    def await_callback(self, callback: dict[str, Any], timeout: float) -> Generator[Any, Any, Any]:
        """Wait for one request on an endpoint (TimeoutError after ``timeout`` virtual seconds)."""
        waiting: Generator[Any, Any, Any] = self.host.await_callback(self, callback, timeout)
        return waiting

    def log(self, severity: str, payload: Any) -> None:
        """Record a log entry."""
        self.host.log(self, severity, payload)

    def http_request(self, request: dict[str, Any]) -> Generator[Any, Any, Any]:
        """Perform an outbound HTTP request through the runtime's mock router."""
        sending: Generator[Any, Any, Any] = self.host.http_request(self, request)
        return sending

    # ------------------------------------------------------------------ blocking
    def waiting_text(self) -> str:
        """What the thread waits for ('' when it does not wait)."""
        return self.waiting() if callable(self.waiting) else self.waiting

    def block(self, waiting: str | Callable[[], str], cleanup: Callable[[], None] | None = None) -> None:
        """Mark the thread blocked (call under the kernel lock, then yield BLOCK)."""
        self.state = ThreadState.BLOCKED
        self.waiting = waiting
        self.cleanup = cleanup

    def take_resume(self) -> Any:
        """After a BLOCK: the value to resume with (errors are thrown into the generator instead)."""
        value = self.resume_value
        self.resume_value = None
        return value

    def describe(self) -> str:
        """``main`` or ``branch <id>``."""
        return "main" if self.branch_id is None else f"branch {self.branch_id}"

    def step_name(self) -> str:
        """The current step name ('' before the first step)."""
        return getattr(self.step, "name", "") if self.step is not None else ""


def check_timeout(timeout: Any, name: str = "timeout") -> float:
    """A non-negative number of seconds."""
    if type(timeout) not in (int, float):
        raise type_error(f"{name} must be a number of seconds")
    if timeout < 0:
        raise value_error(f"{name} must not be negative")
    return float(timeout)


__all__ = [
    "BLOCK",
    "CHECKPOINT",
    "CHECKPOINT_STEPS",
    "PAUSE",
    "PREEMPT",
    "NO_BRANCH_VALUE",
    "ExecutionStopped",
    "Scope",
    "ThreadState",
    "WorkflowError",
    "WorkflowThread",
    "check_timeout",
]

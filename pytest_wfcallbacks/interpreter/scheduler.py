"""The scheduler: which thread runs next, when virtual time moves, when to give up.

Order (``schedule="ordered"``, the default):

* a thread runs until it blocks or finishes; nothing preempts it;
* a parallel step starts its branches in declaration order (iterations in
  list order), each running until it blocks or finishes before the next one
  starts; branches over ``concurrency_limit`` or over the per-execution cap
  (20) wait in a queue and start, in order, as others finish;
* an unhandled error ends its own branch only (``continueAll``, the service's
  only policy): every other branch, queued ones included, runs to its end, then
  the parallel step raises one UnhandledBranchError listing every branch error
  in declaration (iteration) order, whatever order they happened in;
* woken threads resume first in, first out: callback deliveries in the order
  the requests were accepted, timers in deadline order.

``schedule="random"`` switches threads at every step boundary, choosing the
next runnable thread with a generator seeded from ``seed``: the same seed gives
the same interleaving, ids and history.

Time (`Kernel.drive`): a drive runs what can run; when nothing can, it
runs scheduled actions already due, then waits (in real time, at most
`INFLIGHT_WAIT` without any progress) for callback requests being handled on the
server thread, and only then jumps the clock to the earliest pending timer. At one instant,
timers fire in deadline order, then scheduled actions run, then the threads
they woke run in the order they were woken. When nothing is pending at all, the
drive raises `DeadlockError` with a table of every waiting thread.

Wall clock (`Kernel.budgeted`): every drive, `run_until_idle` included, has
``real_time_budget`` wall seconds. Threads yield `CHECKPOINT` every few steps
and the scheduler (never the interpreter) reads `time.monotonic` there, so a
workflow computing without end stops with `RealTimeBudgetExceeded` inside the
very step loop, and real time never changes what a workflow computes.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time as _walltime
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ..clock import NS, VirtualClock, format_offset, ns_to_datetime
from ..errors import DeadlockError, RealTimeBudgetExceeded, WorkflowError, internal_error, wf_error
from ..history import EventKind
from ..settings import Settings
from ..values import copy_value
from .threads import (
    BLOCK,
    CHECKPOINT,
    NO_BRANCH_VALUE,
    PAUSE,
    PREEMPT,
    ExecutionStopped,
    Scope,
    ThreadState,
    WorkflowThread,
)

if TYPE_CHECKING:
    from .engine import Engine
    from .host import ExecutionHost


#: Longest a drive waits (wall seconds, without any progress) for callback requests being read
#: before moving virtual time anyway: one stalled sender must not freeze every execution.
INFLIGHT_WAIT = 0.25


class Join:
    """A running parallel step: its branches, queue, errors and waiting parent."""

    def __init__(self, parent: WorkflowThread, step: Any, limit: int | None) -> None:
        self.parent = parent
        self.step = step
        self.limit = limit
        self.queue: deque[WorkflowThread] = deque()
        self.running: list[WorkflowThread] = []
        #: (declaration position, branch key, error value) of every branch that failed.
        self.errors: list[tuple[int, str, Any]] = []
        self.remaining = 0

    def sorted_errors(self) -> list[tuple[str, Any]]:
        """The branch errors in declaration (iteration) order: the list never depends on the schedule."""
        return [(key, value) for _, key, value in sorted(self.errors, key=lambda error: error[0])]


class Kernel:
    """Threads, run queue, lock and clock of one runtime (all its executions)."""

    def __init__(self, settings: Settings, clock: VirtualClock) -> None:
        self.settings = settings
        self.clock = clock
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.runnable: deque[WorkflowThread] = deque()
        self.schedule_rng = random.Random(f"schedule:{settings.seed}")
        self.ids = random.Random(f"ids:{settings.seed}")
        self.inflight = 0
        #: One drive step at a time: running threads, firing an instant. Two drives on two OS
        #: threads (an async drive in a worker thread and a sync one, say) would otherwise see
        #: an "idle" kernel while the other runs a thread, and move the clock under it.
        self.drive_lock = threading.RLock()
        #: The thread whose generator is running now (never closed from outside: it unwinds).
        self.current: WorkflowThread | None = None
        # A separate small lock for the counter, so a request's start does not queue for the
        # kernel lock behind the interpreter (one contended acquisition per request, not three).
        self._inflight_lock = threading.Lock()
        #: Bumped by every wake and every answered callback request: lets an async drive
        #: see that something happened while it gave the event loop time.
        self.activity = 0
        #: Parallel steps with branches waiting for the per-execution cap, in arrival order.
        self.branch_gate: deque[Join] = deque()
        self.running_branches: dict[int, int] = {}
        self.threads: list[WorkflowThread] = []
        self.on_thread_done: Callable[[WorkflowThread, Any, BaseException | None], None] | None = None
        #: The wall-clock deadline of the drive under way (`budgeted`), None between drives.
        self.deadline: float | None = None
        self._budget_what = ""
        self._budget_describe: Callable[[], str] = str
        #: The runtime's state table, for drives started without one (`run_until_idle`).
        self.describe: Callable[[], str] = str
        self._warned_event_loop = False
        #: A thread that stopped before a step (`PAUSE`): the next quantum is its, whatever the schedule.
        self.paused: WorkflowThread | None = None

    # ------------------------------------------------------------------ formatting
    def format_ns(self, ns: int) -> str:
        """An instant as ISO text plus the readable offset since the clock started (``t+69d 10h``)."""
        return f"{ns_to_datetime(ns).isoformat()} (t+{format_offset((ns - self.clock.start_ns) / NS)})"

    # ------------------------------------------------------------------ threads
    def start(self, thread: WorkflowThread, body: Any) -> None:
        """Make a new thread runnable with a generator body."""
        thread.gen = body
        thread.state = ThreadState.RUNNABLE
        self.threads.append(thread)
        self.runnable.append(thread)

    def wake(self, thread: WorkflowThread, value: Any = None, error: BaseException | None = None) -> None:
        """Resume a blocked thread with a value or an error (call under the lock)."""
        if thread.state is not ThreadState.BLOCKED:
            return
        thread.resume_value = value
        thread.resume_error = error
        thread.state = ThreadState.RUNNABLE
        thread.waiting = ""
        thread.cleanup = None
        self.runnable.append(thread)
        self.activity += 1
        self.changed.notify_all()

    def run_one(self) -> bool:
        """Run one thread for one quantum; False when nothing was runnable."""
        with self.drive_lock:
            with self.lock:
                if not self.runnable:
                    return False
                paused, self.paused = self.paused, None
                if paused is not None and paused in self.runnable:
                    # It had the processor when it stopped: it goes on as if it never had.
                    thread = paused
                    self.runnable.remove(paused)
                elif self.settings.schedule == "random" and len(self.runnable) > 1:
                    index = self.schedule_rng.randrange(len(self.runnable))
                    thread = self.runnable[index]
                    del self.runnable[index]
                else:
                    thread = self.runnable.popleft()
                self.current = thread
            try:
                self.run_thread(thread)
            finally:
                with self.lock:
                    self.current = None
            return True

    def run_thread(self, thread: WorkflowThread) -> None:
        gen = thread.gen
        assert gen is not None
        while True:
            error = thread.resume_error
            value = thread.resume_value
            thread.resume_error = None
            try:
                signal = gen.throw(error) if error is not None else gen.send(value)
            except StopIteration as stop:
                self.finish(thread, stop.value, None)
                return
            except (Exception, ExecutionStopped) as exc:  # a Workflows error, a stop, or an interpreter bug
                self.finish(thread, None, exc)
                return
            if signal is CHECKPOINT or signal is PREEMPT:
                thread.resume_value = None
                deadline = self.deadline
                if deadline is not None and _walltime.monotonic() > deadline:
                    with self.lock:
                        self.runnable.appendleft(thread)  # a later drive resumes it where it stopped
                    raise self.budget_error(thread)
                record = thread.host.record
                if len(record.history) > record.trim_at:
                    record.trim()  # a long execution's memory stays bounded
                if signal is CHECKPOINT:
                    continue
                with self.lock:
                    if self.runnable:
                        self.runnable.append(thread)
                        return
                continue
            if signal is PAUSE:
                thread.resume_value = None
                with self.lock:
                    self.paused = thread
                    self.runnable.appendleft(thread)
                return
            if signal is BLOCK:
                with self.lock:
                    # Its execution ended while it ran: it must not wait on a timer or a callback
                    # it registered just now; resume it with the stop so it unwinds.
                    if thread.stopped and thread.state is ThreadState.BLOCKED and thread.waiting_on is None:
                        if thread.cleanup is not None:
                            thread.cleanup()
                        self.wake(thread, None, ExecutionStopped())
                return
            self.finish(thread, None, RuntimeError(f"thread yielded an unknown signal {signal!r}"))
            return

    def finish(self, thread: WorkflowThread, value: Any, error: BaseException | None) -> None:
        """A thread ended: settle its parallel step or its execution."""
        with self.lock:
            thread.state = ThreadState.DONE
            thread.waiting = ""
            join = thread.join
            if join is not None:
                self.branch_done(join, thread, error)
            elif self.on_thread_done is not None:
                self.on_thread_done(thread, value, error)
            self.changed.notify_all()

    # ------------------------------------------------------------------ parallel
    def start_parallel(
        self, parent: WorkflowThread, step: Any, specs: list[tuple[str, str, Any, Scope]], limit: int | None,
        engine: Engine,
    ) -> Join:
        """Queue the branches of a parallel step; the parent then yields BLOCK until they end."""
        nesting = parent.nesting + 1
        max_nesting = self.settings.limits.parallel_nesting
        if nesting > max_nesting:
            raise wf_error("ParallelNestingError",
                           f"parallel steps nested {nesting} deep; at most {max_nesting} levels are allowed")
        join = Join(parent, step, limit)
        execution = parent.host
        with self.lock:
            for position, (label, branch_id, block, scope) in enumerate(specs):
                thread = WorkflowThread(self, execution, label=label, branch_id=branch_id, scope=scope,
                                        parent=parent, nesting=nesting)
                # UnhandledBranchError names a branch by its name, an iteration by its index.
                thread.branch_key = str(position) if step.loop is not None else str(label)
                thread.branch_position = position
                if step.loop is not None:
                    # `branch_order` names an iteration by its loop value, with its type (1, not "1").
                    thread.branch_value = copy_value(scope.vars[step.loop.value])
                thread.routine = parent.routine
                thread.depth = parent.depth
                thread.join = join
                thread.gen = engine.run_branch(thread, block)
                join.queue.append(thread)
                self.threads.append(thread)
            join.remaining = len(specs)
            parent.block(f"parallel step {step.name!r}: {len(specs)} branches")
            parent.waiting_on = join
            if parent.join is not None:
                # A branch waiting on its own parallel step does not hold one of the execution's
                # concurrent-branch slots: its branches need them (else nesting deadlocks at the cap).
                key = id(execution)
                self.running_branches[key] = self.running_branches.get(key, 1) - 1
            if not specs:
                self.wake(parent)
                return join
            self.admit(join)
        return join

    def admit(self, join: Join) -> None:
        """Start queued branches while the step's and the execution's limits allow (under the lock)."""
        execution = join.parent.host
        cap = self.settings.limits.concurrent_branches
        key = id(execution)
        while join.queue:
            if join.limit is not None and len(join.running) >= join.limit:
                return
            if self.running_branches.get(key, 0) >= cap:
                if join not in self.branch_gate:
                    self.branch_gate.append(join)
                return
            thread = join.queue.popleft()
            join.running.append(thread)
            self.running_branches[key] = self.running_branches.get(key, 0) + 1
            thread.state = ThreadState.RUNNABLE
            self.runnable.append(thread)
            if thread.branch_value is NO_BRANCH_VALUE:
                execution.record.add(EventKind.BRANCH_STARTED, self.clock.now_ns, thread.branch_id, None,
                                     label=thread.label)
            else:
                execution.record.add(EventKind.BRANCH_STARTED, self.clock.now_ns, thread.branch_id, None,
                                     label=thread.label, value=thread.branch_value)

    def branch_done(self, join: Join, thread: WorkflowThread, error: BaseException | None) -> None:
        execution = thread.host
        key = id(execution)
        if thread in join.running:
            join.running.remove(thread)
            self.running_branches[key] = self.running_branches.get(key, 1) - 1
        join.remaining -= 1
        status = "ok"
        # continueAll (the only policy): a failed branch ends alone; its siblings run on.
        if isinstance(error, WorkflowError):
            status = "error"
            join.errors.append((thread.branch_position, thread.branch_key, error.value))
        elif isinstance(error, ExecutionStopped):
            status = "stopped"
        elif error is not None:
            status = "error"
            join.errors.append((thread.branch_position, thread.branch_key, internal_error(error).value))
            execution.record.internal_errors.append(error)
        execution.record.add(EventKind.BRANCH_ENDED, self.clock.now_ns, thread.branch_id, None,
                             label=thread.label, status=status)
        self.admit(join)
        # Let other parallel steps of this execution waiting at the per-execution cap go on.
        for _ in range(len(self.branch_gate)):
            waiting = self.branch_gate.popleft()
            self.admit(waiting)
        if join.remaining <= 0:
            join.remaining = 0
            join.parent.waiting_on = None
            if join.parent.join is not None:
                self.running_branches[key] = self.running_branches.get(key, 0) + 1  # the slot it gave up
            self.wake(join.parent)

    def discard_join(self, join: Join) -> None:
        """Drop a parallel step whose parent will never wait for it (under the lock).

        Only for a subworkflow that blocked inside an expression (deploy checks keep those out):
        its branches are closed where they stand, nothing of theirs runs on.
        """
        key = id(join.parent.host)
        for thread in [*join.queue, *join.running]:
            if thread.waiting_on is not None:
                self.discard_join(thread.waiting_on)
            if thread.cleanup is not None:
                thread.cleanup()
                thread.cleanup = None
            if thread is not self.current and thread.gen is not None:
                thread.gen.close()
            if thread in join.running:
                self.running_branches[key] = self.running_branches.get(key, 1) - 1
            thread.state = ThreadState.DONE
        dropped = {id(t) for t in [*join.queue, *join.running]}
        join.queue.clear()
        join.running.clear()
        join.remaining = 0
        if join.parent.join is not None:
            self.running_branches[key] = self.running_branches.get(key, 0) + 1  # the slot it gave up
        self.runnable = deque(t for t in self.runnable if id(t) not in dropped)
        self.threads = [t for t in self.threads if id(t) not in dropped]
        self.branch_gate = deque(j for j in self.branch_gate if j is not join)

    def stop_execution(self, execution: ExecutionHost) -> None:
        """An execution ended: stop its other threads and forget them (call under the lock).

        A thread whose generator is running right now (the execution was cancelled from a mock
        or from the server thread) is not closed: it is marked stopped and unwinds at its next
        step boundary or wait. Every other generator is closed, its timer or waiter dropped.
        """
        keep: list[WorkflowThread] = []
        for thread in self.threads:
            if thread.host is not execution:
                keep.append(thread)
                continue
            if thread.state is ThreadState.DONE:
                continue
            thread.stopped = True
            if thread is self.current:
                keep.append(thread)
                continue
            if thread.cleanup is not None:
                thread.cleanup()
                thread.cleanup = None
            if thread.gen is not None:
                try:
                    thread.gen.close()
                except Exception as exc:  # a finally block failed: keep it for the report
                    execution.record.internal_errors.append(exc)
            thread.state = ThreadState.DONE
        self.threads = keep
        self.runnable = deque(t for t in self.runnable if t.host is not execution)
        self.running_branches.pop(id(execution), None)
        self.branch_gate = deque(join for join in self.branch_gate if join.parent.host is not execution)

    # ------------------------------------------------------------------ time
    def advance_clock_to(self, target_ns: int) -> None:
        """Fire everything due up to ``target_ns`` instant by instant, running what each instant wakes."""
        with self.drive_lock:
            self._advance_clock_to(target_ns)

    def _advance_clock_to(self, target_ns: int) -> None:
        self.run_until_idle()
        while True:
            deadline = self.clock.next_deadline()
            if deadline is None or deadline > target_ns:
                break
            self.fire_instant(deadline)
            self.run_until_idle()
        with self.lock:
            if target_ns > self.clock.now_ns:
                self.clock.set_now_ns(target_ns)

    def fire_instant(self, deadline: int) -> None:
        """Move to ``deadline``; fire internal timers due then, then scheduled actions."""
        with self.lock:
            self.clock.set_now_ns(max(deadline, self.clock.now_ns))
            while (timer := self.clock.pop_due(self.clock.now_ns, user=False)) is not None:
                timer.action()
        self.run_due_actions()

    def run_due_actions(self) -> bool:
        """Run scheduled actions due now (outside the lock: they may send HTTP requests)."""
        ran = False
        while True:
            with self.lock:
                timer = self.clock.pop_due(self.clock.now_ns, user=True)
            if timer is None:
                return ran
            ran = True
            timer.action()

    def run_until_idle(self, stop: Callable[[], bool] | None = None, *, what: str = "") -> None:
        """Run threads until none can run (or ``stop()`` holds), never moving the clock.

        Called with ``what`` (a public entry: ``execute()``, ``run_until_idle()``) it is a drive
        of its own, bounded by ``real_time_budget``.
        """
        with self.budgeted(self.describe, what or "running until idle"), self.drive_lock:
            while True:
                if stop is not None and stop():
                    return
                if not self.run_one() and not self.run_due_actions():
                    return

    @contextmanager
    def budgeted(self, describe: Callable[[], str], what: str) -> Iterator[None]:
        """Give the drive under way ``real_time_budget`` wall seconds (nested drives share the outer one)."""
        if self.deadline is not None:
            yield
            return
        self.deadline = _walltime.monotonic() + self.settings.real_time_budget
        self._budget_what, self._budget_describe = what, describe
        try:
            yield
        finally:
            self.deadline = None

    def budget_error(self, thread: WorkflowThread | None) -> RealTimeBudgetExceeded:
        """The error of a drive out of wall time: where it was (step, file:line), steps run, virtual time."""
        budget = self.settings.real_time_budget
        offset = (self.clock.now_ns - self.clock.start_ns) / NS
        where = ""
        step_name = ""
        steps = 0
        if thread is not None:
            step = thread.step
            steps = thread.host.record.steps
            if step is not None:
                step_name = step.name
                where = f"; execution {thread.host.id} was at {step.loc.describe()} after {steps} steps"
        message = (f"{self._budget_what}: still running after {budget:g} s of wall time (real_time_budget){where}; "
                   f"virtual now is {self.format_ns(self.clock.now_ns)}. A workflow looping without end? "
                   "Raise real_time_budget if it really needs longer")
        return RealTimeBudgetExceeded(message, self._budget_describe(), step=step_name, steps=steps,
                                      virtual_seconds=offset)

    def drive(self, done: Callable[[], bool], describe: Callable[[], str], *, what: str) -> None:
        """Run, and move time when nothing else can, until ``done()``; raise DeadlockError when stuck."""
        self.warn_if_in_event_loop()
        with self.budgeted(describe, what):
            self._drive(done, describe, what)

    def _drive(self, done: Callable[[], bool], describe: Callable[[], str], what: str) -> None:
        stalled_since: float | None = None  # when the drive started waiting for in-flight requests only
        seen = -1
        while True:
            self.run_until_idle(done)
            if done():
                return
            force = False
            with self.lock:
                if self.runnable:
                    continue
                if self.inflight:
                    now = _walltime.monotonic()
                    if stalled_since is None or self.activity != seen:
                        stalled_since, seen = now, self.activity
                    if now - stalled_since < INFLIGHT_WAIT:
                        self.changed.wait(0.02)
                        self.check_budget()
                        continue
                    # A request held open (a sender that sent its headers and stalls on the body)
                    # must not freeze virtual time for every execution of the runtime.
                    force = True
                stalled_since = None
            self.step_instant(describe, what, force=force)
            self.check_budget()

    def warn_if_in_event_loop(self) -> None:
        """Warn (once per runtime) when a sync drive blocks an event loop that has other tasks to run."""
        if self._warned_event_loop:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        if not _other_tasks_alive():
            return
        self._warned_event_loop = True
        warnings.warn(
            "a blocking drive (result(), wait(), wait_for_callback()...) was called inside a running event loop "
            "while other tasks of the loop are pending: they cannot run until it returns (a service that should "
            "send a callback never does). Await the async twin instead: result_async(), wait_async(), "
            "wait_for_callback_async(), wait_until_awaiting_async()",
            RuntimeWarning, stacklevel=5,
        )

    def step_instant(self, describe: Callable[[], str], what: str, *, force: bool = False) -> None:
        """Jump the clock to the next pending timer and fire that instant (nothing else can run).

        ``force`` moves time even while callback requests are in flight (they stalled too long).
        """
        with self.drive_lock:
            self._step_instant(describe, what, force)

    def _step_instant(self, describe: Callable[[], str], what: str, force: bool = False) -> None:
        with self.lock:
            if self.runnable or (self.inflight and not force):
                return  # something can move without time: the caller's loop runs it first
            deadline = self.clock.next_deadline()
            if deadline is not None and self.clock.only_watchdogs_pending():
                # Only executions' duration limits are left: every thread waits for something
                # no timer, request or branch will ever bring.
                raise DeadlockError(
                    f"{what}: every thread waits for something that will never happen (the only timer left "
                    f"is an execution's duration limit, at {self.format_ns(deadline)})",
                    describe(),
                )
            if deadline is None:
                raise DeadlockError(
                    f"{what}: nothing can run and no timer is pending at {self.format_ns(self.clock.now_ns)}; "
                    "every thread waits for something that will never happen",
                    describe(),
                )
            if not (self.settings.auto_advance and self.clock.auto_advance_enabled):
                raise DeadlockError(
                    f"{what}: nothing can run until the timer at {self.format_ns(deadline)}, and auto-advance "
                    "is off; move the clock with runtime.clock.advance(...) or advance_to(...)",
                    describe(),
                )
        self.fire_instant(deadline)

    def check_budget(self) -> None:
        """Raise `RealTimeBudgetExceeded` when the drive under way is past its wall-clock deadline."""
        deadline = self.deadline
        if deadline is not None and _walltime.monotonic() > deadline:
            raise self.budget_error(None)

    def request_started(self) -> None:
        """A callback request is being handled on a server thread (no kernel lock needed)."""
        with self._inflight_lock:
            self.inflight += 1

    def request_finished(self) -> None:
        """The request was answered (call under the kernel lock: it notifies waiting drives)."""
        with self._inflight_lock:
            self.inflight -= 1
        self.activity += 1
        self.changed.notify_all()


async def drive_async(kernel: Kernel, done: Callable[[], bool], describe: Callable[[], str], what: str,
                      settle: float) -> None:
    """The async drive: interpreter work runs in a worker thread so the event loop keeps running.

    Virtual time moves only when nothing in the runtime can run, no callback request is being
    handled, and the event loop has had turns with nothing happening: when other tasks are
    alive on the loop (an async service that may be about to send a callback), the drive
    first waits up to ``async_settle`` wall seconds for activity (a request answered, a
    thread woken) and does not move time if there was any.
    """
    with kernel.budgeted(describe, what):
        await _drive_async(kernel, done, describe, what, settle)


async def _drive_async(kernel: Kernel, done: Callable[[], bool], describe: Callable[[], str], what: str,
                       settle: float) -> None:
    while True:
        await asyncio.to_thread(kernel.run_until_idle, done)
        if done():
            return
        before = kernel.activity
        for _ in range(3):
            await asyncio.sleep(0)
        if _other_tasks_alive() and settle > 0:
            # Quiet means: no activity for `settle` wall seconds AND over enough loop turns,
            # so a task that holds the loop for a while (building an SSL context, say) still
            # gets its turns before virtual time moves. A thread woken after `run_until_idle`
            # returned and before `before` was read (a callback delivered from the server
            # thread in that window) shows as runnable, not as new activity: waiting for
            # activity then would wait out the whole settle with work ready to run.
            quiet_from = _walltime.monotonic()
            turns = 0
            while kernel.activity == before and not kernel.inflight and not kernel.runnable:
                await asyncio.sleep(0.002)
                turns += 1
                if turns >= 10 and _walltime.monotonic() - quiet_from >= settle:
                    break
                kernel.check_budget()  # a settle longer than the budget still ends within it
        with kernel.lock:
            quiet = not kernel.runnable and not kernel.inflight and kernel.activity == before
        if quiet:
            await asyncio.to_thread(kernel.step_instant, describe, what)
        elif kernel.inflight:
            await asyncio.sleep(0.001)
        kernel.check_budget()


def _other_tasks_alive() -> bool:
    current = asyncio.current_task()
    return any(task is not current and not task.done() for task in asyncio.all_tasks())

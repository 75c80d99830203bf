"""VirtualClock: the one clock of a runtime.

Time is an integer count of nanoseconds since the Unix epoch, so sums of
delays never drift. Nothing here reads real time. Timers are kept in a heap
ordered by (deadline, creation order); at one instant they fire in deadline
order, then in the order they were set.

Two kinds of timers exist:

* *internal* timers (a ``sys.sleep`` ending, an ``await_callback`` timing out,
  a retry backoff) wake interpreter threads and run under the runtime lock;
* *actions* (`WorkflowRuntime.at`, ``after``, `Callback.send_after`) run test
  code, outside the lock, after the internal timers of the same instant.

Moving time is the runtime's job: `advance` and `advance_to` ask the owning
runtime to fire what is due instant by instant and to run the threads each
instant wakes, so ``clock.advance(3600)`` behaves like an hour passing.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from .errors import ClockBackwardsError

NS = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def format_duration(seconds: float) -> str:
    """A virtual duration or offset to read: ``0s``, ``1.5s``, ``2m 30s``, ``3h``, ``69d 10h``.

    Two units at most: exact enough to tell instants apart in a report, short enough to scan
    (``t+6e+06s`` says nothing to a reader). Every place that prints a virtual offset uses it.
    """
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 60:
        text = f"{seconds:.3f}".rstrip("0").rstrip(".")
        return f"{text}s"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    shown = [f"{n}{unit}" for n, unit in parts if n]
    return " ".join(shown[:2])


#: ``format_duration`` under the name the scheduler's reports use for offsets since the start.
format_offset = format_duration


def ns_to_datetime(ns: int) -> datetime:
    """Aware UTC datetime for an epoch-nanosecond instant (microsecond resolution)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


def datetime_to_ns(when: datetime) -> int:
    """Epoch nanoseconds of an aware datetime."""
    if when.tzinfo is None:
        raise ValueError("use a timezone-aware datetime (e.g. tzinfo=timezone.utc)")
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS + delta.microseconds * 1000


def seconds_to_ns(seconds: float) -> int:
    """Nanoseconds for a (possibly fractional) number of seconds, rounded to the nearest ns."""
    return round(seconds * NS) if isinstance(seconds, float) else int(seconds) * NS


@dataclass(order=True)
class Timer:
    """A pending timer; `cancel` it to drop it."""

    deadline: int
    seq: int
    action: Callable[[], Any] = field(compare=False)
    user: bool = field(default=False, compare=False)
    label: str = field(default="", compare=False)
    #: A limit that only matters if nothing else ever happens (an execution's duration limit).
    watchdog: bool = field(default=False, compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        """Drop this timer; it will never fire."""
        self.cancelled = True


class ClockDriver(Protocol):
    """The runtime side of the clock: moves time instant by instant."""

    def advance_clock_to(self, deadline_ns: int) -> None:
        """Fire everything due up to ``deadline_ns`` and run what it wakes."""
        ...


class VirtualClock:
    """A runtime's virtual clock: ``now``, ``time``, ``advance``, ``advance_to``, timers."""

    def __init__(self, start_time: datetime, driver: ClockDriver | None = None) -> None:
        self._start_ns = datetime_to_ns(start_time)
        self._now_ns = self._start_ns
        self._timers: list[Timer] = []
        self._seq = itertools.count()
        self._driver = driver
        self._auto_disabled = 0

    # ------------------------------------------------------------------ reading
    def now(self) -> datetime:
        """Virtual now as an aware UTC datetime."""
        return ns_to_datetime(self._now_ns)

    def time(self) -> float:
        """Virtual now in seconds since the Unix epoch (what ``sys.now()`` returns)."""
        return self._now_ns / NS

    @property
    def now_ns(self) -> int:
        """Virtual now in epoch nanoseconds."""
        return self._now_ns

    @property
    def start_ns(self) -> int:
        """The instant this clock started at."""
        return self._start_ns

    @property
    def elapsed(self) -> float:
        """Virtual seconds since the clock started."""
        return (self._now_ns - self._start_ns) / NS

    @property
    def auto_advance_enabled(self) -> bool:
        """False inside `auto_advance_disabled`."""
        return self._auto_disabled == 0

    # ------------------------------------------------------------------ moving
    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds``, firing due timers in order and running what they wake."""
        if seconds < 0:
            raise ClockBackwardsError(f"the clock cannot go backwards (advance({seconds})): it only moves forward; "
                                      "start a new runtime (or set start_time) for an earlier instant")
        self._advance_to_ns(self._now_ns + seconds_to_ns(seconds))

    def advance_to(self, when: datetime | float) -> None:
        """Move forward to an instant (aware datetime or epoch seconds); never backwards."""
        target = datetime_to_ns(when) if isinstance(when, datetime) else seconds_to_ns(float(when))
        if target < self._now_ns:
            raise ClockBackwardsError(
                f"the clock cannot go backwards: now is {self.now().isoformat()}, asked for "
                f"{ns_to_datetime(target).isoformat()}"
            )
        self._advance_to_ns(target)

    def _advance_to_ns(self, target: int) -> None:
        if self._driver is not None:
            self._driver.advance_clock_to(target)
        else:
            while (timer := self.pop_due(target)) is not None:
                self._now_ns = max(self._now_ns, timer.deadline)
                timer.action()
        self._now_ns = max(self._now_ns, target)

    def set_now_ns(self, ns: int) -> None:
        """Move to an instant (used by the runtime's drive loop); never backwards."""
        if ns < self._now_ns:
            raise ClockBackwardsError("the clock cannot go backwards")
        self._now_ns = ns

    @contextmanager
    def auto_advance_disabled(self) -> Iterator[None]:
        """Within the block, drives never move time by themselves: only `advance` does."""
        self._auto_disabled += 1
        try:
            yield
        finally:
            self._auto_disabled -= 1

    # ------------------------------------------------------------------ timers
    def call_at(self, deadline_ns: int, action: Callable[[], Any], *, user: bool = False, label: str = "",
                watchdog: bool = False) -> Timer:
        """Set a timer; a deadline in the past fires at the next opportunity (now)."""
        timer = Timer(max(deadline_ns, self._now_ns), next(self._seq), action, user, label, watchdog=watchdog)
        heapq.heappush(self._timers, timer)
        return timer

    def call_later(self, seconds: float, action: Callable[[], Any], *, user: bool = False, label: str = "") -> Timer:
        """Set a timer ``seconds`` from now."""
        return self.call_at(self._now_ns + seconds_to_ns(seconds), action, user=user, label=label)

    def next_deadline(self) -> int | None:
        """The earliest live timer's deadline, or None."""
        timers = self._timers
        while timers and timers[0].cancelled:
            heapq.heappop(timers)
        return timers[0].deadline if timers else None

    def pop_due(self, up_to_ns: int, *, user: bool | None = None) -> Timer | None:
        """Remove and return the earliest live timer due at or before ``up_to_ns`` (optionally of one kind)."""
        timers = self._timers
        while timers and timers[0].cancelled:
            heapq.heappop(timers)
        if not timers or timers[0].deadline > up_to_ns:
            return None
        if user is None or timers[0].user == user:
            return heapq.heappop(timers)
        # Look for the earliest of the requested kind at that instant.
        candidates = sorted(t for t in timers if not t.cancelled and t.deadline <= up_to_ns and t.user == user)
        if not candidates:
            return None
        chosen = candidates[0]
        timers.remove(chosen)
        heapq.heapify(timers)
        return chosen

    def only_watchdogs_pending(self) -> bool:
        """True when every live timer is a watchdog (and there is at least one)."""
        live = [t for t in self._timers if not t.cancelled]
        return bool(live) and all(t.watchdog for t in live)

    def pending(self) -> list[Timer]:
        """Live timers in firing order."""
        return sorted(t for t in self._timers if not t.cancelled)

    def __repr__(self) -> str:
        return f"<VirtualClock now={self.now().isoformat()} timers={len(self.pending())}>"

"""VirtualClock: reading, moving, timers, refusal to go backwards."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from pytest_wfcallbacks import ClockBackwardsError, VirtualClock, WfCallbacksError
from pytest_wfcallbacks.settings import DEFAULT_START_TIME

START = datetime(2030, 5, 6, 7, 8, 9, tzinfo=timezone.utc)


def test_clock_reads_the_start_time() -> None:
    clock = VirtualClock(START)
    assert clock.now() == START
    assert clock.time() == START.timestamp()
    assert clock.elapsed == 0


def test_advance_fires_timers_in_deadline_then_creation_order() -> None:
    clock = VirtualClock(START)
    fired: list[tuple[str, float]] = []
    clock.call_later(5, lambda: fired.append(("b", clock.elapsed)))
    clock.call_later(2, lambda: fired.append(("a", clock.elapsed)))
    clock.call_later(5, lambda: fired.append(("c", clock.elapsed)))
    clock.call_later(9, lambda: fired.append(("late", clock.elapsed)))
    clock.advance(5)
    assert fired == [("a", 2.0), ("b", 5.0), ("c", 5.0)]
    assert clock.elapsed == 5


def test_cancelled_timers_never_fire() -> None:
    clock = VirtualClock(START)
    fired: list[str] = []
    timer = clock.call_later(1, lambda: fired.append("x"))
    timer.cancel()
    clock.advance(2)
    assert fired == []
    assert clock.next_deadline() is None


def test_clock_refuses_to_go_backwards() -> None:
    clock = VirtualClock(START)
    clock.advance(10)
    with pytest.raises(WfCallbacksError, match="backwards"):
        clock.advance_to(START)
    with pytest.raises(WfCallbacksError, match="backwards"):
        clock.advance(-1)


def test_going_backwards_is_a_clock_backwards_error_that_is_also_a_value_error() -> None:
    """The convention of trio's and time-machine's clocks: a ValueError; ours is also a WfCallbacksError."""
    clock = VirtualClock(START)
    clock.advance(10)
    with pytest.raises(ValueError, match=r"advance\(-1\)"):
        clock.advance(-1)
    with pytest.raises(ClockBackwardsError, match="now is 2030-05-06T07:08:19"):
        clock.advance_to(START)
    with pytest.raises(ClockBackwardsError):
        clock.advance_to(START.timestamp() + 9.5)
    assert issubclass(ClockBackwardsError, WfCallbacksError)
    assert issubclass(ClockBackwardsError, ValueError)
    assert clock.now() == START + timedelta(seconds=10)  # a refused move leaves the clock where it was
    clock.advance(0)  # zero is no move backwards
    clock.advance_to(START + timedelta(seconds=10))  # nor is now
    assert clock.now() == START + timedelta(seconds=10)


def test_the_runtime_clock_raises_it_too(workflow_runtime) -> None:
    workflow_runtime.clock.advance(5)
    with pytest.raises(ValueError, match="backwards"):
        workflow_runtime.clock.advance_to(workflow_runtime.settings.start_time)


def test_advance_to_accepts_datetimes_and_epoch_seconds() -> None:
    clock = VirtualClock(START)
    clock.advance_to(START + timedelta(hours=1))
    assert clock.elapsed == 3600
    clock.advance_to(START.timestamp() + 7200.5)
    assert clock.elapsed == 7200.5


def test_nanosecond_arithmetic_does_not_drift() -> None:
    clock = VirtualClock(START)
    for _ in range(1000):
        clock.advance(0.001)
    assert clock.elapsed == 1.0


def test_auto_advance_disabled_is_reentrant() -> None:
    clock = VirtualClock(START)
    with clock.auto_advance_disabled():
        with clock.auto_advance_disabled():
            assert not clock.auto_advance_enabled
        assert not clock.auto_advance_enabled
    assert clock.auto_advance_enabled


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        VirtualClock(datetime(2030, 1, 1))


def test_default_start_time_is_documented_instant() -> None:
    assert datetime(2026, 1, 1, tzinfo=timezone.utc) == DEFAULT_START_TIME

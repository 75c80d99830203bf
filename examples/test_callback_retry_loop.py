"""Await with retries: a custom predicate retries TimeoutError up to 5 times with backoff 1, 2, 4, 8, 10 s."""

from __future__ import annotations

from pathlib import Path

from pytest_wfcallbacks import EventKind


def test_retries_are_exhausted_after_six_waits_and_the_backoff(workflow_runtime, workflows: Path) -> None:
    execution = workflow_runtime.execute(workflows / "callback_retry_loop.yaml")

    assert execution.result() == "no callback received"
    # six 60 s waits (the first attempt and 5 retries) plus the backoff between them
    assert execution.duration == 6 * 60 + (1 + 2 + 4 + 8 + 10)
    retries = [e for e in execution.history if e.kind is EventKind.RETRY]
    assert [e.delay for e in retries] == [1.0, 2.0, 4.0, 8.0, 10.0]
    assert len(execution.logs) == 5  # the predicate logged each retried timeout


def test_a_callback_during_the_third_attempt_rescues_the_loop(workflow_runtime, workflows: Path) -> None:
    execution = workflow_runtime.execute(workflows / "callback_retry_loop.yaml")
    callback = execution.wait_for_callback()
    # attempt 1: t=0..60, backoff 1; attempt 2: t=61..121, backoff 2; attempt 3 starts at t=123
    callback.send_after(150, json={"status": "shipped"})

    assert execution.result() == {"status": "shipped"}
    assert execution.duration == 150.0
    assert len(execution.logs) == 2

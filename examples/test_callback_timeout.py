"""A callback that may never come: the workflow catches the TimeoutError and reports it."""

from __future__ import annotations

from pathlib import Path

from pytest_wfcallbacks import SlotState, assert_slot_state


def test_timeout_is_caught_in_virtual_time(workflow_runtime, workflows: Path) -> None:
    execution = workflow_runtime.execute(workflows / "callback_timeout.yaml")
    callback = execution.wait_for_callback()

    assert execution.result() == "timed out"
    assert workflow_runtime.clock.elapsed == 3600.0  # one virtual hour, no wall time
    assert execution.logs[0].severity == "WARNING"
    assert "TimeoutError" in execution.logs[0].payload
    assert_slot_state(callback, SlotState.CLOSED)


def test_callback_one_second_before_the_timeout_wins(workflow_runtime, workflows: Path) -> None:
    execution = workflow_runtime.execute(workflows / "callback_timeout.yaml")
    callback = execution.wait_for_callback()
    callback.send_after(3599, json={"decision": "approved"})

    assert execution.result() == {"decision": "approved"}
    assert execution.duration == 3599.0


def test_callback_one_second_after_the_timeout_is_too_late(workflow_runtime, workflows: Path) -> None:
    execution = workflow_runtime.execute(workflows / "callback_timeout.yaml")
    callback = execution.wait_for_callback()
    callback.send_after(3601, json={"decision": "approved"})

    assert execution.result() == "timed out"
    workflow_runtime.clock.advance(10)  # the scheduled send runs at t+3601s: the execution is gone
    assert callback.responses == [404]

"""Ten parallel iterations await the same endpoint; requests are served in await order."""

from __future__ import annotations

from pathlib import Path

from pytest_wfcallbacks import SlotState, assert_branch_order, assert_callback_response, assert_slot_state


def test_ten_waiters_are_served_then_one_stored_then_rejected(workflow_runtime, workflows: Path) -> None:
    execution = workflow_runtime.execute(workflows / "parallel_callbacks.yaml")
    callback = execution.wait_for_callback()
    execution.wait_until_awaiting(callback)
    assert_slot_state(callback, SlotState.WAITING, waiters=10)

    for n in range(10):
        assert_callback_response(callback.send(json={"n": n}), 200)
    assert_slot_state(callback, SlotState.EMPTY, waiters=0)
    assert_callback_response(callback.send(json={"n": 10}), 200)  # stored: one free slot
    assert_slot_state(callback, SlotState.FILLED, available_payloads=1)
    assert_callback_response(callback.send(json={"n": 11}), 429)  # filled and nobody waits

    received = execution.result()
    # awaits are served in the order their await_callback calls were made: worker 1 first
    assert [item["worker"] for item in received] == list(range(1, 11))
    assert [item["body"] for item in received] == [{"n": n} for n in range(10)]
    assert_branch_order(execution, "await_one", list(range(1, 11)))
    assert_callback_response(callback.send(json={}), 404)  # the execution is over

"""An approval step: the workflow waits on a GET callback; the approver's service calls it."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from pytest_wfcallbacks import SlotState, assert_callback_response, assert_slot_state


@pytest.mark.parametrize("definition", ["basic_callback.yaml", "basic_callback.json"])
def test_approval_is_delivered(workflow_runtime, workflows: Path, definition: str) -> None:
    execution = workflow_runtime.execute(workflows / definition)
    callback = execution.wait_for_callback()
    assert callback.method == "GET"
    assert_slot_state(callback, SlotState.WAITING, waiters=1)

    response = httpx.get(callback.url, params={"approved": "yes"})  # real HTTP on 127.0.0.1

    assert_callback_response(response, 200)
    assert response.json() == {}
    request = execution.result()
    assert request["method"] == "GET"
    assert request["query"] == {"approved": ["yes"]}
    assert request["url"].endswith("?approved=yes")
    assert [entry.severity for entry in execution.logs] == ["INFO", "INFO"]


def test_one_request_is_stored_and_the_next_is_rejected(workflow_runtime, workflows: Path) -> None:
    execution = workflow_runtime.execute(workflows / "basic_callback.yaml")
    callback = execution.wait_for_callback()  # the workflow now waits in await_callback
    first = callback.send(query={"n": "1"})   # delivered to the waiting await
    second = callback.send(query={"n": "2"})  # nobody waits: stored in the endpoint's free slot
    third = callback.send(query={"n": "3"})   # slot filled and nobody waits: rejected
    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 429]
    assert third.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert execution.result()["query"] == {"n": ["1"]}
    assert callback.responses == [200, 200, 429]


def test_wrong_method_and_finished_execution_get_404(workflow_runtime, workflows: Path) -> None:
    execution = workflow_runtime.execute(workflows / "basic_callback.yaml")
    callback = execution.wait_for_callback()
    assert_callback_response(httpx.post(callback.url, json={}), 404)
    assert callback.send().status_code == 200
    execution.result()
    late = callback.send()
    assert_callback_response(late, 404)
    assert "SUCCEEDED" in late.json()["error"]["message"]  # the message says why: the execution ended
    assert callback.slot_state is SlotState.CLOSED


def test_no_callback_means_timeout_in_virtual_time(workflow_runtime, workflows: Path) -> None:
    execution = workflow_runtime.execute(workflows / "basic_callback.yaml")
    execution.wait()
    assert execution.state == "FAILED"
    assert "TimeoutError" in execution.error["tags"]
    assert execution.duration == 3600.0

"""Callback endpoints as a test uses them: methods, several endpoints, loops, isolation, the send helpers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from pytest_wfcallbacks import EventKind, SlotState, WorkflowRuntime
from pytest_wfcallbacks.callbacks import canonical_header_name, go_time_string, status_name

AWAIT_ONE = """
main:
  params: [args]
  steps:
    - create:
        call: events.create_callback_endpoint
        args:
          http_callback_method: ${args.method}
        result: cb
    - wait:
        call: events.await_callback
        args:
          callback: ${cb}
          timeout: 3600
        result: request
    - done:
        return:
          method: ${request.http_request.method}
          body: ${request.http_request.body}
"""

LOOP = """
main:
  params: [args]
  steps:
    - create:
        call: events.create_callback_endpoint
        result: cb
    - init:
        assign:
          - got: []
    - loop:
        for:
          value: i
          range: [1, 3]
          steps:
            - wait:
                call: events.await_callback
                args:
                  callback: ${cb}
                  timeout: 60
                result: request
            - keep:
                assign:
                  - got: ${list.concat(got, request.http_request.body)}
    - done:
        return: ${got}
"""


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_every_method_is_accepted_on_its_own_endpoint(workflow_runtime: WorkflowRuntime, method: str) -> None:
    execution = workflow_runtime.execute(AWAIT_ONE, {"method": method})
    callback = execution.wait_for_callback()
    assert callback.method == method
    wrong = "PATCH" if method != "PATCH" else "PUT"
    assert callback.send(method=wrong).status_code == 404
    response = callback.send()
    assert response.status_code == 200
    if method == "HEAD":
        assert response.content == b""  # HEAD answers without a body
    else:
        assert response.json() == {}
    assert execution.result() == {"method": method, "body": None}


def test_head_errors_have_no_body_either(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(AWAIT_ONE, {"method": "HEAD"})
    callback = execution.wait_for_callback()
    callback.send()
    callback.send()  # stored
    response = callback.send()
    assert response.status_code == 429
    assert response.content == b""
    assert response.headers["content-type"] == "application/json"


def test_several_endpoints_in_one_execution_are_independent(workflow_runtime: WorkflowRuntime) -> None:
    source = """
main:
  steps:
    - make_a:
        call: events.create_callback_endpoint
        args: {http_callback_method: "POST"}
        result: a
    - make_b:
        call: events.create_callback_endpoint
        args: {http_callback_method: "PUT"}
        result: b
    - wait_b:
        call: events.await_callback
        args: {callback: "${b}", timeout: 60}
        result: rb
    - wait_a:
        call: events.await_callback
        args: {callback: "${a}", timeout: 60}
        result: ra
    - done:
        return: ["${ra.http_request.body}", "${rb.http_request.body}"]
"""
    execution = workflow_runtime.execute(source)
    first, second = execution.wait_for_callback(), execution.wait_for_callback()
    assert first.url != second.url
    assert [c.id for c in execution.callbacks] == [first.id, second.id]
    assert first.slot_state is SlotState.EMPTY
    assert second.slot_state is SlotState.WAITING
    assert first.send("to a").status_code == 200  # stored in a's slot, b still waits
    assert second.slot_state is SlotState.WAITING
    assert first.send("again a").status_code == 429
    assert second.send("to b", method="PUT").status_code == 200
    assert execution.result() == ["to a", "to b"]


def test_the_same_endpoint_awaited_in_a_loop(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(LOOP)
    callback = execution.wait_for_callback()
    for index in range(3):
        execution.wait_until_awaiting(callback)
        assert callback.send(f"#{index}").status_code == 200
        execution.run_until_idle()
    assert execution.result() == ["#0", "#1", "#2"]
    assert callback.responses == [200, 200, 200]
    assert [r.outcome for r in callback.requests] == ["delivered"] * 3


def test_a_loop_takes_stored_payloads_one_by_one(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(LOOP)
    callback = execution.wait_for_callback()
    # the first await is waiting: one delivered, one stored, the rest rejected
    assert [callback.send(f"#{i}").status_code for i in range(3)] == [200, 200, 429]
    execution.run_until_idle()  # the loop takes the stored one and waits again
    assert callback.slot_state is SlotState.WAITING
    assert callback.send("#2").status_code == 200
    assert execution.result() == ["#0", "#1", "#2"]


def test_callbacks_never_cross_executions(workflow_runtime: WorkflowRuntime) -> None:
    one = workflow_runtime.execute(AWAIT_ONE, {"method": "POST"})
    two = workflow_runtime.execute(AWAIT_ONE, {"method": "POST"})
    cb_one, cb_two = one.wait_for_callback(), two.wait_for_callback()
    assert cb_one.id != cb_two.id
    # the other execution's id with this callback id: unknown there
    crossed = cb_one.url.replace(one.id, two.id)
    client = workflow_runtime._http_client()
    assert client.post(crossed, json="x").status_code == 404
    assert cb_two.slot_state is SlotState.WAITING
    assert cb_one.send("for one").status_code == 200
    assert cb_two.slot_state is SlotState.WAITING
    assert cb_two.send("for two").status_code == 200
    assert one.result()["body"] == "for one"
    assert two.result()["body"] == "for two"


def test_awaiting_another_executions_callback_is_a_value_error(workflow_runtime: WorkflowRuntime) -> None:
    owner = workflow_runtime.execute(AWAIT_ONE, {"method": "POST"})
    callback = owner.wait_for_callback()
    thief = workflow_runtime.execute("""
main:
  params: [cb]
  steps:
    - wait:
        call: events.await_callback
        args: {callback: "${cb}", timeout: 10}
        result: r
""", {"url": callback.url})
    thief.wait()
    assert thief.state == "FAILED"
    assert "ValueError" in thief.error["tags"]
    assert "another execution" in thief.error["message"]
    assert callback.waiters == 1


def test_responses_and_history_record_every_request(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(AWAIT_ONE, {"method": "POST"})
    callback = execution.wait_for_callback()
    workflow_runtime.clock.advance(5)
    callback.send("a")
    callback.send("b", method="GET")
    callback.send("c")
    callback.send("d")
    assert callback.responses == [200, 404, 200, 429]
    assert [(r.outcome, r.method) for r in callback.requests] == [
        ("delivered", "POST"), ("bad-method", "GET"), ("stored", "POST"), ("rejected", "POST")]
    assert all(r.time == workflow_runtime.clock.now() for r in callback.requests)
    answered = [e for e in execution.history if e.kind is EventKind.CALLBACK_REQUEST]
    assert [(e.status, e.outcome, e.callback_id) for e in answered] == [
        (200, "delivered", callback.id), (404, "bad-method", callback.id), (200, "stored", callback.id),
        (429, "rejected", callback.id)]
    assert all(e.time == workflow_runtime.clock.now() for e in answered)
    delivered = [e for e in execution.history if e.kind is EventKind.CALLBACK_DELIVERED]
    assert len(delivered) == 1
    assert delivered[0].step == "wait"


# ---------------------------------------------------------------- send helpers
def test_send_is_real_http(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(AWAIT_ONE, {"method": "PUT"})
    callback = execution.wait_for_callback()
    response = callback.send(json={"ok": True}, headers={"X-Sent-By": "test"}, query={"q": "1"})
    assert isinstance(response, httpx.Response)
    assert response.request.method == "PUT"
    assert str(response.request.url).startswith(callback.url)
    assert response.headers["server"].startswith("Werkzeug")  # it went through the loopback server
    assert execution.result() == {"method": "PUT", "body": {"ok": True}}


def test_send_body_kinds(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(LOOP)
    callback = execution.wait_for_callback()
    callback.send(b"raw")  # bytes: sent as is, no content type → bytes in the workflow... stored below
    execution.run_until_idle()
    callback.send("text")
    execution.run_until_idle()
    callback.send(data={"field": "v"})
    execution.wait()
    assert execution.state == "FAILED"  # bytes bodies cannot be returned as the result: proves they stayed bytes
    assert "bytes" in execution.error["message"]
    assert callback.responses == [200, 200, 200]


def test_send_rejects_body_and_json_together(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(AWAIT_ONE, {"method": "POST"})
    callback = execution.wait_for_callback()
    with pytest.raises(TypeError, match="either a body or json"):
        callback.send("x", json={"y": 1})
    assert callback.responses == []


def test_send_async(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(AWAIT_ONE, {"method": "POST"})
    callback = execution.wait_for_callback()

    async def scenario() -> Any:
        response = await callback.send_async({"async": True})
        assert response.status_code == 200
        return await execution.result_async()

    assert asyncio.run(scenario()) == {"method": "POST", "body": {"async": True}}
    assert callback.requests[0].outcome == "delivered"


def test_send_after_fires_on_the_virtual_timeline(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute("""
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        result: cb
    - wait:
        call: events.await_callback
        args: {callback: "${cb}", timeout: 100}
        result: request
    - done:
        return: ${sys.now()}
""")
    callback = execution.wait_for_callback()
    callback.send_after(30, {"late": True})
    assert callback.responses == []
    started = workflow_runtime.clock.time()
    finished_at = execution.result()
    assert finished_at - started == pytest.approx(30)
    assert callback.responses == [200]
    assert callback.requests[0].time.timestamp() == pytest.approx(started + 30)


def test_send_after_past_the_timeout_is_too_late(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute(AWAIT_ONE, {"method": "POST"})
    callback = execution.wait_for_callback()
    callback.send_after(4000, "too late")  # the await times out at 3600
    execution.wait()
    assert execution.state == "FAILED"
    assert "TimeoutError" in execution.error["tags"]
    workflow_runtime.clock.advance(500)
    assert callback.responses == [404]


def test_send_on_await_sends_when_the_await_starts(workflow_runtime: WorkflowRuntime) -> None:
    execution = workflow_runtime.execute("""
main:
  steps:
    - create:
        call: events.create_callback_endpoint
        result: cb
    - first:
        call: sys.sleep
        args: {seconds: 50}
    - wait:
        call: events.await_callback
        args: {callback: "${cb}", timeout: 10}
        result: request
    - done:
        return: ${request.http_request.body}
""")
    callback = execution.wait_for_callback()
    callback.send_on_await({"on": "await"})
    assert callback.responses == []  # nothing sent before the await starts
    assert execution.result() == {"on": "await"}
    assert [r.outcome for r in callback.requests] == ["delivered"]
    assert callback.requests[0].time == execution.end_time


# ---------------------------------------------------------------- small pure helpers
def test_go_time_string_shapes() -> None:
    ns = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
    assert go_time_string(ns, ns) == "2026-01-01 00:00:00 +0000 UTC m=+0.000000000"
    assert go_time_string(ns + 1, ns) == "2026-01-01 00:00:00.000000001 +0000 UTC m=+0.000000001"
    assert go_time_string(ns + 12 * 10**9 + 120_000_000, ns) == "2026-01-01 00:00:12.12 +0000 UTC m=+12.120000000"


def test_status_names_and_header_names() -> None:
    assert [status_name(c) for c in (400, 401, 403, 404, 413, 429, 500, 418)] == [
        "INVALID_ARGUMENT", "UNAUTHENTICATED", "PERMISSION_DENIED", "NOT_FOUND", "INVALID_ARGUMENT",
        "RESOURCE_EXHAUSTED", "INTERNAL", "INVALID_ARGUMENT"]
    assert canonical_header_name("content-type") == "Content-Type"
    assert canonical_header_name("X-API-KEY") == "X-Api-Key"
    assert canonical_header_name("odd name") == "odd name"
